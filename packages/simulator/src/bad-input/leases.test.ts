/**
 * Bad-input matrix, part 2: malformed Leases from the API. The GET answers below are what a
 * broken or hostile API (or a human's kubectl edit that skipped validation) could return; writes
 * still go to the validating store. What the user gets: a warning logged once ("Malformed lease
 * content; treating it conservatively") and conservative behaviour: garbage never makes a held
 * lease look free or expired early. Nothing may crash the loop, hang it or leak a timer.
 */
import { describe, expect, it } from '@jest/globals';
import { DEFAULT_LEASE_DURATION_MS, DEFAULT_RETRY_PERIOD_MS, type Lease, type LeaseClient } from '@leasekit/k8s-leaderelection';
import type { MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { rig } from './harness.js';

type Outcome =
  /** Treated as free: leads at once. */
  | 'leads at once'
  /** Treated as held by someone else: takes over only after the default lease duration (15 s). */
  | 'takes over after a lease duration'
  /** The holder's (huge) duration is honoured: no takeover within an hour. */
  | 'never takes over early'
  /** Cannot write a compare-and-swap without metadata: keeps retrying, never leads. */
  | 'keeps retrying without leading'
  /** A watching follower whose GETs are broken takes the free Lease its watch shows, with one write. */
  | 'leads from its watch';

interface Case {
  label: string;
  mutate: (lease: Lease) => unknown;
  outcome: Outcome;
  /** The malformed-content warning is expected (some cases are well-formed but odd). */
  warns: boolean;
}

/** The elector's longest backoff before jitter: min(4 R, L / 2) with the default timings. */
const MAX_BACKOFF_MS = Math.min(4 * DEFAULT_RETRY_PERIOD_MS, DEFAULT_LEASE_DURATION_MS / 2);

const held = (spec: Record<string, unknown>) => (l: Lease) => ({ ...l, spec: { ...l.spec, holderIdentity: 'other', leaseDurationSeconds: 15, ...spec } });

const CASES: Case[] = [
  { label: 'no spec', mutate: (l) => ({ ...l, spec: undefined }), outcome: 'leads at once', warns: true },
  { label: 'spec null', mutate: (l) => ({ ...l, spec: null }), outcome: 'leads at once', warns: true },
  { label: 'spec an array', mutate: (l) => ({ ...l, spec: [] }), outcome: 'leads at once', warns: true },
  { label: 'no metadata', mutate: (l) => ({ ...l, metadata: undefined }), outcome: 'keeps retrying without leading', warns: false },
  { label: 'the body a string', mutate: () => 'garbage', outcome: 'keeps retrying without leading', warns: false }, // a failed request, not a Lease
  { label: 'the body an array', mutate: () => [], outcome: 'keeps retrying without leading', warns: false }, // a failed request, not a Lease
  { label: 'holderIdentity a number', mutate: held({ holderIdentity: 42 }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'holderIdentity an object', mutate: held({ holderIdentity: { name: 'x' } }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'holderIdentity an array', mutate: held({ holderIdentity: ['x'] }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'holderIdentity 1 MB long', mutate: held({ holderIdentity: 'x'.repeat(1 << 20) }), outcome: 'takes over after a lease duration', warns: false },
  { label: 'renewTime and acquireTime unparsable', mutate: held({ renewTime: 'yesterday', acquireTime: 12 }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'renewTime far in the future', mutate: held({ renewTime: '2999-01-01T00:00:00.000000Z' }), outcome: 'takes over after a lease duration', warns: false },
  { label: 'leaseDurationSeconds negative', mutate: held({ leaseDurationSeconds: -5 }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'leaseDurationSeconds zero', mutate: held({ leaseDurationSeconds: 0 }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'leaseDurationSeconds fractional', mutate: held({ leaseDurationSeconds: 1.5 }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'leaseDurationSeconds a string', mutate: held({ leaseDurationSeconds: '1' }), outcome: 'takes over after a lease duration', warns: true },
  { label: 'leaseDurationSeconds missing', mutate: held({ leaseDurationSeconds: undefined }), outcome: 'takes over after a lease duration', warns: false },
  { label: 'leaseDurationSeconds the int32 maximum', mutate: held({ leaseDurationSeconds: 2 ** 31 - 1 }), outcome: 'never takes over early', warns: false },
  { label: 'leaseDurationSeconds 1e308', mutate: held({ leaseDurationSeconds: 1e308 }), outcome: 'never takes over early', warns: true },
  { label: 'leaseTransitions negative', mutate: (l) => ({ ...l, spec: { ...l.spec, leaseTransitions: -3 } }), outcome: 'leads at once', warns: true },
  { label: 'leaseTransitions beyond int32', mutate: (l) => ({ ...l, spec: { ...l.spec, leaseTransitions: 2 ** 40 } }), outcome: 'leads at once', warns: true },
];

/** Every GET answers the malformed version of the stored Lease; writes reach the store. */
function malformedGets(mutate: (lease: Lease) => unknown) {
  return (memory: MemoryLeaseClient): LeaseClient => ({
    get: async (ns, name, options) => mutate(await memory.get(ns, name, options)) as Lease,
    create: (ns, lease, options) => memory.create(ns, lease, options),
    update: (ns, lease, options) => memory.update(ns, lease, options),
    watch: (ns, name, options) => memory.watch(ns, name, options),
  });
}

describe.each(['poll', 'watch'] as const)('bad input: malformed Leases from the API (%s follower)', (followerStrategy) => {
  it.each(CASES)('$label: $outcome, without crashing, hanging or leaking', async ({ mutate, outcome, warns }) => {
    const r = rig({ config: { followerStrategy }, wrap: malformedGets(mutate) });
    // Only the GETs are broken here: a watching follower sees the real, free Lease on its watch and
    // takes it with one compare-and-swap write (no GET), so a case a GET cannot get past leads at once.
    const expected: Outcome = followerStrategy === 'watch' && outcome === 'keeps retrying without leading' ? 'leads from its watch' : outcome;
    switch (expected) {
      case 'leads at once':
        await r.clock.advance(100);
        expect(r.elector.isLeader()).toBe(true);
        break;
      case 'leads from its watch':
        // After its first GET failed and its backoff (about 3.5 s here), from the watched record.
        expect(await r.clock.advanceUntil(() => r.elector.isLeader(), 60_000)).toBe(true);
        expect(r.store.get('default', 'bad-input').spec?.holderIdentity).toBe('me');
        break;
      case 'takes over after a lease duration':
        await r.clock.advance(14_000);
        expect(r.elector.isLeader()).toBe(false);
        await r.clock.advance(6_000);
        expect(r.elector.isLeader()).toBe(true);
        expect(r.store.get('default', 'bad-input').spec?.holderIdentity).toBe('me');
        break;
      case 'never takes over early':
        await r.clock.advance(3_600_000);
        expect(r.elector.isLeader()).toBe(false);
        break;
      case 'keeps retrying without leading': {
        await r.clock.advance(60_000);
        expect(r.elector.isLeader()).toBe(false);
        // Backing off like client-go ([R, 2.2 R) after a failure, doubling for repeated ones up to
        // min(4 R, L / 2) before jitter), it still looks at least about once per lease duration.
        const gets = r.memory.calls.filter((c) => c.verb === 'get').map((c) => c.atMs);
        expect(gets.length).toBeGreaterThanOrEqual(4);
        const gaps = gets.slice(1).map((at, i) => at - gets[i]!);
        expect(Math.min(...gaps)).toBeGreaterThanOrEqual(DEFAULT_RETRY_PERIOD_MS - 1);
        expect(Math.max(...gaps)).toBeLessThanOrEqual(2.2 * MAX_BACKOFF_MS + 1_000);
        expect(r.logs.some((l) => l.level === 'warn' && l.message === 'Lease request failed')).toBe(true);
        break;
      }
    }
    const malformedWarnings = r.logs.filter((l) => l.message.startsWith('Malformed lease content'));
    if (warns) expect(malformedWarnings).toHaveLength(1);
    else expect(malformedWarnings).toHaveLength(0);
    expect(r.logs.filter((l) => l.level === 'error')).toEqual([]);
    expect(r.settled()).toBe(false); // the loop is still running
    const { resolved, pendingTimers } = await r.stop();
    expect(resolved).toBe(true);
    expect(pendingTimers).toBe(0);
  });
});

describe('bad input: a null Lease body', () => {
  it('keeps a polling follower retrying', async () => {
    const r = rig({ config: { followerStrategy: 'poll' }, wrap: malformedGets(() => null) });
    await r.clock.advance(60_000);
    expect(r.elector.isLeader()).toBe(false);
    expect(r.settled()).toBe(false);
    expect(r.logs.filter((l) => l.level === 'error')).toEqual([]);
    const { resolved, pendingTimers } = await r.stop();
    expect(resolved).toBe(true);
    expect(pendingTimers).toBe(0);
  });

  // Found here and fixed in the elector: with followerStrategy 'watch', a GET answering `null` made
  // the follower read `observed.lease.metadata` of a null lease; the TypeError escaped to run()'s
  // catch-all ("Leader election loop failed") and run() returned: the replica stopped contending
  // for good while its process kept running. A non-object answer is now a failed request.
  it('keeps a watching follower running too', async () => {
    const r = rig({ config: { followerStrategy: 'watch' }, wrap: malformedGets(() => null) });
    await r.clock.advance(60_000);
    expect(r.settled()).toBe(false);
    expect(r.logs.filter((l) => l.level === 'error')).toEqual([]);
    await r.stop();
  });
});
