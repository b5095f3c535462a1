/**
 * A simulated clock for tests: time moves only when told to, timers fire in due order, and
 * promise callbacks settle between timers, so async code runs as it would, only instantly.
 */
import type { Clock, TimerHandle } from '../clock.js';

interface FakeTimer {
  id: number;
  dueMs: number;
  callback: () => void;
}

export interface FakeClockOptions {
  /** Initial monotonic time. @default 0 */
  startMs?: number;
  /** Wall time (epoch ms) when monotonic time is `startMs`. @default 2025-01-01T00:00:00Z */
  startWallMs?: number;
}

/** Lets every queued promise callback run (all microtasks drain before a macrotask). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private monoMs: number;
  private readonly wallOffsetMs: number;
  private readonly timers = new Map<number, FakeTimer>();
  private nextId = 1;

  constructor(options: FakeClockOptions = {}) {
    this.monoMs = options.startMs ?? 0;
    this.wallOffsetMs = (options.startWallMs ?? Date.UTC(2025, 0, 1)) - this.monoMs;
  }

  now(): number {
    return this.monoMs;
  }

  wallNow(): number {
    return this.monoMs + this.wallOffsetMs;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const id = this.nextId++;
    const delay = Number.isFinite(delayMs) ? Math.max(0, delayMs) : Number.MAX_SAFE_INTEGER;
    this.timers.set(id, { id, dueMs: this.monoMs + delay, callback });
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Due time of the next timer, or undefined when none is pending. */
  nextTimerDueMs(): number | undefined {
    let next: number | undefined;
    for (const timer of this.timers.values()) if (next === undefined || timer.dueMs < next) next = timer.dueMs;
    return next;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in due order (ties in creation
   * order), letting promise callbacks settle after each. Refuses to go backwards.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance(${ms}): time cannot go backwards`);
    await this.advanceTo(this.monoMs + ms);
  }

  /** Like {@link advance}, to an absolute monotonic time. */
  async advanceTo(targetMs: number): Promise<void> {
    if (!(targetMs >= this.monoMs)) throw new RangeError(`FakeClock.advanceTo(${targetMs}): time cannot go backwards from ${this.monoMs}`);
    await settle();
    for (;;) {
      const timer = this.nextDue(targetMs);
      if (!timer) break;
      this.timers.delete(timer.id);
      this.monoMs = timer.dueMs;
      timer.callback();
      await settle();
    }
    this.monoMs = targetMs;
    await settle();
  }

  /**
   * Advances in steps of `stepMs` until `predicate()` is true, at most `maxMs`. Returns whether
   * the predicate became true (so a test can assert on it).
   */
  async advanceUntil(predicate: () => boolean, maxMs: number, stepMs = 10): Promise<boolean> {
    const limit = this.monoMs + maxMs;
    await settle();
    while (!predicate()) {
      if (this.monoMs >= limit) return false;
      await this.advanceTo(Math.min(limit, this.monoMs + stepMs));
    }
    return true;
  }

  private nextDue(targetMs: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const timer of this.timers.values()) {
      if (timer.dueMs > targetMs) continue;
      if (!best || timer.dueMs < best.dueMs || (timer.dueMs === best.dueMs && timer.id < best.id)) best = timer;
    }
    return best;
  }
}
