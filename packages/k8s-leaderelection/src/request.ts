/**
 * Bounding API requests: every request ends at its deadline (measured on the injected clock) or
 * when the caller's signal aborts, whichever comes first. {@link RequestDeadline} is that one
 * mechanism (one timer, one listener, no AbortController); {@link boundedSignal} is its form as an
 * AbortSignal, for a LeaseClient call, and the elector stops waiting at that deadline even if a
 * LeaseClient ignores the signal. A hung request can therefore never hold leadership past the
 * renew deadline.
 */
import type { Clock, TimerHandle } from './clock.js';
import { RequestTimeoutError } from './errors.js';

/** What a request ends with: when its time is up, and when the caller's signal aborts. */
export interface DeadlineReasons<R> {
  timedOut(): R;
  aborted(signal: AbortSignal): R;
}

/**
 * When a request ends early: `signal` aborts, or `timeoutMs` passes on `clock`, whichever comes
 * first (what `AbortSignal.any([signal, AbortSignal.timeout(ms)])` gives, for one timer and one
 * listener instead of two signals linked through weak references on every request). No timer is
 * armed when `signal` has already aborted: the request has ended before it began.
 */
export class RequestDeadline<R> {
  /** Whether the request must end; {@link reason} says why. */
  ended = false;
  /** Set once {@link ended}: what the request fails with. */
  reason: R | undefined;
  /** Called once when the deadline passes or the signal aborts after construction. */
  onEnd: ((reason: R) => void) | undefined;
  private readonly timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    timeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly reasons: DeadlineReasons<R>,
  ) {
    if (signal?.aborted) {
      this.ended = true;
      this.reason = reasons.aborted(signal);
      return;
    }
    this.timer = clock.setTimeout(() => this.end(reasons.timedOut()), Math.max(0, timeoutMs));
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Clears the timer and the listener; {@link onEnd} is not called after it. Always call it. */
  dispose(): void {
    this.onEnd = undefined;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  private readonly onAbort = (): void => this.end(this.reasons.aborted(this.signal!));

  private end(reason: R): void {
    if (this.ended) return;
    this.ended = true;
    this.reason = reason;
    const onEnd = this.onEnd;
    this.dispose();
    onEnd?.(reason);
  }
}

export interface BoundedSignal {
  readonly signal: AbortSignal;
  /** Clears the timer and the parent listener. Always call it. */
  dispose(): void;
}

/**
 * A signal that aborts after `timeoutMs` on `clock` (with a RequestTimeoutError), or when
 * `parent` aborts (with the parent's reason): a {@link RequestDeadline} that aborts a controller.
 */
export function boundedSignal(clock: Clock, timeoutMs: number, parent?: AbortSignal): BoundedSignal {
  const controller = new AbortController();
  const deadline = new RequestDeadline<unknown>(clock, timeoutMs, parent, {
    timedOut: () => new RequestTimeoutError(`request timed out after ${Math.round(timeoutMs)} ms`),
    aborted: (signal) => signal.reason,
  });
  if (deadline.ended) controller.abort(deadline.reason);
  else deadline.onEnd = (reason) => controller.abort(reason);
  return { signal: controller.signal, dispose: () => deadline.dispose() };
}

/** Settles like `promise`, or rejects with the signal's reason as soon as it aborts. */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined); // whatever it does later is no longer anyone's business
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new RequestTimeoutError('request aborted');
}
