/** Owns sending the elector's Lease requests: deadline-bounded, guarantee-checked, reported to the observer, failures logged with throttling. */
import { notify } from './callbacks.js';
import type { Clock } from './clock.js';
import {
  LeaseKitError,
  NetworkError,
  RequestTimeoutError,
  describeError,
  isApiError,
  isForbidden,
  type ApiErrorReason,
} from './errors.js';
import type { SafeLogger } from './logger.js';
import type { ElectorObserver, RequestPurpose } from './observer.js';
import { boundedSignal, raceAbort } from './request.js';

/** Repeated identical request failures are logged at warn level at most once per this interval. */
export const FAILURE_LOG_INTERVAL_MS = 30_000;

export interface LeaseRequestsOptions {
  readonly clock: Clock;
  readonly log: SafeLogger;
  readonly config: { readonly observer?: ElectorObserver | undefined; readonly leaseNamespace: string };
  /**
   * The lease guarantee check (false, after aborting the leadership signal, when it ran out).
   * Called before a renewal is sent and after every answer.
   */
  guaranteeHolds(): boolean;
}

/** The elector's requests and their failure log. */
export class LeaseRequests {
  /** The failure last logged, when, and how many identical ones were not logged since. */
  private failureLog = { key: '', atMs: -Infinity, suppressed: 0 };
  /** Errors of requests that the caller's stop signal cut short (not failures; see send). */
  private readonly cancelled = new WeakSet<Error>();

  constructor(private readonly options: LeaseRequestsOptions) {}

  /**
   * Sends one request for `purpose`, aborted at `deadlineMs` (monotonic) or when `stop` aborts,
   * and no longer awaited after that even if the client ignores its signal. A renewal is never
   * sent past the guarantee. Resolves with the answer (which must be an object); rejects with a
   * LeaseKitError (an ApiError, RequestTimeoutError or NetworkError). Either way the observer
   * hears of it; one that `stop` cut short is reported as cancelled, not as a failure, and
   * {@link reportFailure} only logs it at debug level.
   */
  async send<T>(
    purpose: RequestPurpose,
    verb: 'get' | 'create' | 'update',
    deadlineMs: number,
    stop: AbortSignal | undefined,
    send: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const { clock, log, config } = this.options;
    // Never send a renewal past the guarantee (e.g. right after a pause): step down instead.
    if (purpose === 'renew' && !this.options.guaranteeHolds()) {
      throw new LeaseKitError('LEADERSHIP_LOST', 'lease guarantee expired before the renewal could be sent');
    }
    const start = clock.now();
    const bounded = boundedSignal(clock, deadlineMs - start, stop);
    try {
      const result = await raceAbort(Promise.resolve().then(() => send(bounded.signal)), bounded.signal);
      this.options.guaranteeHolds(); // an answer handled after a pause: the signal first
      if (typeof result !== 'object' || result === null || Array.isArray(result)) {
        // A 200 with a null or non-object body is no Lease: a failed request, never a crash.
        throw new NetworkError(`${verb} answered with ${result === null ? 'null' : typeof result} instead of a Lease object`);
      }
      notify(log, () => config.observer?.onRequest?.({ purpose, verb, durationMs: clock.now() - start }));
      return result;
    } catch (err) {
      const guaranteed = this.options.guaranteeHolds();
      let normalised = normaliseError(err);
      // A renewal's stop also aborts when the guarantee runs out: that is a renewal the API server
      // did not answer in time, a timed-out request like any other, not a stop.
      const outran = purpose === 'renew' && !guaranteed;
      if (outran && normalised.constructor === LeaseKitError) {
        // Cut by the term's end (the guard aborted the signal with LEADERSHIP_LOST): a timeout.
        normalised = new RequestTimeoutError('no answer before the lease guarantee ran out', { cause: normalised });
      }
      if (stop?.aborted && !isApiError(normalised) && !outran) {
        // Cut short by the caller's stop: no answer and no failure of the API server. The
        // observer hears of it as cancelled (no error reason), the failure log not at all.
        this.cancelled.add(normalised);
        notify(log, () => config.observer?.onRequest?.({ purpose, verb, durationMs: clock.now() - start, cancelled: true }));
        throw normalised;
      }
      notify(log, () => config.observer?.onRequest?.({ purpose, verb, durationMs: clock.now() - start, errorReason: errorReasonOf(normalised) }));
      throw normalised;
    } finally {
      bounded.dispose();
    }
  }

  /**
   * Logs a failed request: a new kind of failure at once (error level for 403, else warn), the
   * same failure again at warn level at most once per FAILURE_LOG_INTERVAL_MS, with the number of
   * repeats in between.
   */
  reportFailure(verb: string, err: unknown): void {
    const { clock, log, config } = this.options;
    if (err instanceof Error && this.cancelled.has(err)) {
      log.debug('Lease request cut short: stopping', { verb });
      return;
    }
    const now = clock.now();
    const key = `${verb}:${isApiError(err) ? err.reason : err instanceof LeaseKitError ? err.code : 'other'}`;
    const last = this.failureLog;
    if (key === last.key && now - last.atMs < FAILURE_LOG_INTERVAL_MS) {
      last.suppressed++;
      return;
    }
    const repeats = key === last.key ? last.suppressed : 0;
    this.failureLog = { key, atMs: now, suppressed: 0 };
    const fields = { verb, error: describeError(err), ...(repeats > 0 ? { repeatedSinceLastLog: repeats } : {}) };
    if (isForbidden(err)) {
      log.error(
        `Not allowed to ${verb} leases: grant get, create and update (and watch, for watching followers) on leases.coordination.k8s.io in namespace ${config.leaseNamespace} (Role + RoleBinding); retrying until it is fixed`,
        fields,
      );
    } else {
      log.warn(repeats > 0 ? 'Lease request still failing' : 'Lease request failed', fields);
    }
  }

  /** A write succeeded: the next failure is news again, logged at once. */
  resetFailureLog(): void {
    this.failureLog = { key: '', atMs: -Infinity, suppressed: 0 };
  }
}

function normaliseError(err: unknown): Error {
  if (err instanceof LeaseKitError) return err;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new RequestTimeoutError(err.message || 'request aborted', { cause: err });
  }
  if (err instanceof Error) return new NetworkError(err.message, { cause: err });
  return new NetworkError(String(err));
}

function errorReasonOf(err: Error): ApiErrorReason | 'NetworkError' {
  if (isApiError(err)) return err.reason;
  if (err instanceof RequestTimeoutError) return 'Timeout';
  if (err instanceof NetworkError) return 'NetworkError';
  return 'Unknown';
}
