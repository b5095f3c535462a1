import { describe, expect, it } from '@jest/globals';
import { invoke, isPromiseLike, notify, settleWithin } from './callbacks.js';
import type { LogFields, SafeLogger } from './logger.js';
import { FakeClock, settle } from './testing/fake-clock.js';

function recordingLog(): SafeLogger & { lines: { level: string; message: string; fields: LogFields | undefined }[] } {
  const lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => void lines.push({ level, message, fields });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('invoke', () => {
  it('logs a callback that throws and hands the error on, without throwing itself', () => {
    const log = recordingLog();
    const seen: unknown[] = [];
    expect(() => invoke(log, 'onNewLeader', () => { throw new Error('boom'); }, (err) => seen.push(err))).not.toThrow();
    expect(log.lines).toEqual([{ level: 'error', message: 'onNewLeader callback failed', fields: { error: expect.stringContaining('boom') } }]);
    expect(seen).toEqual([new Error('boom')]);
  });

  it('does not wait for an async callback, and logs its rejection when it comes', async () => {
    const log = recordingLog();
    let reject!: (err: unknown) => void;
    const seen: unknown[] = [];
    invoke(log, 'onStartedLeading', () => new Promise((_, r) => (reject = r)), (err) => seen.push(err));
    expect(log.lines).toEqual([]);
    reject(new Error('later'));
    await settle();
    expect(log.lines.map((l) => l.message)).toEqual(['onStartedLeading callback failed']);
    expect(seen).toHaveLength(1);
  });

  it('stays silent for callbacks that succeed', async () => {
    const log = recordingLog();
    invoke(log, 'a', () => 1);
    invoke(log, 'b', () => Promise.resolve(2));
    await settle();
    expect(log.lines).toEqual([]);
  });
});

describe('settleWithin', () => {
  it('resolves true when the callback settles in time, and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const log = recordingLog();
    const done = settleWithin(clock, log, () => new Promise<void>((resolve) => clock.setTimeout(() => resolve(), 1_000)), 5_000, 'onStoppedLeading');
    await clock.advance(1_000);
    await expect(done).resolves.toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('resolves false once the timeout passes on the injected clock, and leaves no timer behind', async () => {
    const clock = new FakeClock();
    const log = recordingLog();
    let result: boolean | undefined;
    void settleWithin(clock, log, () => new Promise(() => undefined), 5_000, 'onStoppedLeading').then((r) => (result = r));
    await clock.advance(4_999);
    expect(result).toBeUndefined();
    await clock.advance(1);
    expect(result).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts a throw or a rejection as settled, logging it', async () => {
    const clock = new FakeClock();
    const log = recordingLog();
    await expect(settleWithin(clock, log, () => { throw new Error('sync'); }, 5_000, 'onStoppedLeading')).resolves.toBe(true);
    await expect(settleWithin(clock, log, () => Promise.reject(new Error('async')), 5_000, 'onStoppedLeading')).resolves.toBe(true);
    expect(log.lines.map((l) => [l.level, l.message])).toEqual([
      ['error', 'onStoppedLeading callback failed'],
      ['error', 'onStoppedLeading callback failed'],
    ]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('resolves true at once, without a timer, for a synchronous callback', async () => {
    const clock = new FakeClock();
    const pending = settleWithin(clock, recordingLog(), () => undefined, 5_000, 'onStoppedLeading');
    expect(clock.pendingTimers).toBe(0);
    await expect(pending).resolves.toBe(true);
  });
});

describe('notify', () => {
  it('logs a throwing observer hook at warn level and carries on', () => {
    const log = recordingLog();
    expect(() => notify(log, () => { throw new Error('hook'); })).not.toThrow();
    expect(log.lines).toEqual([{ level: 'warn', message: 'observer hook failed', fields: { error: expect.stringContaining('hook') } }]);
  });
});

describe('isPromiseLike', () => {
  it('recognises thenables and nothing else', () => {
    expect(isPromiseLike(Promise.resolve())).toBe(true);
    expect(isPromiseLike({ then: () => undefined })).toBe(true);
    expect([undefined, null, 0, 'then', {}, { then: 1 }].map(isPromiseLike)).toEqual([false, false, false, false, false, false]);
  });
});
