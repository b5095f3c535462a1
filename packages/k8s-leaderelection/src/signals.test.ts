import { describe, expect, it } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { startNow, worldWithEmptyLease } from './__tests__/harness.js';
import { linkSignals } from './signals.js';

/**
 * The set in which Node records every `AbortSignal.any()` made from a source signal, found on a
 * control signal first, so the check below cannot pass just because Node renamed it.
 */
function dependentRecords(signal: AbortSignal): number {
  const control = new AbortController().signal;
  AbortSignal.any([control]);
  const isSet = (value: unknown): value is Set<unknown> => Object.prototype.toString.call(value) === '[object Set]'; // another realm's Set under jest
  const key = Object.getOwnPropertySymbols(control).find((s) => isSet((control as unknown as Record<symbol, unknown>)[s]));
  if (key === undefined) throw new Error("this Node version keeps no record of AbortSignal.any() on its sources; update the check");
  const records = (signal as unknown as Record<symbol, Set<unknown> | undefined>)[key];
  return records?.size ?? 0;
}

describe('linkSignals', () => {
  it('aborts with the reason of whichever source aborts first', () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = linkSignals([a.signal, b.signal]);
    expect(linked.signal.aborted).toBe(false);
    b.abort('b went');
    expect(linked.signal.aborted).toBe(true);
    expect(linked.signal.reason).toBe('b went');
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0); // detached from the other source too
  });

  it('is aborted at once when a source already is', () => {
    const a = new AbortController();
    const b = new AbortController();
    b.abort('already');
    const linked = linkSignals([a.signal, b.signal]);
    expect(linked.signal.reason).toBe('already');
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0);
  });

  it('leaves nothing on its sources after dispose(), and no longer follows them', () => {
    const a = new AbortController();
    const linked = linkSignals([a.signal]);
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(1);
    linked.dispose();
    linked.dispose();
    expect(getEventListeners(a.signal, 'abort')).toHaveLength(0);
    a.abort();
    expect(linked.signal.aborted).toBe(false);
  });
});

describe('Elector: a replica leading for a long time', () => {
  it('leaves nothing behind on the run signal, term after term', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a'));
    expect(a.elector.isLeader()).toBe(true);
    const listenersWhileLeading = getEventListeners(a.controller.signal, 'abort').length;
    for (let i = 0; i < 100; i++) {
      const resigned = a.elector.resign({ cooldownMs: 0 });
      await w.clock.advance(0);
      await resigned;
      expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 10_000)).toBe(true);
    }
    expect(a.log.started).toHaveLength(101);
    expect(getEventListeners(a.controller.signal, 'abort').length).toBe(listenersWhileLeading);
    expect(dependentRecords(a.controller.signal)).toBe(0);
    await a.stop();
    // Fake time, but 100 terms of promise turns: about 3 s alone, past 30 s under jest's
    // --detectOpenHandles (its async hooks) on a loaded machine. The room is for that, not a timing claim.
  }, 180_000);
});
