import { describe, expect, it } from '@jest/globals';
import type { Clock, TimerHandle } from './clock.js';
import { LeaseKitError } from './errors.js';
import type { LogFields, SafeLogger } from './logger.js';
import { Leadership, guaranteeDeadline } from './term.js';
import { FakeClock } from './testing/fake-clock.js';

const D = 15_000;

function recordingLog(): SafeLogger & { lines: { level: string; message: string; fields: LogFields | undefined }[] } {
  const lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => void lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function setup(options: { clock?: Clock; enforcesOnWake?: boolean } = {}) {
  const clock = options.clock ?? new FakeClock();
  const log = recordingLog();
  let expired = 0;
  const leadership = new Leadership({
    clock,
    log,
    identity: 'a',
    leaseDurationMs: D,
    enforcesOnWake: () => options.enforcesOnWake ?? true,
    onExpired: () => void expired++,
  });
  return { clock, log, leadership, expired: () => expired };
}

describe('guaranteeDeadline', () => {
  it('is the lease duration after the send time when clocks are exact', () => {
    expect(guaranteeDeadline(1_000, D, 0)).toBe(1_000 + D);
  });

  it('leaves a margin for our clock running slow and a follower running fast', () => {
    expect(guaranteeDeadline(0, D, 0.01)).toBeCloseTo((D * 0.98) / 1.01);
    expect(guaranteeDeadline(0, D, 0.01)).toBeLessThan(D / 1.01); // the earliest a follower can take over
  });
});

describe('Leadership', () => {
  it('is not leading before a term begins, and leads from begin until the guarantee deadline', async () => {
    const { clock, leadership } = setup();
    const fake = clock as FakeClock;
    expect(leadership.isLeader()).toBe(false);
    expect(leadership.current).toBeUndefined();
    leadership.extend(10_000);
    expect(leadership.isLeader()).toBe(false); // a guarantee alone is no term
    const { term, signal } = leadership.begin(7, 123);
    expect(term).toMatchObject({ token: 7, acquireTimeMs: 123, identity: 'a' });
    expect(leadership.isLeader()).toBe(true);
    expect(term.isValid()).toBe(true);
    await fake.advance(9_999);
    expect(leadership.isLeader()).toBe(true);
    expect(signal.aborted).toBe(false);
    await fake.advance(1);
    expect(leadership.isLeader()).toBe(false);
    expect(term.isValid()).toBe(false);
  });

  it('aborts the leadership signal at the guarantee deadline by its guard timer, logs it and wakes the elector', async () => {
    const { clock, log, leadership, expired } = setup();
    leadership.extend(10_000);
    const { signal } = leadership.begin(1, 0);
    await (clock as FakeClock).advance(10_000);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(LeaseKitError);
    expect((signal.reason as LeaseKitError).code).toBe('LEADERSHIP_LOST');
    expect(log.lines.filter((l) => l.level === 'error').map((l) => l.message)).toEqual(['Lease guarantee ran out before a renewal succeeded; stepping down']);
    expect(expired()).toBe(1);
    expect(leadership.active).toBe(true); // still in the term until the elector ends it
  });

  it('moves the guard timer with every extension', async () => {
    const { clock, leadership } = setup();
    const fake = clock as FakeClock;
    leadership.extend(10_000);
    const { signal } = leadership.begin(1, 0);
    await fake.advance(5_000);
    leadership.extend(20_000);
    expect(fake.pendingTimers).toBe(1);
    await fake.advance(10_000);
    expect(signal.aborted).toBe(false);
    expect(leadership.guardedUntil).toBe(20_000);
    await fake.advance(5_000);
    expect(signal.aborted).toBe(true);
  });

  it('on a wake-up past the deadline aborts the signal at once, before the guard timer runs', () => {
    const clock = new ManualClock();
    const { leadership } = setup({ clock });
    leadership.extend(10_000);
    const { signal } = leadership.begin(1, 0);
    clock.t = 10_000; // a pause: the guard timer has not run yet
    expect(leadership.holds()).toBe(false);
    expect(signal.aborted).toBe(true);
  });

  it('in an unsafe variant without the wake-up check, leaves the signal to the guard timer alone', () => {
    const clock = new ManualClock();
    const { leadership } = setup({ clock, enforcesOnWake: false });
    leadership.extend(10_000);
    const { signal } = leadership.begin(1, 0);
    clock.t = 10_000;
    expect(leadership.holds()).toBe(true);
    expect(signal.aborted).toBe(false);
    expect(leadership.isLeader()).toBe(false); // isLeader() reads the clock whatever the variant
    clock.fireAll();
    expect(signal.aborted).toBe(true);
  });

  it('re-arms a guard timer that fires a hair early instead of leaving the guarantee unguarded', () => {
    const clock = new ManualClock();
    const { leadership } = setup({ clock });
    leadership.extend(10_000);
    const { signal } = leadership.begin(1, 0);
    clock.t = 9_999.999;
    clock.fireAll();
    expect(signal.aborted).toBe(false);
    expect(clock.pending()).toBe(1);
    clock.t = 10_000;
    clock.fireAll();
    expect(signal.aborted).toBe(true);
  });

  it('ends a term in order: isLeader() is already false when the signal aborts, and no timer is left', async () => {
    const { clock, leadership } = setup();
    const fake = clock as FakeClock;
    leadership.extend(10_000);
    await fake.advance(1_000);
    const { term, signal } = leadership.begin(3, 0);
    const seenInListener: boolean[] = [];
    signal.addEventListener('abort', () => seenInListener.push(leadership.isLeader(), term.isValid()));
    await fake.advance(2_500);
    const ended = leadership.end('resigned');
    expect(ended).toEqual({ term, heldMs: 2_500 });
    expect(seenInListener).toEqual([false, false]);
    expect((signal.reason as Error).message).toBe('leadership ended: resigned');
    expect(fake.pendingTimers).toBe(0);
    expect(leadership.active).toBe(false);
    expect(leadership.current).toBe(term); // the last term stays readable (its token is reused on recreation)
  });

  it("invalidates a term once a newer one began, and tells live terms from ended ones", () => {
    const { leadership } = setup();
    leadership.extend(10_000);
    const first = leadership.begin(1, 0);
    expect(leadership.isLive(first.term, first.signal)).toBe(true);
    leadership.end('lease_taken');
    expect(leadership.isLive(first.term, first.signal)).toBe(false);
    const second = leadership.begin(2, 0);
    expect(first.term.isValid()).toBe(false);
    expect(second.term.isValid()).toBe(true);
    expect(leadership.isLive(first.term, second.signal)).toBe(false);
    leadership.end('released');
  });
});

/** A clock whose time is set by hand and whose timers run only when told to (to model pauses and early timers). */
class ManualClock implements Clock {
  t = 0;
  private timers = new Map<number, () => void>();
  private nextId = 1;

  now(): number {
    return this.t;
  }

  wallNow(): number {
    return this.t;
  }

  setTimeout(callback: () => void): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, callback);
    return { id };
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  pending(): number {
    return this.timers.size;
  }

  /** Runs every timer pending now (not those they arm). */
  fireAll(): void {
    const due = [...this.timers.entries()];
    this.timers.clear();
    for (const [, callback] of due) callback();
  }
}
