/**
 * One replica's view of time, layered on the simulation's single FakeClock:
 * - drifting: its monotonic clock runs at rate (1 + d) against virtual time (d may change, always
 *   within the configured bound), and its wall clock is skewed by a fixed offset (and may stand
 *   still or step back: see wall-clock.ts);
 * - pausable: like a process stopped by a long GC pause or a blocked event loop (SIGSTOP), timers
 *   and I/O callbacks (answers, watch events) that come due while paused are queued; on resume
 *   they run one by one, with promise callbacks settling between them. Timers keep their due
 *   order (Node's timers phase), and I/O callbacks are interleaved with them at random (drawn
 *   from the clock's own seeded stream): Node may run the poll phase before or after the timers
 *   phase, so an answer that arrived during the pause, or a user timer due earlier than the
 *   elector's guard timer, can run before that guard;
 * - killable: a crashed process's timers never fire again and are removed from the FakeClock, so
 *   nothing stays pending.
 */
import type { Clock, Random, TimerHandle } from '@leasekit/k8s-leaderelection';
import type { FakeClock } from '@leasekit/k8s-leaderelection/testing';
import type { WallClockFaults } from './wall-clock.js';

interface ReplicaTimer {
  readonly id: number;
  /** Due time on this replica's monotonic clock. */
  readonly dueMs: number;
  readonly callback: () => void;
  /** The FakeClock timer currently armed for it, if any. */
  base: TimerHandle | undefined;
  /** Queued while paused, waiting for resume. */
  queued: boolean;
  /** Released by a resume and not run yet. */
  catchingUp: boolean;
  /** An I/O callback (a network delivery), not a timer the process set. */
  readonly io: boolean;
}

export interface ReplicaClockOptions {
  /** Clock rate error: now() advances (1 + driftRate) ms per virtual ms. @default 0 */
  driftRate?: number;
  /** Offset of this replica's wall clock from the virtual wall clock, in ms. @default 0 */
  wallSkewMs?: number;
  /** The machine's wall-clock faults (standing still, stepping back), shared by its processes. @default none */
  wallFaults?: WallClockFaults;
  /** Monotonic time at creation (processes do not share a monotonic origin). @default 0 */
  startMs?: number;
  /**
   * Orders the backlog on resume: I/O callbacks are interleaved at random with the timers (which
   * stay in due order). Without it, everything runs in due order.
   */
  random?: Random;
}

/**
 * Smallest FakeClock step used when re-arming a timer that fired a hair early (float rounding):
 * large enough to move virtual time forward, so that a timer only ever fires once now() has
 * reached its due time (code that sleeps "until the deadline" relies on that).
 */
const MIN_STEP_MS = 1e-3;

export class ReplicaClock implements Clock {
  private anchorBaseMs: number;
  private anchorLocalMs: number;
  private rate: number;
  private readonly wallSkewMs: number;
  private readonly wallAtStartMs: number;
  private readonly localAtStartMs: number;
  private readonly wallFaults: WallClockFaults | undefined;
  private readonly random: Random | undefined;
  private readonly timers = new Map<number, ReplicaTimer>();
  private readonly queue: ReplicaTimer[] = [];
  private nextId = 1;
  private catchUpRemaining = 0;
  private state: 'running' | 'paused' | 'dead' = 'running';
  /** Called once a resume has run every timer that came due during the pause. */
  onCaughtUp: (() => void) | undefined;

  constructor(
    private readonly base: FakeClock,
    options: ReplicaClockOptions = {},
  ) {
    this.rate = options.driftRate ?? 0;
    this.wallSkewMs = options.wallSkewMs ?? 0;
    this.anchorBaseMs = base.now();
    this.anchorLocalMs = options.startMs ?? 0;
    this.wallAtStartMs = base.wallNow();
    this.localAtStartMs = this.anchorLocalMs;
    this.random = options.random;
    this.wallFaults = options.wallFaults;
  }

  now(): number {
    return this.anchorLocalMs + (this.base.now() - this.anchorBaseMs) * (1 + this.rate);
  }

  /**
   * The wall clock runs off the same oscillator: skewed by a constant and drifting with now();
   * then the machine's wall-clock faults, if any (monotonic now() never sees them).
   */
  wallNow(): number {
    const unfaulted = this.wallAtStartMs + this.wallSkewMs + (this.now() - this.localAtStartMs);
    return this.wallFaults ? this.wallFaults.read(unfaulted) : unfaulted;
  }

  get driftRate(): number {
    return this.rate;
  }

  get paused(): boolean {
    return this.state === 'paused';
  }

  get dead(): boolean {
    return this.state === 'dead';
  }

  /** True while paused, or resumed but still running the timers that came due meanwhile. */
  get suspended(): boolean {
    return this.state === 'paused' || this.catchUpRemaining > 0;
  }

  /** Timers that came due while paused and wait for resume. */
  get queuedTimers(): number {
    return this.queue.length;
  }

  /** For diagnostics: what is pending, relative to now. */
  describePending(): string[] {
    const now = this.now();
    return [...this.timers.values()].map(
      (t) => `due in ${Math.round(t.dueMs - now)} ms${t.queued ? ' (queued)' : ''}${t.catchingUp ? ' (catching up)' : ''}: ${t.callback.toString().replace(/\s+/g, ' ').slice(0, 100)}`,
    );
  }

  /** Timers set and not yet fired or cleared (queued ones included). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.schedule(callback, delayMs, false);
  }

  /**
   * Like setTimeout, for a network delivery reaching the process after `delayMs` (an answer, a
   * watch event): after a pause it may run before or after the timers that came due meanwhile.
   */
  setIoTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.schedule(callback, delayMs, true);
  }

  private schedule(callback: () => void, delayMs: number, io: boolean): TimerHandle {
    const id = this.nextId++;
    if (this.state === 'dead') return { id }; // a dead process schedules nothing
    const delay = Number.isFinite(delayMs) ? Math.max(0, delayMs) : Number.MAX_SAFE_INTEGER;
    const timer: ReplicaTimer = { id, dueMs: this.now() + delay, callback, base: undefined, queued: false, catchingUp: false, io };
    this.timers.set(id, timer);
    this.arm(timer);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    const timer = this.timers.get((handle as { id: number }).id);
    if (!timer) return;
    this.timers.delete(timer.id);
    if (timer.base !== undefined) this.base.clearTimeout(timer.base);
    timer.base = undefined;
    if (timer.queued) {
      timer.queued = false;
      const index = this.queue.indexOf(timer);
      if (index >= 0) this.queue.splice(index, 1);
    }
    if (timer.catchingUp) this.caughtUpOne(timer);
  }

  /** Changes the clock rate from now on; armed timers are re-armed so they fire on local time. */
  setDriftRate(rate: number): void {
    this.anchorLocalMs = this.now();
    this.anchorBaseMs = this.base.now();
    this.rate = rate;
    for (const timer of this.timers.values()) {
      if (timer.base === undefined || timer.catchingUp) continue;
      this.base.clearTimeout(timer.base);
      this.arm(timer);
    }
  }

  /** Stops the process: from now on, timers that come due wait for {@link resume}. */
  pause(): void {
    if (this.state === 'running') this.state = 'paused';
  }

  /**
   * Lets the process run again: every timer and I/O callback that came due while paused runs,
   * each as its own FakeClock timer at the current instant (so promise callbacks settle between
   * them): timers in due order, I/O callbacks interleaved at random (see {@link ReplicaClockOptions.random}).
   */
  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'running';
    const backlog = this.interleave(this.queue.splice(0));
    for (const timer of backlog) {
      timer.queued = false;
      timer.catchingUp = true;
      this.catchUpRemaining++;
      timer.base = this.base.setTimeout(() => this.fire(timer), 0);
    }
    if (backlog.length === 0) this.onCaughtUp?.();
  }

  /**
   * The queue is in due order (the order the timers fired on the FakeClock while paused). Keeps
   * the timers in that order and the I/O callbacks in theirs, and merges the two at random: each
   * next callback is an I/O one with probability (I/O left) / (all left), so every interleaving
   * is equally likely.
   */
  private interleave(queue: ReplicaTimer[]): ReplicaTimer[] {
    const random = this.random;
    if (!random) return queue;
    const timers = queue.filter((t) => !t.io);
    const io = queue.filter((t) => t.io);
    if (io.length === 0 || timers.length === 0) return queue;
    const merged: ReplicaTimer[] = [];
    let i = 0;
    let j = 0;
    while (i < timers.length || j < io.length) {
      const ioLeft = io.length - j;
      const takeIo = i >= timers.length || (ioLeft > 0 && random() * (ioLeft + timers.length - i) < ioLeft);
      merged.push(takeIo ? io[j++]! : timers[i++]!);
    }
    return merged;
  }

  /** The process died: no timer of it will ever fire, and none stays pending on the FakeClock. */
  kill(): void {
    this.state = 'dead';
    for (const timer of this.timers.values()) {
      if (timer.base !== undefined) this.base.clearTimeout(timer.base);
    }
    this.timers.clear();
    this.queue.length = 0;
    this.catchUpRemaining = 0;
  }

  private arm(timer: ReplicaTimer, minStepMs = 0): void {
    const remaining = timer.dueMs - this.now();
    const baseDelay = remaining <= 0 ? 0 : Math.max(minStepMs, remaining / (1 + this.rate));
    timer.base = this.base.setTimeout(() => this.fire(timer), baseDelay);
  }

  private fire(timer: ReplicaTimer): void {
    timer.base = undefined;
    if (!this.timers.has(timer.id)) return;
    if (this.state === 'paused') {
      if (timer.catchingUp) this.caughtUpOne(timer);
      timer.queued = true;
      this.queue.push(timer);
      return;
    }
    if (!timer.catchingUp && this.now() < timer.dueMs) {
      this.arm(timer, MIN_STEP_MS); // rounding: never fire before the replica's own clock says so
      return;
    }
    this.timers.delete(timer.id);
    const wasCatchingUp = timer.catchingUp;
    try {
      timer.callback();
    } finally {
      if (wasCatchingUp) this.caughtUpOne(timer);
    }
  }

  private caughtUpOne(timer: ReplicaTimer): void {
    timer.catchingUp = false;
    this.catchUpRemaining--;
    if (this.catchUpRemaining === 0 && this.state === 'running') this.onCaughtUp?.();
  }
}
