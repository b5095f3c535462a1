/** Owns calling user code safely: callbacks and observer hooks isolated (errors logged, never thrown), awaited ones bounded by a timeout. */
// Shared by the elector and the adapter's standalone mode (through the internal entry).
import { sleep, type Clock } from './clock.js';
import { describeError } from './errors.js';
import type { SafeLogger } from './logger.js';

/** Whether `value` is a thenable (what a callback returns when it is async). */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * Calls a user callback without waiting for it; a throw or a rejection is logged as
 * "`name` callback failed" at error level (and handed to `onError`), never propagated.
 */
export function invoke(log: SafeLogger, name: string, fn: () => unknown, onError?: (err: unknown) => void): void {
  const failed = (err: unknown): void => {
    log.error(`${name} callback failed`, { error: describeError(err) });
    onError?.(err);
  };
  try {
    const result = fn();
    if (isPromiseLike(result)) result.then(undefined, failed);
  } catch (err) {
    failed(err);
  }
}

/**
 * Runs a callback and waits for it, at most `timeoutMs` on `clock`; resolves true when it
 * settled in time (a throw or rejection counts as settled and is logged), false on timeout.
 * Never rejects, and leaves no timer behind.
 */
export async function settleWithin(clock: Clock, log: SafeLogger, fn: () => unknown, timeoutMs: number, name: string): Promise<boolean> {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    log.error(`${name} callback failed`, { error: describeError(err) });
    return true;
  }
  if (!isPromiseLike(result)) return true;
  const settled = Promise.resolve(result).then(
    () => true,
    (err: unknown) => {
      log.error(`${name} callback failed`, { error: describeError(err) });
      return true;
    },
  );
  const timeout = new AbortController();
  const timer = sleep(clock, timeoutMs, timeout.signal).then(() => false);
  try {
    return await Promise.race([settled, timer]);
  } finally {
    timeout.abort();
  }
}

/** Calls an observer hook; a throwing hook is logged at warn level and ignored. */
export function notify(log: SafeLogger, fn: () => void): void {
  try {
    fn();
  } catch (err) {
    log.warn('observer hook failed', { error: describeError(err) });
  }
}
