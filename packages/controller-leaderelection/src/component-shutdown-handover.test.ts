/**
 * Handover on shutdown (`handoverOnShutdown: 'newest'`): each replica keeps a membership Lease;
 * a leader whose run signal aborts hands the lease to the most recently joined live member, or
 * releases when there is none or the list fails. Fake clock, in-memory store; one run on the
 * system clock for open handles.
 */
import { describe, expect, it } from '@jest/globals';
import { ApiError, membershipLeaseName, type ConfigError, type LeaseClient } from '@leasekit/k8s-leaderelection';
import { LeaseStore, MemoryLeaseClient, type MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { makeStatus } from '@leasekit/k8s-leaderelection/internal';
import { LeaderElectionComponent } from './component.js';
import { createLeaderElectionBus } from './events.js';
import { configErrorOf } from './__tests__/config-error.js';
import { isLeaderGauge, joinedApart, LEASE, NS, world, type Replica, type World } from './__tests__/helpers.js';

const HANDOVER = { handoverOnShutdown: 'newest' as const };

/** The identities that called onStartedLeading, in order, from timeline index `from` of each replica. */
function startsSince(replicas: Replica[], marks: Map<string, number>): string[] {
  return replicas.flatMap((r) => r.timeline.slice(marks.get(r.id)).filter((e) => e.kind === 'callback' && e.name === 'onStartedLeading').map(() => r.id));
}

function lostReasons(r: Replica): unknown[] {
  return r.events().filter(([name]) => name === 'leader.lost').map(([, payload]) => payload.reason);
}

function memberLease(w: World, id: string) {
  return w.store.peek(NS, membershipLeaseName(LEASE, id));
}

/** Three replicas joined 5 s apart; `a` leads. */
async function threeReplicas(w: World, options: { c?: Parameters<World['replica']>[1] } = {}) {
  w.createLease();
  const a = w.replica('a', { config: HANDOVER });
  const b = w.replica('b', { config: HANDOVER });
  const c = w.replica('c', { ...options.c, config: { ...HANDOVER, ...options.c?.config } });
  await joinedApart(w, a, [b, c]);
  return { a, b, c };
}

describe('handoverOnShutdown: newest', () => {
  it('hands leadership to the newest live replica when the leader stops: one leadership change, announced once', async () => {
    const w = world(11);
    const { a, b, c } = await threeReplicas(w);
    const seenInLost: Array<{ holder: unknown; isLeader: boolean }> = [];
    a.bus.on('leader.lost', () => void seenInLost.push({ holder: w.store.get(NS, LEASE).spec?.holderIdentity, isLeader: a.component.isLeader() }));
    const marks = new Map([a, b, c].map((r) => [r.id, r.timeline.length]));

    await a.stop();
    expect(await w.clock.advanceUntil(() => c.component.isLeader(), 10_000)).toBe(true);
    await w.clock.advance(60_000);

    expect(startsSince([a, b, c], marks)).toEqual(['c']);
    expect(lostReasons(a)).toEqual(['handed_over']);
    // Announced before the write, while the Lease still named a and a no longer claimed to lead.
    expect(seenInLost).toEqual([{ holder: 'a', isLeader: false }]);
    expect([a, b, c].filter((r) => r.component.isLeader()).map((r) => r.id)).toEqual(['c']);
    expect(b.events().filter(([name]) => name === 'leader.became')).toEqual([]);
    expect(await isLeaderGauge(a)).toBe(0);
    // The old leader left the membership; the others are still members.
    expect(memberLease(w, 'a')).toBeUndefined();
    expect(memberLease(w, 'b')).toBeDefined();
    expect(memberLease(w, 'c')).toBeDefined();
    await b.stop();
    await c.stop();
  });

  it('skips the newest member when its membership expired and hands over to the newest live one', async () => {
    const w = world(12);
    const dead = { on: false };
    const { a, b, c } = await threeReplicas(w, { c: { client: { fault: () => (dead.on ? { kind: 'hang' } : undefined) } } });
    dead.on = true; // c stops reaching the API: its membership is no longer refreshed
    await w.clock.advance(60_000);
    const marks = new Map([a, b, c].map((r) => [r.id, r.timeline.length]));

    await a.stop();
    expect(await w.clock.advanceUntil(() => b.component.isLeader(), 10_000)).toBe(true);
    expect(lostReasons(a)).toEqual(['handed_over']);
    expect(startsSince([a, b, c], marks)).toEqual(['b']);
    await b.stop();
    dead.on = false;
    await c.stop();
  });

  it('releases the lease as usual when no other member is live', async () => {
    const w = world(13);
    w.createLease();
    const a = w.replica('a', { config: HANDOVER });
    a.start();
    await w.clock.advance(30_000);
    const mark = a.client.calls.length;
    await a.stop();
    expect(lostReasons(a)).toEqual(['released']);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
    const sent = a.client.calls.slice(mark).map((call) => `${call.verb}:${call.name === LEASE ? 'election' : call.name === '' ? '' : 'member'}`);
    expect(sent).toEqual(['list:', 'update:election', 'delete:member']);
  });

  it.each([
    ['fails', { kind: 'error' as const, error: new ApiError(makeStatus(403, 'Forbidden', 'cannot list leases')) }],
    ['hangs past the renew deadline', { kind: 'hang' as const }],
  ])('releases when the member list %s, and the other replica takes over', async (_what, fault) => {
    const w = world(14);
    w.createLease();
    // Only a's list fails; everything else works.
    const a = w.replica('a', { config: HANDOVER, client: { fault: (call: MemoryCall) => (call.verb === 'list' ? fault : undefined) } });
    const b = w.replica('b', { config: HANDOVER });
    a.start();
    await w.clock.advance(5_000);
    b.start();
    await w.clock.advance(5_000);
    expect(a.component.isLeader()).toBe(true);
    const abortedAt = w.clock.now();
    await a.stop();
    expect(lostReasons(a)).toEqual(['released']);
    // Bounded: the list waits at most the renew deadline (10 s), then the release.
    expect(w.clock.now() - abortedAt).toBeLessThanOrEqual(11_000);
    expect(a.log.entries.some((e) => e.message.includes('could not list the members'))).toBe(true);
    expect(await w.clock.advanceUntil(() => b.component.isLeader(), 10_000)).toBe(true);
    await b.stop();
  });

  it('stops a follower by leaving the membership only: the leader keeps leading and nothing else is written', async () => {
    const w = world(16);
    const { a, b, c } = await threeReplicas(w);
    const mark = b.client.calls.length;
    await b.stop();
    expect(b.client.calls.slice(mark).map((call) => call.verb)).toEqual(['delete']);
    expect(memberLease(w, 'b')).toBeUndefined();
    await w.clock.advance(30_000);
    expect(a.component.isLeader()).toBe(true);
    expect(lostReasons(a)).toEqual([]);
    await a.stop();
    await c.stop();
  });

  it('costs one membership update per replica per renew interval in steady state, and no list', async () => {
    const w = world(17);
    const { a, b, c } = await threeReplicas(w);
    const marks = new Map([a, b, c].map((r) => [r.id, r.client.calls.length]));
    await w.clock.advance(120_000);
    for (const r of [a, b, c]) {
      const member = membershipLeaseName(LEASE, r.id);
      const calls = r.client.calls.slice(marks.get(r.id));
      expect(calls.filter((call) => call.name === member).map((call) => call.verb)).toEqual(Array<string>(6).fill('update'));
      expect(calls.filter((call) => call.verb === 'list' || call.verb === 'delete')).toEqual([]);
    }
    await a.stop();
    await b.stop();
    await c.stop();
  });

  it('without handoverOnShutdown keeps no membership and releases on shutdown', async () => {
    const w = world(18);
    w.createLease();
    const a = w.replica('a');
    const b = w.replica('b');
    a.start();
    b.start();
    await w.clock.advance(30_000);
    await a.stop();
    expect(lostReasons(a)).toEqual(['released']);
    expect(a.client.verbs().filter((v) => v === 'list' || v === 'delete')).toEqual([]);
    expect(w.store.list(NS).items.map((l) => l.metadata?.name)).toEqual([LEASE]);
    await b.stop();
  });
});

describe('handoverOnShutdown: configuration', () => {
  const base = { identity: 'a', leaseName: LEASE, leaseNamespace: NS };
  const client = new MemoryLeaseClient(new LeaseStore());
  const error = (config: Record<string, unknown>, c: unknown = client): ConfigError => configErrorOf({ ...base, ...config }, c);

  it('accepts only newest or false', () => {
    expect(error({ handoverOnShutdown: 'oldest' })).toMatchObject({ code: 'OPTION_INVALID', field: 'handoverOnShutdown' });
    expect(error({ handoverOnShutdown: true })).toMatchObject({ code: 'OPTION_INVALID', field: 'handoverOnShutdown' });
    expect(error({ handoverOnShutdown: 'newest', membership: 5 })).toMatchObject({ code: 'FIELD_TYPE', field: 'membership' });
    // The coordinator picks the holder in coordinated mode: no directed handover there.
    expect(error({ handoverOnShutdown: 'newest', coordinated: true, binaryVersion: '1.33.0' })).toMatchObject({ code: 'OPTION_INVALID', field: 'handoverOnShutdown' });
  });

  it('names the membership field that is wrong', () => {
    expect(error({ ...HANDOVER, membership: { durationMs: 30_000, renewIntervalMs: 30_000 } })).toMatchObject({ code: 'OPTION_INVALID', field: 'membership.renewIntervalMs' });
    expect(error({ ...HANDOVER, membership: { labels: { 'no spaces please': 'x' } } })).toMatchObject({ code: 'LABELS_INVALID', field: 'membership.labels' });
  });

  it('needs a client with list and delete', () => {
    const minimal: LeaseClient = { get: (...a) => client.get(...a), create: (...a) => client.create(...a), update: (...a) => client.update(...a) };
    expect(error(HANDOVER, minimal)).toMatchObject({ code: 'CLIENT_INVALID', field: 'client' });
    expect(() => new LeaderElectionComponent({ ...base }, minimal, createLeaderElectionBus())).not.toThrow();
  });
});

describe('handoverOnShutdown with the system clock', () => {
  it('hands over and leaves nothing running after the signal aborts (jest runs with --detectOpenHandles)', async () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: LEASE } });
    const make = (identity: string) => {
      const bus = createLeaderElectionBus();
      const component = new LeaderElectionComponent({ ...{ identity, leaseName: LEASE, leaseNamespace: NS }, followerStrategy: 'watch', ...HANDOVER }, new MemoryLeaseClient(store), bus, {}, {});
      return { bus, component, controller: new AbortController() };
    };
    const a = make('a');
    const b = make('b');
    const reasons: string[] = [];
    a.bus.on('leader.lost', (payload) => void reasons.push(payload.reason));
    const became = new Promise<void>((resolve) => a.bus.once('leader.became', () => resolve()));
    const aDone = a.component.run(a.controller.signal);
    await became;
    const bLeads = new Promise<void>((resolve) => b.bus.once('leader.became', () => resolve()));
    const bDone = b.component.run(b.controller.signal);
    // b has joined once its membership Lease exists.
    for (let i = 0; i < 500 && !store.peek(NS, membershipLeaseName(LEASE, 'b')); i++) await new Promise((resolve) => setTimeout(resolve, 10));
    a.controller.abort();
    await aDone;
    await bLeads;
    expect(reasons).toEqual(['handed_over']);
    expect(b.component.isLeader()).toBe(true);
    b.controller.abort();
    await bDone;
    expect(store.watcherCount).toBe(0);
    expect(store.list(NS).items.map((l) => l.metadata?.name)).toEqual([LEASE]);
  });
});
