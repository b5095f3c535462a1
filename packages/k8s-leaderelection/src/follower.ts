/**
 * The watching follower: keeps a watch open on the one Lease it contends for and reports every
 * change, so a follower learns of a release or a renewal at once instead of polling. Safety never
 * depends on it: acquisition is always a fresh GET plus a compare-and-swap write. A broken watch
 * only degrades the follower towards polling (the elector polls whenever {@link LeaseFollower.healthy}
 * is false): it reconnects with jittered exponential backoff, resumes from the last
 * resourceVersion, and relists after 410 Gone.
 *
 * Request budget: at most one watch is open at a time (a new one opens only after the previous
 * call has returned, also across stop()/start()), consecutive watches open at least one retry
 * period R apart, and after failures the gap grows (R, 2R, 4R, capped) so a persistently failing
 * watch costs far less than one request per R. Only a stream that delivered events and stayed
 * open at least R reconnects at once (a normal server-side watch timeout).
 */
import { sleep } from './clock.js';
import type { ResolvedConfig } from './config.js';
import { describeError, isApiError, type KubeStatus } from './errors.js';
import type { Lease, LeaseClient, LeaseWatchEvent } from './lease.js';
import type { SafeLogger } from './logger.js';
import { ABORT_ERROR } from './signals.js';

export interface LeaseFollowerOptions {
  client: LeaseClient;
  config: ResolvedConfig;
  log: SafeLogger;
  /** The Lease as the watch delivered it (ADDED or MODIFIED). */
  onLease(lease: Lease): void;
  /** The Lease was deleted. */
  onDeleted(): void;
  /** Where to resume from when (re)connecting: the resourceVersion last observed. */
  currentResourceVersion(): string | undefined;
}

/** Consecutive watches open at least this many retry periods apart, whatever happened in between. */
export const WATCH_MIN_OPEN_INTERVAL_RETRY_PERIODS = 1;
/** A stream that delivered at least one event and stayed open this many retry periods was healthy. */
export const WATCH_HEALTHY_STREAM_RETRY_PERIODS = 1;
/**
 * After a healthy stream the follower reconnects after a random delay below this (and below R),
 * so a server-side watch timeout leaves it blind for at most about this long.
 */
export const WATCH_QUICK_RECONNECT_MAX_MS = 100;
/** The first backoff step after a failed watch, in retry periods; it doubles per consecutive failure. */
export const WATCH_BACKOFF_INITIAL_RETRY_PERIODS = 1;
/** The backoff cap, in retry periods: a failing watch is retried at least this often (plus jitter). */
export const WATCH_BACKOFF_MAX_RETRY_PERIODS = 4;
/**
 * Jitter on every backoff step: the delay is drawn uniformly from [d, (1 + jitter) d). It only
 * lengthens the step, so the minimum open interval holds without it.
 */
export const WATCH_BACKOFF_JITTER = 0.5;
/** Repeated identical watch failures are logged at warn level at most once per this interval, with a count. */
export const WATCH_FAILURE_LOG_INTERVAL_MS = 30_000;

/** The reason the follower's own signal aborts with when stopped (only ends its loop and waits). */
const WATCH_STOPPED = 'watch stopped';

/** Why one watch attempt did not count as healthy, for backoff and logging. */
interface Failure {
  /** Groups identical failures for the repeat-log throttle. */
  key: string;
  /** One line for logs. */
  description: string;
  /** Floor on the next reconnect delay (Retry-After). */
  retryAfterMs: number;
  /** 401/403: the RBAC warning applies. */
  forbidden: boolean;
}

interface RepeatState {
  lastWarnAtMs: number;
  suppressed: number;
}

export class LeaseFollower {
  private controller: AbortController | undefined;
  /** The current (or last) watch loop; a new loop starts only once it has finished. */
  private loop: Promise<void> = Promise.resolve();
  private connected = false;
  private resumeFrom: string | undefined;
  /** Failed attempts since the last healthy (or long, quiet) stream. */
  private failures = 0;
  /** No watch opens before this monotonic time (kept across stop()/start()). */
  private nextOpenAtMs = -Infinity;
  private forbiddenWarned = false;
  private warnedSinceHealthy = false;
  private readonly repeats = new Map<string, RepeatState>();

  constructor(private readonly options: LeaseFollowerOptions) {}

  /** True when the client can watch at all. */
  get supported(): boolean {
    return typeof this.options.client.watch === 'function';
  }

  /** True while a watch stream is open, so the follower may rely on it instead of polling. */
  get healthy(): boolean {
    return this.connected;
  }

  /**
   * Starts watching (idempotent). Stops when `stop` aborts or {@link stop} is called. Never
   * throws. The first watch waits for the previous loop to finish and for any pending backoff.
   */
  start(stop: AbortSignal): void {
    if (this.controller || !this.supported || stop.aborted) return;
    const controller = new AbortController();
    this.controller = controller;
    const onStop = (): void => controller.abort();
    stop.addEventListener('abort', onStop, { once: true });
    this.loop = this.loop
      .then(() => this.watchLoop(controller.signal))
      .catch((err: unknown) => this.options.log.warn('Lease watch loop failed', { error: describeError(err) }))
      .finally(() => stop.removeEventListener('abort', onStop));
  }

  /** Stops watching (idempotent). */
  stop(): void {
    // A reason of our own: a bare abort() builds a DOMException (and its stack trace) on the path
    // from an acquisition to onStartedLeading; this signal's reason is read by no one (the
    // stream's own signal, which a LeaseClient sees, still aborts as before).
    this.controller?.abort(WATCH_STOPPED);
    this.controller = undefined;
    this.connected = false;
  }

  private async watchLoop(signal: AbortSignal): Promise<void> {
    const { clock } = this.options.config;
    if (signal.aborted) return;
    this.resumeFrom = this.initialResourceVersion();
    while (!signal.aborted) {
      const waitMs = this.nextOpenAtMs - clock.now();
      if (waitMs > 0) {
        await sleep(clock, waitMs, signal);
        continue;
      }
      await this.watchOnce(signal);
    }
  }

  /** Opens one watch and waits for it to end; then schedules the next one. */
  private async watchOnce(signal: AbortSignal): Promise<void> {
    const { client, config } = this.options;
    const stream = new AbortController();
    const onAbort = (): void => stream.abort(ABORT_ERROR);
    signal.addEventListener('abort', onAbort, { once: true });
    const live = (): boolean => !signal.aborted && !stream.signal.aborted;
    const openedAtMs = config.clock.now();
    this.nextOpenAtMs = openedAtMs + WATCH_MIN_OPEN_INTERVAL_RETRY_PERIODS * config.retryPeriodMs;
    let delivered = false;
    let failure: Failure | undefined;
    const fail = (f: Failure): void => {
      failure ??= f;
      stream.abort(ABORT_ERROR);
    };
    try {
      await client.watch!(config.leaseNamespace, config.leaseName, {
        signal: stream.signal,
        ...(this.resumeFrom !== undefined ? { resourceVersion: this.resumeFrom } : {}),
        onOpen: () => {
          if (live()) this.opened();
        },
        onEvent: (event) => {
          if (!live()) return;
          try {
            const error = this.handle(event);
            if (error) fail(error);
            else delivered = true;
          } catch (err) {
            fail({ key: 'hook', description: `handling a watch event failed: ${describeError(err)}`, retryAfterMs: 0, forbidden: false });
          }
        },
      });
    } catch (err) {
      // 410 as an HTTP answer (not a Status event in the stream): relist, as for an ERROR event.
      if (isApiError(err) && err.statusCode === 410) this.resumeFrom = undefined;
      if (!signal.aborted) failure ??= failureOf(err);
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.connected = false;
    }
    if (signal.aborted) return; // stopped: no verdict on the server, the minimum interval stands
    this.schedule(openedAtMs, delivered, failure);
  }

  /** Decides when the next watch may open, from how this one went; logs failures. */
  private schedule(openedAtMs: number, delivered: boolean, failure: Failure | undefined): void {
    const { config, log } = this.options;
    const now = config.clock.now();
    const lastedMs = now - openedAtMs;
    const lastedLong = lastedMs >= WATCH_HEALTHY_STREAM_RETRY_PERIODS * config.retryPeriodMs;
    let delayMs: number;
    if (lastedLong && delivered) {
      // Healthy (a server-side watch timeout, or an error after a good while): reconnect at once.
      if (this.warnedSinceHealthy) log.info('Lease watch recovered', { failures: this.failures });
      this.failures = 0;
      this.warnedSinceHealthy = false;
      delayMs = config.random() * Math.min(WATCH_QUICK_RECONNECT_MAX_MS, config.retryPeriodMs);
      if (failure) log.debug('Lease watch ended with an error after a healthy stream; reconnecting', { error: failure.description });
    } else if (lastedLong && !failure) {
      // Open a good while but quiet: no sign of trouble, no proof of health either.
      this.failures = 0;
      delayMs = this.backoffMs(1);
    } else {
      failure ??= { key: 'ended-early', description: `the watch stream ended after ${Math.round(lastedMs)} ms`, retryAfterMs: 0, forbidden: false };
      this.failures++;
      delayMs = this.backoffMs(this.failures);
    }
    if (failure) delayMs = Math.max(delayMs, failure.retryAfterMs);
    this.nextOpenAtMs = Math.max(this.nextOpenAtMs, now + delayMs);
    if (failure && this.failures > 0) this.report(failure, delayMs);
  }

  /** The jittered backoff after `failures` consecutive failures. */
  private backoffMs(failures: number): number {
    const { config } = this.options;
    const steps = Math.min(WATCH_BACKOFF_INITIAL_RETRY_PERIODS * 2 ** Math.min(failures - 1, 30), WATCH_BACKOFF_MAX_RETRY_PERIODS);
    return steps * config.retryPeriodMs * (1 + WATCH_BACKOFF_JITTER * config.random());
  }

  /** Logs a failure: the RBAC warning once per outage, else at most one warning per key and interval. */
  private report(failure: Failure, retryInMs: number): void {
    const { config, log } = this.options;
    const now = config.clock.now();
    const state = this.repeats.get(failure.key);
    if (state && now - state.lastWarnAtMs < WATCH_FAILURE_LOG_INTERVAL_MS) {
      state.suppressed++;
      return;
    }
    // Same field as the elector's failure log: how many identical failures were not logged since the last line.
    const repeats = state?.suppressed ?? 0;
    const fields = { error: failure.description, retryInMs: Math.round(retryInMs), ...(repeats > 0 ? { repeatedSinceLastLog: repeats } : {}) };
    this.repeats.set(failure.key, { lastWarnAtMs: now, suppressed: 0 });
    this.warnedSinceHealthy = true;
    if (failure.forbidden && !this.forbiddenWarned) {
      // Followers still work without watch (they poll), but the operator should know why.
      this.forbiddenWarned = true;
      log.warn(
        `Not allowed to watch leases in namespace ${config.leaseNamespace}: grant watch on leases.coordination.k8s.io; following by polling until then`,
        fields,
      );
    } else {
      log.warn('Lease watch failing; following by polling until it recovers', fields);
    }
  }

  /** The stream is established. */
  private opened(): void {
    this.connected = true;
    this.forbiddenWarned = false;
  }

  private initialResourceVersion(): string | undefined {
    try {
      return this.options.currentResourceVersion();
    } catch (err) {
      this.options.log.debug('Could not read the resourceVersion to resume from; watching from now', { error: describeError(err) });
      return undefined;
    }
  }

  /**
   * Handles one event; a returned Failure ends the stream. The resume point moves only after the
   * hook returned, so an event whose hook threw is delivered again by the next watch.
   */
  private handle(event: LeaseWatchEvent): Failure | undefined {
    const object = event.object as Lease & Partial<KubeStatus>;
    const rv = object.metadata?.resourceVersion;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.options.onLease(object);
        break;
      case 'DELETED':
        this.options.onDeleted();
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR':
        // 410 Gone / Expired: our resourceVersion was compacted away. Relist: watch from "now",
        // which starts with an ADDED event for the current state.
        if (object.code === 410) this.resumeFrom = undefined;
        return statusFailure(object);
      default:
        return undefined;
    }
    if (rv) this.resumeFrom = rv;
    this.connected = true;
    return undefined;
  }
}

/** A failed watch call, classified. */
function failureOf(err: unknown): Failure {
  if (isApiError(err)) {
    return {
      key: `http-${err.statusCode}`,
      description: describeError(err),
      retryAfterMs: (err.retryAfterSeconds ?? 0) * 1000,
      forbidden: err.statusCode === 401 || err.statusCode === 403 || err.reason === 'Forbidden' || err.reason === 'Unauthorized',
    };
  }
  const code = (err as { code?: unknown } | null)?.code;
  return { key: typeof code === 'string' ? code : 'error', description: describeError(err), retryAfterMs: 0, forbidden: false };
}

/** An ERROR event's Status, classified like a failed call. */
function statusFailure(status: Partial<KubeStatus>): Failure {
  const code = typeof status.code === 'number' ? status.code : 0;
  const retryAfterSeconds = Number(status.details?.retryAfterSeconds);
  return {
    key: `http-${code}`,
    description: `${status.reason || 'Unknown'} (${code}): ${status.message ?? ''}`,
    retryAfterMs: Number.isFinite(retryAfterSeconds) && retryAfterSeconds > 0 ? retryAfterSeconds * 1000 : 0,
    forbidden: code === 401 || code === 403,
  };
}
