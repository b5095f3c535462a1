import { describe, expect, it } from '@jest/globals';
import { sleep } from '../clock.js';
import { FakeClock, settle } from './fake-clock.js';

describe('FakeClock timers', () => {
  it('fires timers in due order, not creation order', async () => {
    const clock = new FakeClock();
    const fired: string[] = [];
    clock.setTimeout(() => fired.push('c@30'), 30);
    clock.setTimeout(() => fired.push('a@10'), 10);
    clock.setTimeout(() => fired.push('b@20'), 20);
    await clock.advance(30);
    expect(fired).toEqual(['a@10', 'b@20', 'c@30']);
  });

  it('fires timers due at the same time in creation order', async () => {
    const clock = new FakeClock();
    const fired: number[] = [];
    for (let i = 0; i < 5; i++) clock.setTimeout(() => fired.push(i), 100);
    await clock.advance(100);
    expect(fired).toEqual([0, 1, 2, 3, 4]);
  });

  it('runs each timer with now() at its due time', async () => {
    const clock = new FakeClock({ startMs: 1000 });
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 15);
    clock.setTimeout(() => seen.push(clock.now()), 40);
    await clock.advance(100);
    expect(seen).toEqual([1015, 1040]);
    expect(clock.now()).toBe(1100);
  });

  it('does not fire a timer before it is due, and fires it exactly at its due time', async () => {
    const clock = new FakeClock();
    let fired = false;
    clock.setTimeout(() => (fired = true), 50);
    await clock.advance(49);
    expect(fired).toBe(false);
    await clock.advance(1);
    expect(fired).toBe(true);
  });

  it('treats a negative delay as zero', async () => {
    const clock = new FakeClock();
    let fired = false;
    clock.setTimeout(() => (fired = true), -100);
    await clock.advance(0);
    expect(fired).toBe(true);
  });

  it('never fires a timer with a non-finite delay', async () => {
    const clock = new FakeClock();
    let fired = 0;
    clock.setTimeout(() => fired++, Infinity);
    clock.setTimeout(() => fired++, Number.NaN);
    await clock.advance(1e12);
    expect(fired).toBe(0);
    expect(clock.pendingTimers).toBe(2);
  });

  it('lets promise chains settle between timers, so async code sees time move as it would', async () => {
    const clock = new FakeClock();
    const seen: string[] = [];
    const chain = (async () => {
      await sleep(clock, 10);
      seen.push(`first sleep ended at ${clock.now()}`);
      await Promise.resolve();
      await Promise.resolve();
      await sleep(clock, 5);
      seen.push(`second sleep ended at ${clock.now()}`);
    })();
    clock.setTimeout(() => seen.push('timer at 12'), 12);
    await clock.advance(20);
    expect(seen).toEqual(['first sleep ended at 10', 'timer at 12', 'second sleep ended at 15']);
    await chain;
  });

  it('fires a timer scheduled by another timer within the same advance', async () => {
    const clock = new FakeClock();
    const seen: number[] = [];
    clock.setTimeout(() => {
      seen.push(clock.now());
      clock.setTimeout(() => seen.push(clock.now()), 0);
      clock.setTimeout(() => seen.push(clock.now()), 5);
    }, 10);
    await clock.advance(15);
    expect(seen).toEqual([10, 10, 15]);
  });

  it('reports the due time of the next pending timer', () => {
    const clock = new FakeClock({ startMs: 100 });
    expect(clock.nextTimerDueMs()).toBeUndefined();
    clock.setTimeout(() => undefined, 50);
    clock.setTimeout(() => undefined, 20);
    expect(clock.nextTimerDueMs()).toBe(120);
  });
});

describe('FakeClock.clearTimeout', () => {
  it('cancels a pending timer', async () => {
    const clock = new FakeClock();
    let fired = false;
    const handle = clock.setTimeout(() => (fired = true), 10);
    expect(clock.pendingTimers).toBe(1);
    clock.clearTimeout(handle);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(100);
    expect(fired).toBe(false);
  });

  it('cancels a later timer from inside an earlier one', async () => {
    const clock = new FakeClock();
    let fired = false;
    const later = clock.setTimeout(() => (fired = true), 20);
    clock.setTimeout(() => clock.clearTimeout(later), 10);
    await clock.advance(30);
    expect(fired).toBe(false);
  });

  it('ignores clearing a fired or already cleared timer', async () => {
    const clock = new FakeClock();
    const fired = clock.setTimeout(() => undefined, 1);
    const other = clock.setTimeout(() => undefined, 100);
    await clock.advance(1);
    clock.clearTimeout(fired);
    clock.clearTimeout(fired);
    expect(clock.pendingTimers).toBe(1);
    clock.clearTimeout(other);
    clock.clearTimeout(other);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('FakeClock never goes backwards', () => {
  it.each([-1, Number.NaN])('refuses advance(%s)', async (ms) => {
    const clock = new FakeClock({ startMs: 10 });
    await expect(clock.advance(ms)).rejects.toThrow(RangeError);
    expect(clock.now()).toBe(10);
  });

  it('refuses advanceTo a time in the past', async () => {
    const clock = new FakeClock({ startMs: 10 });
    await expect(clock.advanceTo(9)).rejects.toThrow(RangeError);
    expect(clock.now()).toBe(10);
  });

  it('allows advance(0), which only lets promises settle and fires what is due now', async () => {
    const clock = new FakeClock();
    let fired = false;
    clock.setTimeout(() => (fired = true), 0);
    await clock.advance(0);
    expect(fired).toBe(true);
    expect(clock.now()).toBe(0);
  });
});

describe('FakeClock.advanceUntil', () => {
  it('returns true as soon as the predicate holds, without running to the limit', async () => {
    const clock = new FakeClock();
    let ready = false;
    clock.setTimeout(() => (ready = true), 35);
    expect(await clock.advanceUntil(() => ready, 1000, 10)).toBe(true);
    expect(clock.now()).toBe(40);
  });

  it('returns false at its limit when the predicate never holds, with time at the limit', async () => {
    const clock = new FakeClock({ startMs: 5 });
    expect(await clock.advanceUntil(() => false, 100, 30)).toBe(false);
    expect(clock.now()).toBe(105);
  });

  it('returns true without advancing when the predicate already holds', async () => {
    const clock = new FakeClock();
    expect(await clock.advanceUntil(() => true, 100)).toBe(true);
    expect(clock.now()).toBe(0);
  });
});

describe('FakeClock wall time', () => {
  it('starts at 2025-01-01T00:00:00Z by default', () => {
    expect(new FakeClock().wallNow()).toBe(Date.UTC(2025, 0, 1));
  });

  it('moves wall time with monotonic time, from the given start', async () => {
    const clock = new FakeClock({ startMs: 500, startWallMs: Date.UTC(2030, 5, 1) });
    expect(clock.now()).toBe(500);
    expect(clock.wallNow()).toBe(Date.UTC(2030, 5, 1));
    await clock.advance(1234);
    expect(clock.now()).toBe(1734);
    expect(clock.wallNow()).toBe(Date.UTC(2030, 5, 1) + 1234);
  });
});

describe('settle', () => {
  it('lets queued promise callbacks run', async () => {
    let done = false;
    void Promise.resolve()
      .then(() => undefined)
      .then(() => (done = true));
    await settle();
    expect(done).toBe(true);
  });
});
