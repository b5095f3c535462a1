/**
 * A clock whose timers do not fire while "paused", like a process stopped by SIGSTOP or a long GC:
 * time goes on, callbacks wait, and on resume they run in the order they came due.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { settle, type FakeClock } from '../testing/fake-clock.js';

export class PausableClock implements Clock {
  paused = false;
  private readonly queued: (() => void)[] = [];
  constructor(private readonly base: FakeClock) {}
  now(): number {
    return this.base.now();
  }
  wallNow(): number {
    return this.base.wallNow();
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.base.setTimeout(() => this.hold(callback), delayMs);
  }
  /** Runs `callback` now, or while paused queues it with the held timers (an answer or event reaching a stopped process). */
  hold(callback: () => void): void {
    if (this.paused) this.queued.push(callback);
    else callback();
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
  resume(): void {
    this.paused = false;
    for (const callback of this.queued.splice(0)) callback();
  }
  /** Resumes like a real process catching up: one due timer at a time, promises settling between. */
  async resumeSettling(): Promise<void> {
    this.paused = false;
    for (const callback of this.queued.splice(0)) {
      callback();
      await settle();
    }
  }
}
