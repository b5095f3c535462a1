/**
 * Bounding API requests: every request gets a signal that aborts at its deadline (measured on the
 * injected clock), and the elector stops waiting at that deadline even if a LeaseClient ignores
 * the signal. A hung request can therefore never hold leadership past the renew deadline.
 */
import type { Clock } from './clock.js';
import { RequestTimeoutError } from './errors.js';

export interface BoundedSignal {
  readonly signal: AbortSignal;
  /** Clears the timer and the parent listener. Always call it. */
  dispose(): void;
}

/** A signal that aborts after `timeoutMs` on `clock`, or when `parent` aborts. */
export function boundedSignal(clock: Clock, timeoutMs: number, parent?: AbortSignal): BoundedSignal {
  const controller = new AbortController();
  const onParentAbort = (): void => controller.abort(parent?.reason);
  const timer = clock.setTimeout(
    () => controller.abort(new RequestTimeoutError(`request timed out after ${Math.round(timeoutMs)} ms`)),
    Math.max(0, timeoutMs),
  );
  if (parent?.aborted) controller.abort(parent.reason);
  else parent?.addEventListener('abort', onParentAbort, { once: true });
  return {
    signal: controller.signal,
    dispose() {
      clock.clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    },
  };
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
