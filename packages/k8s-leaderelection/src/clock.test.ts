import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { MAX_TIMER_DELAY_MS, sleep, systemClock } from './clock.js';
import { FakeClock } from './testing/fake-clock.js';

function abortListeners(signal: AbortSignal): number {
  return getEventListeners(signal, 'abort').length;
}

describe('sleep', () => {
  it('resolves after the delay on the given clock, not before', async () => {
    const clock = new FakeClock();
    let done = false;
    void sleep(clock, 100).then(() => (done = true));
    await clock.advance(99);
    expect(done).toBe(false);
    await clock.advance(1);
    expect(done).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('resolves as soon as the signal aborts and leaves no timer or listener behind', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    let done = false;
    void sleep(clock, 60_000, controller.signal).then(() => (done = true));
    expect(clock.pendingTimers).toBe(1);
    expect(abortListeners(controller.signal)).toBe(1);
    controller.abort();
    await clock.advance(0);
    expect(done).toBe(true);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    expect(abortListeners(controller.signal)).toBe(0);
  });

  it('resolves at once, without a timer, when the signal has already aborted', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    controller.abort();
    await sleep(clock, 60_000, controller.signal);
    expect(clock.pendingTimers).toBe(0);
    expect(abortListeners(controller.signal)).toBe(0);
  });

  it('removes its abort listener when it ends normally, so long-lived signals do not collect listeners', async () => {
    const clock = new FakeClock();
    const controller = new AbortController();
    for (let i = 0; i < 20; i++) {
      const pending = sleep(clock, 10, controller.signal);
      await clock.advance(10);
      await pending;
    }
    expect(abortListeners(controller.signal)).toBe(0);
  });
});

describe('systemClock', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('splits a delay above 2^31-1 ms into chunks instead of firing early', () => {
    jest.useFakeTimers();
    const callback = jest.fn();
    systemClock.setTimeout(callback, MAX_TIMER_DELAY_MS + 5_000);
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(callback).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(4_999);
    expect(callback).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(callback).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('keeps a lease-sized wait of many weeks pending for its whole length', () => {
    jest.useFakeTimers();
    const fourtyDaysMs = 40 * 24 * 3600_000;
    expect(fourtyDaysMs).toBeGreaterThan(MAX_TIMER_DELAY_MS);
    const callback = jest.fn();
    systemClock.setTimeout(callback, fourtyDaysMs);
    jest.advanceTimersByTime(fourtyDaysMs - 1);
    expect(callback).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(callback).toHaveBeenCalledTimes(1);
  });

  it('cancels a chained timer in any chunk', () => {
    jest.useFakeTimers();
    const callback = jest.fn();
    const handle = systemClock.setTimeout(callback, MAX_TIMER_DELAY_MS * 2);
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS + 10);
    expect(jest.getTimerCount()).toBe(1);
    systemClock.clearTimeout(handle);
    expect(jest.getTimerCount()).toBe(0);
    jest.advanceTimersByTime(MAX_TIMER_DELAY_MS * 2);
    expect(callback).not.toHaveBeenCalled();
  });

  it('fires a short timer once, on time', () => {
    jest.useFakeTimers();
    const callback = jest.fn();
    systemClock.setTimeout(callback, 250);
    jest.advanceTimersByTime(249);
    expect(callback).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    expect(callback).toHaveBeenCalledTimes(1);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('treats a negative delay as zero', () => {
    jest.useFakeTimers();
    const callback = jest.fn();
    systemClock.setTimeout(callback, -5);
    jest.advanceTimersByTime(0);
    expect(callback).toHaveBeenCalledTimes(1);
  });

  it('runs a zero delay on the next turn of the event loop, ahead of a 1 ms timer armed just before it', async () => {
    // Node clamps setTimeout(0) to 1 ms; a follower that may take a released Lease now must not
    // wait that millisecond. Armed from inside a timer callback, an immediate runs in this turn's
    // check phase, before the next turn's timers, so the order below is deterministic.
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      const fired = (name: string): void => {
        order.push(name);
        if (order.length === 2) resolve();
      };
      setTimeout(() => {
        setTimeout(() => fired('1 ms timer'), 1);
        systemClock.setTimeout(() => fired('zero delay'), 0);
      }, 0);
    });
    expect(order).toEqual(['zero delay', '1 ms timer']);
  });

  it('cancels a zero-delay timer before it runs', () => {
    jest.useFakeTimers();
    const callback = jest.fn();
    const handle = systemClock.setTimeout(callback, 0);
    systemClock.clearTimeout(handle);
    jest.advanceTimersByTime(10);
    expect(callback).not.toHaveBeenCalled();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('ignores clearing a timer that already fired, or twice', () => {
    jest.useFakeTimers();
    const handle = systemClock.setTimeout(() => undefined, 1);
    jest.advanceTimersByTime(1);
    expect(() => {
      systemClock.clearTimeout(handle);
      systemClock.clearTimeout(handle);
    }).not.toThrow();
  });

  it('measures durations on a monotonic clock and reads the wall clock separately', () => {
    jest.useFakeTimers({ now: Date.UTC(2025, 0, 1) });
    const start = systemClock.now();
    jest.advanceTimersByTime(1500);
    expect(systemClock.now() - start).toBe(1500);
    expect(systemClock.wallNow()).toBe(Date.UTC(2025, 0, 1) + 1500);
    jest.setSystemTime(Date.UTC(2020, 0, 1)); // someone sets the wall clock back
    expect(systemClock.now() - start).toBe(1500);
    expect(systemClock.wallNow()).toBe(Date.UTC(2020, 0, 1));
  });
});
