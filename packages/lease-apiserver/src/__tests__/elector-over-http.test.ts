/**
 * The pure Elector, with a client-node KubeConfig, against the server over real HTTP: the whole
 * path a user's controller takes, with short but valid timings. Waits are bounded polls on
 * conditions; nothing asserts how fast anything happened (only safety lower bounds).
 */
import { describe, expect, it } from '@jest/globals';
import type { Elector, ElectorConfig } from '@leasekit/k8s-leaderelection';
import { waitFor } from './helpers.js';
import { NS, TIMINGS, electorOver, from, seedFreeLease as seedFree, serverFixture } from './server-fixture.js';

const LEASE = 'controller';

interface Replica {
  id: string;
  elector: Elector;
  stop: AbortController;
  done: Promise<void>;
  started: number;
  stopped: number;
}

const fx = serverFixture<Replica>();

/** Starts an elector whose requests carry `Bearer <id>`, so faults and records can single it out. */
function replica(id: string, overrides: Partial<ElectorConfig> = {}): Replica {
  const stop = new AbortController();
  const r: Replica = { id, stop, started: 0, stopped: 0, done: Promise.resolve(), elector: undefined as unknown as Elector };
  r.elector = electorOver(fx.server, id, { leaseName: LEASE, ...overrides }, {
    onStartedLeading: () => {
      r.started++;
    },
    onStoppedLeading: () => {
      r.stopped++;
    },
  });
  r.done = r.elector.run(stop.signal);
  fx.replicas.push(r);
  return r;
}

const leaders = (): Replica[] => fx.replicas.filter((r) => r.elector.isLeader());
/** A free Lease, so the first candidate takes it at once (a missing one is created only after a lease duration). */
const seedFreeLease = (): void => seedFree(fx.server, LEASE);

describe('Elector over HTTP', () => {
  it('elects exactly one leader among three electors, and the others see it', async () => {
    seedFreeLease();
    ['a', 'b', 'c'].forEach((id) => replica(id));
    let worst = 0;
    await waitFor(() => {
      worst = Math.max(worst, leaders().length);
      return leaders().length === 1 && fx.replicas.every((r) => r.elector.getLeader() === leaders()[0]?.id);
    }, 'one leader seen by everyone');
    const leader = leaders()[0]!;
    expect(fx.server.store.get(NS, LEASE).spec?.holderIdentity).toBe(leader.id);
    // Several renewals later, still one leader, and followers never lead.
    const renewsBefore = fx.records.filter((rec) => rec.verb === 'update' && from(leader.id)(rec) && rec.statusCode === 200).length;
    await waitFor(() => {
      worst = Math.max(worst, leaders().length);
      return fx.records.filter((rec) => rec.verb === 'update' && from(leader.id)(rec) && rec.statusCode === 200).length >= renewsBefore + 3;
    }, 'three more renewals');
    expect(worst).toBe(1);
    expect(leaders().map((r) => r.id)).toEqual([leader.id]);
    // Watching followers sit on their watch instead of polling with GETs.
    expect(fx.server.openWatchCount).toBe(2);
  });

  it('renews on the fast path: the leader PUTs without a GET before each renewal', async () => {
    seedFreeLease();
    const a = replica('a');
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const mark = fx.records.length;
    await waitFor(() => fx.records.slice(mark).filter((rec) => rec.verb === 'update' && rec.statusCode === 200).length >= 4, 'four renewals');
    const mine = fx.records.slice(mark).filter(from('a'));
    expect(mine.filter((rec) => rec.verb === 'get')).toHaveLength(0);
    expect(mine.every((rec) => rec.verb === 'update' && rec.statusCode === 200)).toBe(true);
    expect(a.elector.snapshot().slowPathCount).toBe(0);
    // The renewals moved renewTime forward, in MicroTime with six digits (the store checks it).
    expect(fx.server.store.get(NS, LEASE).spec?.renewTime).toMatch(/\.\d{6}Z$/);
  });

  it('falls back to GET then PUT after a 409 on the fast path, and keeps leading', async () => {
    seedFreeLease();
    const a = replica('a');
    await waitFor(() => a.elector.isLeader(), 'a leads');
    // Someone else touches the Lease (not its holder): the leader's cached resourceVersion is stale.
    const current = fx.server.store.get(NS, LEASE);
    fx.server.store.update(NS, LEASE, { ...current, metadata: { ...current.metadata, annotations: { touched: 'yes' } } });
    await waitFor(() => a.elector.snapshot().slowPathCount >= 1, 'a slow-path renewal');
    await waitFor(() => {
      const i = fx.records.findIndex((rec) => rec.verb === 'update' && rec.statusCode === 409);
      return i >= 0 && fx.records.slice(i + 1).some((rec) => rec.verb === 'update' && rec.statusCode === 200);
    }, 'a successful PUT after the 409');
    const conflict = fx.records.findIndex((rec) => rec.verb === 'update' && rec.statusCode === 409);
    const after = fx.records.slice(conflict + 1).filter(from('a'));
    expect(after[0]?.verb).toBe('get');
    expect(after[1]?.verb).toBe('update');
    expect(a.elector.isLeader()).toBe(true);
    expect(a.stopped).toBe(0);
    expect(fx.server.store.get(NS, LEASE).spec?.holderIdentity).toBe('a');
  });

  it('releases the lease when the leader is aborted, and another elector takes it over', async () => {
    seedFreeLease();
    const a = replica('a');
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const b = replica('b');
    await waitFor(() => b.elector.getLeader() === 'a', 'b sees a');
    const transitionsBefore = fx.server.store.get(NS, LEASE).spec?.leaseTransitions ?? 0;
    a.stop.abort();
    await a.done;
    expect(a.elector.isLeader()).toBe(false);
    expect(a.stopped).toBe(1);
    // Released: an empty holder (or already b, if b was quicker than this read).
    expect(['', 'b']).toContain(fx.server.store.get(NS, LEASE).spec?.holderIdentity);
    expect(fx.records.some((rec) => from('a')(rec) && rec.verb === 'update' && rec.statusCode === 200)).toBe(true);
    await waitFor(() => b.elector.isLeader(), 'b leads');
    const spec = fx.server.store.get(NS, LEASE).spec;
    expect(spec?.holderIdentity).toBe('b');
    expect(spec?.leaseTransitions).toBe(transitionsBefore + 1);
  });

  it('takes over only after the lease expires when the leader stops renewing', async () => {
    seedFreeLease();
    const a = replica('a');
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const b = replica('b');
    await waitFor(() => b.elector.getLeader() === 'a', 'b sees a');
    // a is cut off from the API: its renewals hang, as behind a network partition.
    const cutAt = performance.now();
    fx.server.faults.partition({ client: { token: 'a' } });
    let overlap = false;
    await waitFor(() => {
      if (a.elector.isLeader() && b.elector.isLeader()) overlap = true;
      return b.elector.isLeader();
    }, 'b takes over', 15_000);
    expect(overlap).toBe(false);
    expect(a.elector.isLeader()).toBe(false);
    // Safety lower bound: b waited at least the lease duration written in the Lease.
    expect(performance.now() - cutAt).toBeGreaterThanOrEqual(Math.ceil(TIMINGS.leaseDurationMs / 1000) * 1000 - 50);
    expect(fx.server.store.get(NS, LEASE).spec?.holderIdentity).toBe('b');
    fx.server.faults.clearPartitions();
  });

  it('creates a missing Lease as a claim and leads once the claim has stood for the hold', async () => {
    // Every replica uses the same lease duration, so the hold can be that duration.
    const a = replica('a', { maxPeerLeaseDurationMs: TIMINGS.leaseDurationMs });
    const startedAt = performance.now();
    await waitFor(() => a.elector.isLeader(), 'a creates and leads');
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(Math.ceil(TIMINGS.leaseDurationMs / 1000) * 1000 - 50);
    const mine = fx.records.filter(from('a'));
    expect(mine.find((rec) => rec.verb === 'get')?.statusCode).toBe(404);
    expect(mine.find((rec) => rec.verb === 'create')?.statusCode).toBe(201);
    const lease = fx.server.store.get(NS, LEASE);
    expect(lease.spec?.holderIdentity).toBe('a');
    expect(lease.metadata?.annotations?.['leasekit.io/claim']).toBeUndefined();
    // The claim carried token 0; taking it over is a term of its own: token 1.
    expect(lease.spec?.leaseTransitions).toBe(1);
  });

  it('records leader election Events the server lists', async () => {
    seedFreeLease();
    const a = replica('a', { recordEvents: true });
    await waitFor(() => a.elector.isLeader(), 'a leads');
    await waitFor(() => fx.server.store.events.length > 0, 'an event');
    const events = fx.server.events.list(NS).items;
    expect(events[0]).toMatchObject({ reason: 'LeaderElection', message: 'a became leader', involvedObject: { kind: 'Lease', name: LEASE } });
    expect(fx.server.counters.get('create', 'events')).toBeGreaterThanOrEqual(1);
  });
});
