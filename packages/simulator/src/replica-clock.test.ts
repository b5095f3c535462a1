import { describe, expect, it } from '@jest/globals';
import { FakeClock, seededRandom } from '@leasekit/k8s-leaderelection/testing';
import { ReplicaClock } from './replica-clock.js';
import { WallClockFaults } from './wall-clock.js';

describe('ReplicaClock', () => {
  it('keeps the wall clock still while frozen, monotonic time running on, then runs on from where it stood', async () => {
    const base = new FakeClock();
    const faults = new WallClockFaults();
    const clock = new ReplicaClock(base, { wallSkewMs: 1_000, wallFaults: faults });
    const wall0 = clock.wallNow();
    faults.freeze(clock.wallNow(), base.now());
    await base.advance(30_000);
    expect(clock.wallNow()).toBe(wall0);
    expect(clock.now()).toBe(30_000);
    faults.unfreeze(base.now(), 'from-where-it-stood');
    expect(clock.wallNow()).toBe(wall0);
    await base.advance(5_000);
    expect(clock.wallNow()).toBe(wall0 + 5_000);
  });

  it('jumps a frozen wall clock forward to its unfaulted reading when told to', async () => {
    const base = new FakeClock();
    const faults = new WallClockFaults();
    const clock = new ReplicaClock(base, { wallFaults: faults });
    const wall0 = clock.wallNow();
    faults.freeze(clock.wallNow(), base.now());
    await base.advance(12_000);
    faults.unfreeze(base.now(), 'jump-forward');
    expect(clock.wallNow()).toBe(wall0 + 12_000);
  });

  it('steps the wall clock back and keeps it back, also for the next process on the same machine', async () => {
    const base = new FakeClock();
    const faults = new WallClockFaults();
    const clock = new ReplicaClock(base, { wallFaults: faults });
    await base.advance(10_000);
    const before = clock.wallNow();
    faults.stepBack(7_000);
    expect(clock.wallNow()).toBe(before - 7_000);
    expect(clock.now()).toBe(10_000); // monotonic time never steps
    const restarted = new ReplicaClock(base, { wallFaults: faults });
    expect(restarted.wallNow()).toBe(base.wallNow() - 7_000);
  });

  it('runs its monotonic and wall clocks at its own rate and skew', async () => {
    const base = new FakeClock();
    const clock = new ReplicaClock(base, { driftRate: 0.01, wallSkewMs: -2_000, startMs: 500 });
    const wall0 = clock.wallNow();
    expect(wall0).toBe(base.wallNow() - 2_000);
    await base.advance(10_000);
    expect(clock.now()).toBeCloseTo(500 + 10_100, 6);
    expect(clock.wallNow() - wall0).toBeCloseTo(10_100, 6);
  });

  it('fires a timer when its own clock reaches the due time, not the virtual one', async () => {
    const base = new FakeClock();
    const fast = new ReplicaClock(base, { driftRate: 0.25 });
    let firedAt = -1;
    fast.setTimeout(() => (firedAt = base.now()), 1_000);
    await base.advance(799);
    expect(firedAt).toBe(-1);
    await base.advance(2);
    expect(firedAt).toBeCloseTo(800, 6);
    expect(fast.pendingTimers).toBe(0);
  });

  it('never fires a timer before now() reaches its due time, also after a rate change', async () => {
    const base = new FakeClock();
    const clock = new ReplicaClock(base, { driftRate: 0.01, startMs: 123_456.789 });
    const early: number[] = [];
    for (let i = 1; i <= 50; i++) {
      const due = clock.now() + i * 37.3;
      clock.setTimeout(() => {
        if (clock.now() < due) early.push(i);
      }, i * 37.3);
    }
    await base.advance(500);
    clock.setDriftRate(-0.01);
    await base.advance(5_000);
    expect(early).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('queues timers that come due while paused and runs them in due order on resume', async () => {
    const base = new FakeClock();
    const clock = new ReplicaClock(base);
    const order: string[] = [];
    clock.setTimeout(() => order.push('b'), 200);
    clock.setTimeout(() => order.push('a'), 100);
    clock.setTimeout(() => order.push('late'), 10_000);
    clock.pause();
    await base.advance(1_000);
    expect(order).toEqual([]);
    expect(clock.queuedTimers).toBe(2);
    let caughtUp = false;
    clock.onCaughtUp = () => (caughtUp = true);
    clock.resume();
    expect(clock.suspended).toBe(true);
    await base.advance(0);
    expect(order).toEqual(['a', 'b']);
    expect(caughtUp).toBe(true);
    expect(clock.suspended).toBe(false);
    await base.advance(9_000);
    expect(order).toEqual(['a', 'b', 'late']);
  });

  it('lets promise callbacks of one released timer settle before the next runs', async () => {
    const base = new FakeClock();
    const clock = new ReplicaClock(base);
    const order: string[] = [];
    clock.setTimeout(() => {
      order.push('first');
      void Promise.resolve().then(() => order.push('first settled'));
    }, 10);
    clock.setTimeout(() => order.push('second'), 20);
    clock.pause();
    await base.advance(100);
    clock.resume();
    await base.advance(0);
    expect(order).toEqual(['first', 'first settled', 'second']);
  });

  it('drops every timer of a killed process and leaves nothing pending', async () => {
    const base = new FakeClock();
    const clock = new ReplicaClock(base);
    let fired = 0;
    clock.setTimeout(() => fired++, 10);
    clock.pause();
    clock.setTimeout(() => fired++, 5);
    await base.advance(50);
    clock.kill();
    clock.setTimeout(() => fired++, 1);
    expect(base.pendingTimers).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    clock.resume();
    await base.advance(1_000);
    expect(fired).toBe(0);
  });

  it('on resume keeps timers in due order and interleaves I/O callbacks with them at random, per seed', async () => {
    const orders = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) {
      const base = new FakeClock();
      const clock = new ReplicaClock(base, { random: seededRandom(seed) });
      const order: string[] = [];
      clock.setTimeout(() => order.push('user timer'), 100);
      clock.setTimeout(() => order.push('renew timer'), 200);
      clock.setTimeout(() => order.push('guard timer'), 300);
      clock.setIoTimeout(() => order.push('answer'), 150);
      clock.pause();
      await base.advance(1_000);
      clock.resume();
      await base.advance(0);
      const timers = order.filter((o) => o !== 'answer');
      expect(timers).toEqual(['user timer', 'renew timer', 'guard timer']);
      orders.add(order.join(', '));
    }
    // The answer that arrived during the pause ran before every timer in some seeds, after every one in others.
    expect(orders).toContain('answer, user timer, renew timer, guard timer');
    expect(orders).toContain('user timer, renew timer, guard timer, answer');
  });

  it('replays the same resume order for the same seed', async () => {
    const run = async (): Promise<string> => {
      const base = new FakeClock();
      const clock = new ReplicaClock(base, { random: seededRandom(7) });
      const order: string[] = [];
      for (let i = 0; i < 5; i++) clock.setTimeout(() => order.push(`t${i}`), 10 * (i + 1));
      for (let i = 0; i < 5; i++) clock.setIoTimeout(() => order.push(`io${i}`), 10 * (i + 1) + 5);
      clock.pause();
      await base.advance(500);
      clock.resume();
      await base.advance(0);
      return order.join(' ');
    };
    expect(await run()).toBe(await run());
  });

  it('without a random source runs the backlog in due order, I/O included', async () => {
    const base = new FakeClock();
    const clock = new ReplicaClock(base);
    const order: string[] = [];
    clock.setIoTimeout(() => order.push('answer'), 150);
    clock.setTimeout(() => order.push('guard timer'), 300);
    clock.setTimeout(() => order.push('user timer'), 100);
    clock.pause();
    await base.advance(1_000);
    clock.resume();
    await base.advance(0);
    expect(order).toEqual(['user timer', 'answer', 'guard timer']);
  });

  it('clears a queued timer so it never runs after resume', async () => {
    const base = new FakeClock();
    const clock = new ReplicaClock(base);
    let fired = false;
    const handle = clock.setTimeout(() => (fired = true), 10);
    clock.pause();
    await base.advance(20);
    clock.clearTimeout(handle);
    clock.resume();
    await base.advance(10);
    expect(fired).toBe(false);
    expect(base.pendingTimers).toBe(0);
  });
});
