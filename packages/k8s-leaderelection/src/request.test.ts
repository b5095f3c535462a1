/**
 * The one deadline mechanism (`RequestDeadline`) and its AbortSignal form (`boundedSignal`), on a
 * FakeClock: a request ends at its timeout or when the caller's signal aborts, whichever comes
 * first, with the reason each user asked for, and leaves no timer or listener behind.
 */
import { describe, expect, it } from '@jest/globals';
import { RequestTimeoutError } from './errors.js';
import { RequestDeadline, boundedSignal } from './request.js';
import { FakeClock } from './testing/fake-clock.js';

const reasons = {
  timedOut: () => 'timed out',
  aborted: (signal: AbortSignal) => `aborted: ${String(signal.reason)}`,
};

describe('RequestDeadline', () => {
  it('ends with the timeout reason when its time is up, and calls onEnd once', async () => {
    const clock = new FakeClock();
    const deadline = new RequestDeadline(clock, 100, undefined, reasons);
    const ends: string[] = [];
    deadline.onEnd = (reason) => ends.push(reason);
    await clock.advance(99);
    expect(deadline.ended).toBe(false);
    await clock.advance(1);
    expect(deadline.ended).toBe(true);
    expect(deadline.reason).toBe('timed out');
    expect(ends).toEqual(['timed out']);
    expect(clock.pendingTimers).toBe(0);
  });

  it("ends with the caller's reason when its signal aborts first, and clears its timer", () => {
    const clock = new FakeClock();
    const caller = new AbortController();
    const deadline = new RequestDeadline(clock, 100, caller.signal, reasons);
    const ends: string[] = [];
    deadline.onEnd = (reason) => ends.push(reason);
    caller.abort('stop');
    expect(deadline.reason).toBe('aborted: stop');
    expect(ends).toEqual(['aborted: stop']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('has ended before it began when the signal is already aborted, and arms no timer', () => {
    const clock = new FakeClock();
    const deadline = new RequestDeadline(clock, 100, AbortSignal.abort('gone'), reasons);
    expect(deadline.ended).toBe(true);
    expect(deadline.reason).toBe('aborted: gone');
    expect(clock.pendingTimers).toBe(0);
  });

  it('calls nothing after dispose: neither the timeout nor a later abort ends it', async () => {
    const clock = new FakeClock();
    const caller = new AbortController();
    const deadline = new RequestDeadline(clock, 100, caller.signal, reasons);
    const ends: string[] = [];
    deadline.onEnd = (reason) => ends.push(reason);
    deadline.dispose();
    caller.abort('late');
    await clock.advance(200);
    expect(deadline.ended).toBe(false);
    expect(ends).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('boundedSignal', () => {
  it('aborts with a RequestTimeoutError naming the timeout when its time is up', async () => {
    const clock = new FakeClock();
    const bounded = boundedSignal(clock, 250);
    await clock.advance(250);
    expect(bounded.signal.aborted).toBe(true);
    expect(bounded.signal.reason).toBeInstanceOf(RequestTimeoutError);
    expect((bounded.signal.reason as Error).message).toBe('request timed out after 250 ms');
    bounded.dispose();
  });

  it("aborts with the parent's own reason, at once for a parent aborted already", () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const reason = new Error('stopping');
    const live = boundedSignal(clock, 250, parent.signal);
    parent.abort(reason);
    expect(live.signal.reason).toBe(reason);
    const late = boundedSignal(clock, 250, parent.signal);
    expect(late.signal.aborted).toBe(true);
    expect(late.signal.reason).toBe(reason);
    live.dispose();
    late.dispose();
    expect(clock.pendingTimers).toBe(0);
  });

  it('stays live after dispose: its timer and the parent listener are gone', async () => {
    const clock = new FakeClock();
    const parent = new AbortController();
    const bounded = boundedSignal(clock, 250, parent.signal);
    bounded.dispose();
    parent.abort();
    await clock.advance(500);
    expect(bounded.signal.aborted).toBe(false);
  });
});
