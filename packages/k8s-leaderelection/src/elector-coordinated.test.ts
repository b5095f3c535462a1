/**
 * Coordinated leader election (`coordinated: true`): the elector never creates or takes the
 * Lease, leads only after its own write over a record the coordinator wrote naming it, and steps
 * down for a preferredHolder naming another candidate. The coordinator is simulated by writing the
 * store directly.
 */
import { describe, expect, it } from '@jest/globals';
import { ConfigError, apiErrorFromHttpStatus } from './errors.js';
import type { Lease } from './lease.js';
import { formatMicroTime } from './record.js';
import { MemoryLeaseClient, type MemoryCall, type MemoryLeaseClientOptions } from './testing/memory-lease-client.js';
import { CandidateStore } from './testing/candidate-store.js';
import { LEASE, NS, runChecked, world, type Replica, type World } from './__tests__/harness.js';
import type { ElectorConfig } from './config.js';
import type { LeaderCallbacks } from './elector.js';

const R = 2000;
const LEASE_MS = 15_000;
/** What the Kubernetes coordinator writes as leaseDurationSeconds. */
const COORDINATOR_LEASE_SECONDS = 5;

interface Coordinated {
  w: World;
  candidates: CandidateStore;
  clients: Map<string, MemoryLeaseClient>;
  add(id: string, config?: Partial<ElectorConfig>, client?: MemoryLeaseClientOptions, callbacks?: LeaderCallbacks): Replica;
  /**
   * The coordinator's write, as Kubernetes' leader-election controller makes it: the Lease names
   * `holder` (created when missing), leaseDurationSeconds 5, renewTime now, no acquireTime, no
   * preferredHolder, strategy set, leaseTransitions untouched.
   */
  elect(holder: string, extra?: { preferredHolder?: string }): Lease;
  /** The coordinator marks the end of the term: preferredHolder on the current record. */
  prefer(preferredHolder: string): Lease;
  lease(): Lease | undefined;
  leaseCalls(id: string, verb?: MemoryCall['verb']): MemoryCall[];
}

function coordinated(seed = 1): Coordinated {
  const w = world(seed);
  const candidates = new CandidateStore({ clock: w.clock });
  const clients = new Map<string, MemoryLeaseClient>();
  return {
    w,
    candidates,
    clients,
    add(id, config = {}, clientOptions = {}, callbacks = {}) {
      const client = new MemoryLeaseClient(w.store, { clock: w.clock, candidates, ...clientOptions });
      clients.set(id, client);
      return w.replica(id, { leaseClient: client, callbacks, config: { coordinated: true, binaryVersion: '1.33.0', ...config } });
    },
    elect(holder, extra = {}) {
      const now = formatMicroTime(w.clock.wallNow());
      const current = w.store.peek(NS, LEASE);
      const spec = {
        holderIdentity: holder,
        leaseDurationSeconds: COORDINATOR_LEASE_SECONDS,
        renewTime: now,
        ...(current?.spec?.leaseTransitions != null ? { leaseTransitions: current.spec.leaseTransitions } : {}),
        strategy: 'OldestEmulationVersion',
        ...(extra.preferredHolder !== undefined ? { preferredHolder: extra.preferredHolder } : {}),
      };
      if (!current) return w.store.create(NS, { metadata: { name: LEASE }, spec });
      return w.store.update(NS, LEASE, { ...current, spec }).lease;
    },
    prefer(preferredHolder) {
      const current = w.store.peek(NS, LEASE)!;
      return w.store.update(NS, LEASE, { ...current, spec: { ...current.spec, preferredHolder } }).lease;
    },
    lease: () => w.store.peek(NS, LEASE),
    leaseCalls: (id, verb) => clients.get(id)!.calls.filter((c) => (verb === undefined ? !c.verb.endsWith('Candidate') : c.verb === verb)),
  };
}

describe('coordinated leader election: waiting', () => {
  it('never creates a missing Lease, and polls for it at client-go pace', async () => {
    const c = coordinated();
    const replicas = ['a', 'b', 'c'].map((id) => c.add(id));
    for (const r of replicas) r.start();
    await runChecked(c.w.clock, replicas, 60_000);
    expect(c.lease()).toBeUndefined();
    for (const r of replicas) {
      expect(r.elector.isLeader()).toBe(false);
      expect(c.leaseCalls(r.id, 'create')).toHaveLength(0);
      // One GET per [R, 2.2R): at most 31 in 60 s, and at least 60 / 4.4.
      const gets = c.leaseCalls(r.id, 'get').length;
      expect(gets).toBeLessThanOrEqual(31);
      expect(gets).toBeGreaterThanOrEqual(13);
      // Its candidate exists all the same.
      expect(c.candidates.peek(NS, r.id)?.spec?.leaseName).toBe(LEASE);
    }
    for (const r of replicas) await r.stop();
  });

  it('never writes over a record naming another candidate, live, expired or with a preferredHolder naming it', async () => {
    const c = coordinated();
    const a = c.add('a');
    a.start();
    c.elect('b', { preferredHolder: 'a' }); // b never runs: the record expires
    await runChecked(c.w.clock, [a], 60_000);
    expect(a.log.started).toHaveLength(0);
    expect(c.leaseCalls('a', 'update')).toHaveLength(0);
    expect(c.lease()?.spec?.holderIdentity).toBe('b');
    await a.stop();
  });

  it('never takes a released (free) Lease: only the coordinator writes the holder', async () => {
    const c = coordinated();
    const a = c.add('a', { followerStrategy: 'watch' });
    c.elect('');
    a.start();
    await runChecked(c.w.clock, [a], 60_000);
    expect(a.log.started).toHaveLength(0);
    expect(c.leaseCalls('a', 'update')).toHaveLength(0);
    await a.stop();
  });

  it('does not begin a term on a record naming it whose preferredHolder names another candidate', async () => {
    const c = coordinated();
    const a = c.add('a');
    c.elect('a', { preferredHolder: 'b' });
    a.start();
    await runChecked(c.w.clock, [a], 10_000);
    expect(a.log.started).toHaveLength(0);
    expect(c.leaseCalls('a', 'update')).toHaveLength(0);
    await a.stop();
  });

  it('a watching follower makes no Lease request while another candidate holds the Lease, beyond a slow safety poll', async () => {
    const c = coordinated();
    const a = c.add('a', { followerStrategy: 'watch' });
    c.elect('b');
    a.start();
    await c.w.clock.advance(0);
    const before = c.leaseCalls('a').length;
    // The holder keeps renewing (the coordinator's record, rewritten every R).
    for (let t = 0; t < 60_000; t += R) {
      c.elect('b');
      await c.w.clock.advance(R);
    }
    const gets = c.leaseCalls('a', 'get').length;
    expect(c.leaseCalls('a').length - before).toBeLessThanOrEqual(60_000 / LEASE_MS + 1);
    expect(gets).toBeLessThanOrEqual(60_000 / LEASE_MS + 2);
    expect(c.leaseCalls('a', 'update')).toHaveLength(0);
    await a.stop();
  });
});

describe('coordinated leader election: leading', () => {
  it('leads only after its own write over the record the coordinator wrote naming it (polling)', async () => {
    const c = coordinated();
    const [a, b] = [c.add('a'), c.add('b')];
    a.start();
    b.start();
    await runChecked(c.w.clock, [a, b], 5_000);
    const before = c.elect('b');
    await runChecked(c.w.clock, [a, b], 1_000);
    const written = c.elect('a');
    // Read but not yet written by a: not leading.
    expect(a.elector.isLeader()).toBe(false);
    await runChecked(c.w.clock, [a, b], 10_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.elector.isLeader()).toBe(false);
    const started = a.log.started[0]!;
    const aUpdates = c.leaseCalls('a', 'update');
    expect(aUpdates.length).toBeGreaterThan(0);
    expect(aUpdates[0]!.atMs).toBeLessThanOrEqual(started.atMs);
    // Its own acquisition: a new token above the coordinator's record and any seen before.
    expect(before.spec?.leaseTransitions).toBeUndefined();
    expect(written.spec?.leaseTransitions).toBeUndefined();
    expect(started.term.token).toBe(1);
    expect(c.lease()?.spec?.leaseTransitions).toBe(1);
    expect(c.lease()?.spec?.leaseDurationSeconds).toBe(LEASE_MS / 1000);
    expect(c.leaseCalls('b', 'update')).toHaveLength(0);
    await a.stop();
    await b.stop();
  });

  it('a watching candidate takes the record naming it with one write, without a read', async () => {
    const c = coordinated();
    const a = c.add('a', { followerStrategy: 'watch' });
    c.elect('b');
    a.start();
    await c.w.clock.advance(100);
    const gets = c.leaseCalls('a', 'get').length;
    c.elect('a');
    await c.w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(c.leaseCalls('a', 'get')).toHaveLength(gets);
    expect(c.leaseCalls('a', 'update')).toHaveLength(1);
    expect(c.lease()?.metadata?.resourceVersion).not.toBe(undefined);
    await a.stop();
  });

  it('renews with one write per retry period while leading', async () => {
    const c = coordinated();
    const a = c.add('a', { followerStrategy: 'watch' });
    c.elect('a');
    a.start();
    await c.w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    const [gets, updates] = [c.leaseCalls('a', 'get').length, c.leaseCalls('a', 'update').length];
    await runChecked(c.w.clock, [a], 60_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(c.leaseCalls('a', 'get').length - gets).toBe(0);
    expect(c.leaseCalls('a', 'update').length - updates).toBe(60_000 / R);
    await a.stop();
  });

  it('stops leading when preferredHolder names another candidate: isLeader() false before it releases, and it never writes the other in', async () => {
    const c = coordinated();
    const seen: { isLeader: boolean; signalAborted: boolean; holder: string | null | undefined }[] = [];
    const self: { replica?: Replica; signal?: AbortSignal } = {};
    const a = c.add('a', {}, {}, {
      onStartedLeading: (signal) => {
        self.signal = signal;
      },
      onStoppedLeading: () => {
        seen.push({ isLeader: self.replica!.elector.isLeader(), signalAborted: self.signal!.aborted, holder: c.lease()?.spec?.holderIdentity });
      },
    });
    self.replica = a;
    c.elect('a');
    a.start();
    await c.w.clock.advance(R * 3);
    expect(a.elector.isLeader()).toBe(true);
    c.prefer('b');
    // Noticed at the next renewal (its fast-path write conflicts, the read shows the preferredHolder).
    await c.w.clock.advance(R);
    expect(a.elector.isLeader()).toBe(false);
    expect(seen).toEqual([{ isLeader: false, signalAborted: true, holder: 'a' }]);
    expect(a.log.stopped.at(-1)?.reason).toBe('handed_over');
    await c.w.clock.advance(R);
    // Released for the coordinator to write the preferred holder; never a record naming b.
    expect(c.lease()?.spec?.holderIdentity).toBe('');
    expect(c.lease()?.spec?.preferredHolder).toBe('b');
    // And it does not take it back.
    await runChecked(c.w.clock, [a], 30_000);
    expect(a.log.started).toHaveLength(1);
    await a.stop();
  });

  it('hands leadership over to the candidate the coordinator names next, never two leaders', async () => {
    const c = coordinated();
    const [a, b] = [c.add('a', { followerStrategy: 'watch' }), c.add('b', { followerStrategy: 'watch' })];
    c.elect('a');
    a.start();
    b.start();
    await runChecked(c.w.clock, [a, b], 5_000);
    c.prefer('b');
    // The coordinator writes b once the Lease is released (or expired).
    await runChecked(c.w.clock, [a, b], 5_000);
    expect(c.lease()?.spec?.holderIdentity).toBe('');
    c.elect('b');
    await runChecked(c.w.clock, [a, b], 5_000);
    expect(b.elector.isLeader()).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    await a.stop();
    await b.stop();
  });

  it('releases on shutdown (releaseOnCancel) and leaves its candidate in place', async () => {
    const c = coordinated();
    const a = c.add('a');
    c.elect('a');
    a.start();
    await c.w.clock.advance(R * 3);
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
    expect(c.lease()?.spec?.holderIdentity).toBe('');
    expect(c.candidates.peek(NS, 'a')).toBeDefined();
    expect(c.candidates.watcherCount).toBe(0);
  });

  it('never recreates a Lease deleted under it: the term ends within the renew deadline', async () => {
    const c = coordinated();
    const a = c.add('a');
    c.elect('a');
    a.start();
    await c.w.clock.advance(R * 2);
    expect(a.elector.isLeader()).toBe(true);
    c.w.store.delete(NS, LEASE);
    await runChecked(c.w.clock, [a], 15_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.log.stopped.at(-1)?.reason).toBe('lease_deleted');
    expect(c.leaseCalls('a', 'create')).toHaveLength(0);
    expect(c.lease()).toBeUndefined();
    await a.stop();
  });

  it('after resign(), takes the record the coordinator wrote naming it again once its cooldown is over, even though it saw it expire', async () => {
    const c = coordinated();
    const a = c.add('a', { followerStrategy: 'watch' });
    c.elect('a');
    a.start();
    await c.w.clock.advance(R * 2);
    const resigned = a.elector.resign({ cooldownMs: 20_000 });
    await c.w.clock.advance(R);
    await resigned;
    expect(c.lease()?.spec?.holderIdentity).toBe('');
    // The coordinator picks a again at once (the only candidate) and leaves the record alone after.
    c.elect('a');
    await runChecked(c.w.clock, [a], 10_000);
    expect(a.elector.isLeader()).toBe(false); // cooling down: the record expired meanwhile
    await runChecked(c.w.clock, [a], 15_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.log.started).toHaveLength(2);
    await a.stop();
  });

  it('resign() releases; resign({ to }) is refused: the coordinator picks the next holder', async () => {
    const c = coordinated();
    const a = c.add('a');
    c.elect('a');
    a.start();
    await c.w.clock.advance(R * 2);
    await expect(a.elector.resign({ to: 'b' })).rejects.toMatchObject({ field: 'to' });
    expect(a.elector.isLeader()).toBe(true);
    const resigned = a.elector.resign();
    await c.w.clock.advance(R);
    await resigned;
    expect(a.elector.isLeader()).toBe(false);
    expect(c.lease()?.spec?.holderIdentity).toBe('');
    await a.stop();
  });
});

describe('coordinated leader election: pace and configuration', () => {
  it('makes no more Lease requests against a failing server than an uncoordinated elector', async () => {
    const fail: MemoryLeaseClientOptions = { fault: () => ({ kind: 'error', error: apiErrorFromHttpStatus(500, 'boom') }) };
    const counts: number[] = [];
    for (const coordinatedMode of [true, false]) {
      const c = coordinated(7);
      const a = coordinatedMode ? c.add('a', {}, fail) : c.w.replica('a', { client: fail });
      a.start();
      await c.w.clock.advance(120_000);
      counts.push((coordinatedMode ? c.leaseCalls('a') : a.client.calls).length);
      await a.stop();
    }
    expect(counts[0]).toBeGreaterThan(5);
    expect(counts[0]).toBeLessThanOrEqual(counts[1]!);
    expect(counts[0]).toBeLessThanOrEqual(120_000 / R);
  });

  it('refuses a client without the LeaseCandidate methods, naming client', () => {
    const w = world();
    let caught: unknown;
    try {
      w.replica('a', { config: { coordinated: true, binaryVersion: '1.33.0' } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).field).toBe('client');
  });
});
