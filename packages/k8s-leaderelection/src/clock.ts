/**
 * Time for the elector. Durations are measured on {@link Clock.now} (monotonic); wall time from
 * {@link Clock.wallNow} is only ever written into a Lease, never compared with anything.
 *
 * This is the only file of the pure package that touches the real timers.
 */
export interface Clock {
  /** Monotonic milliseconds (like `performance.now()`); only differences are meaningful. */
  now(): number;
  /** Wall-clock milliseconds since the epoch (like `Date.now()`); used to stamp acquire/renew times. */
  wallNow(): number;
  /**
   * Schedules `callback` after `delayMs`. Implementations must accept any non-negative delay and
   * must not call back before `now()` has reached the due time (a timer firing a hair early would
   * make a deadline look not yet reached; `systemClock` re-arms until it is due).
   */
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; cancelling a fired or cancelled timer is a no-op. */
  clearTimeout(handle: TimerHandle): void;
}

/** An opaque timer handle. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

/**
 * Node fires a timer whose delay exceeds 2^31-1 ms immediately (with a warning), so longer delays
 * are split into chunks. A Lease with a huge `leaseDurationSeconds` must not cause an early takeover.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

interface ChainedTimer {
  timer: ReturnType<typeof setTimeout> | undefined;
  /** A delay of 0 runs on setImmediate: Node's setTimeout clamps every delay below 1 ms to 1 ms. */
  immediate: ReturnType<typeof setImmediate> | undefined;
  /** Arming order, across every timer of this clock. */
  readonly seq: number;
  readonly callback: () => void;
}

let armed = 0;
/**
 * Zero delays not yet run, in arming order. Node runs a timer that came due before the next
 * setImmediate turn (a zero delay armed from a callback that then works for a millisecond goes
 * after a 1 ms timer armed after it), so a timer about to fire first runs the zero delays armed
 * before it: every timer fires after every zero delay armed before it, as with setTimeout(0).
 */
const pendingZero = new Set<ChainedTimer>();

function runZero(handle: ChainedTimer): void {
  pendingZero.delete(handle);
  if (handle.immediate !== undefined) clearImmediate(handle.immediate);
  handle.immediate = undefined;
  handle.callback();
}

function runZerosArmedBefore(seq: number): void {
  for (const handle of pendingZero) {
    if (handle.seq > seq) return;
    runZero(handle);
  }
}

/** The real clock: `performance.now()`, `Date.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(callback, delayMs) {
    const handle: ChainedTimer = { timer: undefined, immediate: undefined, seq: ++armed, callback };
    // NaN would re-arm forever; treat it like 0 (fire as soon as possible).
    if (Number.isNaN(delayMs)) delayMs = 0;
    if (delayMs <= 0) {
      // Due now: on the next turn of the event loop, after pending I/O, instead of a 1 ms timer
      // (a watching follower waits 0 ms before taking a released Lease: that millisecond was on
      // every handover's path).
      pendingZero.add(handle);
      handle.immediate = setImmediate(() => runZero(handle));
      return handle;
    }
    const due = performance.now() + delayMs;
    const arm = (): void => {
      const remaining = due - performance.now();
      if (remaining <= 0) {
        handle.timer = undefined;
        runZerosArmedBefore(handle.seq);
        callback();
        return;
      }
      handle.timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_DELAY_MS));
    };
    handle.timer = setTimeout(arm, Math.min(delayMs, MAX_TIMER_DELAY_MS));
    return handle;
  },
  clearTimeout(handle) {
    const chained = handle as ChainedTimer;
    if (chained.timer !== undefined) clearTimeout(chained.timer);
    if (chained.immediate !== undefined) clearImmediate(chained.immediate);
    pendingZero.delete(chained);
    chained.timer = undefined;
    chained.immediate = undefined;
  },
};

/**
 * Resolves after `delayMs` on `clock`, or as soon as `signal` aborts (resolving, not rejecting:
 * callers check the signal). Never leaves a timer or listener behind.
 */
export function sleep(clock: Clock, delayMs: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    // A clock may call back synchronously (a delay of 0 in a custom clock): `done` then runs
    // before the handle exists, so the state lives in one object.
    const state: { timer?: TimerHandle; finished: boolean } = { finished: false };
    const done = (): void => {
      if (state.finished) return;
      state.finished = true;
      if (state.timer !== undefined) clock.clearTimeout(state.timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    signal?.addEventListener('abort', done, { once: true });
    state.timer = clock.setTimeout(done, delayMs);
    if (state.finished) clock.clearTimeout(state.timer);
  });
}
