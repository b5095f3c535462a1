/**
 * Waiting that Ctrl-C can cut short: a pause and a poll until a condition holds, both rejecting
 * with {@link Interrupted} once the run's signal aborts. Every wait of a demo run goes through
 * these (or through a message wait with the same rule), so an interrupt reaches the cleanup at
 * once; {@link runGuarded} turns what ended a run into its exit code.
 */
import { describeError } from '@leasekit/k8s-leaderelection/internal';

/** The run was stopped by the caller's signal. */
export class Interrupted extends Error {
  override readonly name = 'Interrupted';
}

/** The run could not go on (a timeout, a replica that never became ready, ...); the message says why. */
export class DemoFailed extends Error {
  override readonly name = 'DemoFailed';
}

/** What a guarded run says when it ends early. */
export interface RunEnding {
  /** Interrupted: about to clean up. */
  interrupted(): void;
  /** Failed, with the reason (a {@link DemoFailed}'s message, or the error described). */
  failed(reason: string): void;
}

/**
 * Runs `body` and then, whatever happened, `cleanup` (given the exit code). The exit code is
 * `body`'s, 130 when it was interrupted (`signal` aborted), 1 when it threw.
 */
export async function runGuarded(body: () => Promise<number>, cleanup: (exitCode: number) => Promise<void>, signal: AbortSignal, ending: RunEnding): Promise<number> {
  let exitCode = 1;
  try {
    exitCode = await body();
  } catch (err) {
    if (err instanceof Interrupted || signal.aborted) {
      exitCode = 130;
      ending.interrupted();
    } else {
      ending.failed(err instanceof DemoFailed ? err.message : describeError(err));
    }
  } finally {
    await cleanup(exitCode);
  }
  return exitCode;
}

/** Sleeps `ms`, unless `signal` aborts first (then rejects with {@link Interrupted}). */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new Interrupted());
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Checks `done` every `pollMs` until it is true (resolves true) or `timeoutMs` passed (false); interruptible. */
export async function pollUntil(done: () => boolean, timeoutMs: number, signal: AbortSignal, pollMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!done()) {
    if (performance.now() > deadline) return false;
    await pause(pollMs, signal);
  }
  return true;
}
