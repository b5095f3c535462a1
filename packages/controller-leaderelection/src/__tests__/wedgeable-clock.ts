/**
 * A clock whose readings can jump ahead without firing any timer: what a wedged process looks
 * like from the inside (time passed, none of its timers or renewals ran).
 */
import type { Clock } from '@leasekit/k8s-leaderelection';
import type { FakeClock } from '@leasekit/k8s-leaderelection/testing';

export class WedgeableClock implements Clock {
  private jumpMs = 0;
  constructor(private readonly inner: FakeClock) {}
  now(): number {
    return this.inner.now() + this.jumpMs;
  }
  wallNow(): number {
    return this.inner.wallNow() + this.jumpMs;
  }
  setTimeout(callback: () => void, delayMs: number): ReturnType<Clock['setTimeout']> {
    return this.inner.setTimeout(callback, delayMs);
  }
  clearTimeout(handle: ReturnType<Clock['setTimeout']>): void {
    this.inner.clearTimeout(handle);
  }
  /** Time passes for the process, but it is stuck: nothing runs. */
  wedge(ms: number): void {
    this.jumpMs += ms;
  }
}
