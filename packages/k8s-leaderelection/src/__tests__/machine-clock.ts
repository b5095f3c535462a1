/**
 * One machine's clock: the shared fake oscillator, with a wall clock of its own that a test can
 * offset (skew, steps back and forward) or stop (a frozen wall clock) while the run goes on.
 */
import type { Clock, TimerHandle } from '../clock.js';
import type { FakeClock } from '../testing/fake-clock.js';

export class MachineClock implements Clock {
  /** How far this machine's wall clock runs ahead of the shared one (negative: behind). */
  wallOffsetMs = 0;
  /** While set, the wall clock reads this and stands still. */
  frozenWallMs: number | undefined;
  constructor(private readonly base: FakeClock) {}
  now(): number {
    return this.base.now();
  }
  wallNow(): number {
    return this.frozenWallMs ?? this.base.wallNow() + this.wallOffsetMs;
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.base.setTimeout(callback, delayMs);
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
}
