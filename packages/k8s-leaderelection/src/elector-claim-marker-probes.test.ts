/**
 * Probes of the claim marker (`leasekit.io/claim`) by someone with no stake in the code: every
 * path that writes a Lease record (a take on the watch, a directed handover, a preferredHolder
 * yield, coordinated mode, client-go writers that keep annotations) must never leave a marker
 * that makes a replica wait a lease duration needlessly, or lets two replicas lead. Fake clock,
 * in-memory store; what user code sees: isLeader(), onNewLeader, onStoppedLeading, requests.
 * A probe that fails names a defect (see its comment); it stays failing until the code is fixed.
 */
import { describe, expect, it } from '@jest/globals';
import { LEASE, ledBy, NS, runChecked, tryTimes, world, type Replica, type World } from './__tests__/harness.js';
import { CLAIM_ANNOTATION } from './claim.js';
import { ApiError, makeStatus } from './errors.js';
import type { Lease } from './lease.js';
import { formatMicroTime, goFollowerKey, leaseWithRecord, recordFromLease } from './record.js';
import { seededRandom } from './random.js';
import { CandidateStore } from './testing/candidate-store.js';
import { MemoryLeaseClient, type Fault } from './testing/memory-lease-client.js';

const R = 2_000; // the harness's retry period (client-go's default)
const D = 15_000; // the harness's lease duration
const internalError = (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(500, 'InternalError', 'Internal error occurred')) });
const leaders = (rs: readonly Replica[]): string[] => rs.filter((r) => r.elector.isLeader()).map((r) => r.id);
const markerOf = (w: World): string | undefined => w.store.peek(NS, LEASE)?.metadata?.annotations?.[CLAIM_ANNOTATION];
const requestVerbs = (r: Replica, from = 0): string[] => r.client.calls.slice(from).map((c) => c.verb).filter((v) => v === 'get' || v === 'update' || v === 'create');

/**
 * A client-go replica's write (tryAcquireOrRenew over the object it read): it replaces the spec
 * and keeps the metadata, so a claim marker on the object stays on the record it writes.
 */
function goWrites(w: World, spec: NonNullable<Lease['spec']>): void {
  const lease = w.store.get(NS, LEASE);
  w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, ...spec } });
}

/** The Lease after client-go `go` took over `claimer`'s expired claim (keeping the marker) and renewed it. */
function heldByGoWithMarker(w: World, claimer: string, transitions = 4): void {
  const now = formatMicroTime(w.clock.wallNow());
  w.store.create(NS, {
    metadata: { name: LEASE, annotations: { [CLAIM_ANNOTATION]: claimer } },
    spec: { holderIdentity: 'go', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: transitions },
  });
}

/** Go releases its record (ReleaseOnCancel): an empty holder over the object it read, metadata kept. */
const goReleases = (w: World): void => goWrites(w, { holderIdentity: '', leaseDurationSeconds: 1 });

/** `r` starts and follows the record for a second (it has read or watched it). */
async function follows(w: World, r: Replica): Promise<void> {
  r.start();
  await runChecked(w.clock, [r], 1_000, 10);
}

/** `r` (watching) follows go's record, go releases it, and `r` takes the released record at once. */
async function leadsOnGoRelease(w: World, r: Replica): Promise<void> {
  await follows(w, r);
  goReleases(w);
  expect(await w.clock.advanceUntil(() => r.elector.isLeader(), 100, 1)).toBe(true);
}

/** The leader `from` hands over to `to` (`resign({ to })`, not awaited); when it asked. */
function handOver(w: World, from: Replica, to: string): number {
  void from.elector.resign({ to });
  return w.clock.now();
}

/** While some replica leads, the Lease must not read as a claim (a marker naming its holder). */
async function runNoClaimWhileLeading(w: World, rs: readonly Replica[], ms: number): Promise<void> {
  const end = w.clock.now() + ms;
  while (w.clock.now() < end) {
    await runChecked(w.clock, [...rs], 50, 50);
    const lease = w.store.peek(NS, LEASE);
    const holder = lease?.spec?.holderIdentity;
    if (leaders(rs).length > 0 && holder && markerOf(w) === holder) {
      throw new Error(`at ${w.clock.now()} ms ${leaders(rs).join(', ')} leads while the Lease reads as ${holder}'s claim`);
    }
  }
}

describe('claim marker: a take on the watch', () => {
  it('a watching follower takes an expired client-go record carrying its own old claim marker with one write, and its term is a plain one', async () => {
    const w = world(301);
    heldByGoWithMarker(w, 'a');
    const a = w.replica('a', { config: { followerStrategy: 'watch' } });
    await follows(w, a);
    const from = a.client.calls.length;
    // go died: a takes the record it watched expire, at expiry, with one write and no GET.
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), D + R, 20)).toBe(true);
    expect(requestVerbs(a, from)).toEqual(['update']);
    expect(markerOf(w)).toBeUndefined();
    // A follower started now announces a (a claim is never announced) and does not write.
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    b.start();
    await runNoClaimWhileLeading(w, [a, b], 3 * D);
    expect(b.log.newLeaders).toEqual(['a']);
    expect(b.client.calls.filter((c) => c.verb === 'update')).toEqual([]);
    expect(leaders([a, b])).toEqual(['a']);
    expect(a.log.stopped).toEqual([]);
    await a.stop();
    await b.stop();
  });

  it("a watching follower taking a released record that carries another replica's marker leaves no marker, so a handover to that replica is taken at once", async () => {
    const w = world(302);
    heldByGoWithMarker(w, 'b');
    const c = w.replica('c', { config: { followerStrategy: 'watch' } });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await leadsOnGoRelease(w, c);
    expect(markerOf(w)).toBeUndefined();
    b.start();
    await runNoClaimWhileLeading(w, [b, c], 5_000);
    const handedAt = handOver(w, c, 'b');
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 2 * R, 1)).toBe(true);
    expect(w.clock.now() - handedAt).toBeLessThan(R);
    await runNoClaimWhileLeading(w, [b, c], 2 * D);
    expect(leaders([b, c])).toEqual(['b']);
    await b.stop();
    await c.stop();
  });
});

describe('claim marker: handover writes', () => {
  it("a leader yielding to a preferredHolder on a record that carries the target's stale marker hands over without it: the target leads at once", async () => {
    const w = world(303);
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 } });
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b]);
    // A tool that keeps (here: restores) annotations sets preferredHolder b with b's old marker.
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, {
      ...lease,
      metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [CLAIM_ANNOTATION]: 'b' } },
      spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: 'b' },
    });
    const at = w.clock.now();
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 3 * R, 1)).toBe(true);
    // a notices at its next renewal (<= R), then b takes the handover record at once.
    expect(w.clock.now() - at).toBeLessThan(2 * R);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['handed_over']);
    expect(markerOf(w)).toBeUndefined();
    await runNoClaimWhileLeading(w, [a, b], 2 * D);
    expect(leaders([a, b])).toEqual(['b']);
    await a.stop();
    await b.stop();
  });

  it('a polling target of a handover over a record with its stale marker leads at its next poll, not a lease duration later', async () => {
    const w = world(304);
    heldByGoWithMarker(w, 'b');
    const a = w.replica('a', { config: { followerStrategy: 'watch' } });
    await leadsOnGoRelease(w, a);
    // Put b's marker back on a's record (an outside writer); a's next renewal reads it afresh.
    const b = w.replica('b'); // polling
    b.start();
    await runChecked(w.clock, [a, b], 5_000, 10);
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, metadata: { ...lease.metadata, annotations: { [CLAIM_ANNOTATION]: 'b' } } });
    const at = handOver(w, a, 'b');
    // A poller tries within 2.2 R; reading its own claim it would wait the record's 15 s.
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 3 * R, 5)).toBe(true);
    expect(w.clock.now() - at).toBeLessThan(2.2 * R + 100);
    expect(markerOf(w)).toBeUndefined();
    expect(b.log.stopped).toEqual([]);
    await a.stop();
    await b.stop();
  });
});

describe('claim marker: claims themselves', () => {
  it('a claim stands the hold, becomes a plain term (no marker), and a follower that saw only the claim announces the leader once it leads', async () => {
    const w = world(305);
    const a = w.replica('a', { config: { followerStrategy: 'watch' } });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    a.start();
    await w.clock.advance(0);
    expect(markerOf(w)).toBe('a'); // the missing Lease is created as a's claim
    b.start();
    await runChecked(w.clock, [a, b], 1_000, 10);
    expect(b.log.newLeaders).toEqual([]); // a claim is no leader yet
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 2 * D, 10)).toBe(true);
    expect(markerOf(w)).toBeUndefined();
    await runNoClaimWhileLeading(w, [a, b], 1_000);
    expect(b.log.newLeaders).toEqual(['a']);
    await a.stop();
    await b.stop();
  });
});

describe('claim marker: coordinated mode', () => {
  /** A coordinated replica on a store with LeaseCandidates (the coordinator is the test, writing the store). */
  function coordinatedReplica(w: World, candidates: CandidateStore, id: string): Replica {
    const client = new MemoryLeaseClient(w.store, { clock: w.clock, candidates });
    return w.replica(id, { leaseClient: client, config: { coordinated: true, binaryVersion: '1.33.0', followerStrategy: 'watch' } });
  }
  /** The coordinator names `holder` as Kubernetes' election controller does: it replaces spec fields and keeps metadata. */
  function elect(w: World, holder: string): void {
    const now = formatMicroTime(w.clock.wallNow());
    goWrites(w, { holderIdentity: holder, leaseDurationSeconds: 5, renewTime: now, acquireTime: now, strategy: 'OldestEmulationVersion', preferredHolder: null });
  }
  /** `r` starts and follows until the record it found has expired (go is gone), then the coordinator names it. */
  async function namedAfterExpiry(w: World, r: Replica): Promise<void> {
    r.start();
    await runChecked(w.clock, [r], D + R, 50);
    elect(w, r.id);
  }

  // Coordinated + stale marker: the record the coordinator writes naming b keeps b's old claim
  // marker (left by a client-go replica that took b's claim before the fleet switched to
  // coordinated mode), so it reads as b's claim. A coordinated replica takes its own claim once it
  // has expired on its own observation (as uncoordinated mode does); refusing every claim left the
  // Lease with no leader ever, since the coordinator does not rewrite an expired record that
  // already names its choice.
  it('a coordinated replica named by the coordinator over a record that carries its own stale claim marker leads', async () => {
    const w = world(306);
    const candidates = new CandidateStore({ clock: w.clock });
    heldByGoWithMarker(w, 'b');
    const b = coordinatedReplica(w, candidates, 'b');
    await namedAfterExpiry(w, b); // go is gone; its record expired
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 2 * D, 50)).toBe(true);
    expect(markerOf(w)).toBeUndefined();
    await b.stop();
  });

  // The same, from the leftover claim itself: b (uncoordinated) created a claim and was restarted
  // as a coordinated replica with the same identity (a StatefulSet) before the hold passed. The
  // coordinator picks b and leaves the expired record naming b as it is (or rewrites its spec,
  // keeping the marker): b takes it once its own claim has expired.
  it('a coordinated replica whose uncoordinated incarnation left a claim leads once the coordinator names it', async () => {
    const w = world(307);
    const candidates = new CandidateStore({ clock: w.clock });
    const old = w.replica('b', { config: { followerStrategy: 'watch' } });
    old.start();
    await w.clock.advance(0);
    expect(markerOf(w)).toBe('b');
    await old.stop();
    const b = coordinatedReplica(w, candidates, 'b');
    await namedAfterExpiry(w, b);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 2 * D, 50)).toBe(true);
    await b.stop();
  });

  it('a coordinated replica named over a record carrying another replica\'s stale marker takes it with one write and drops the marker', async () => {
    const w = world(308);
    const candidates = new CandidateStore({ clock: w.clock });
    heldByGoWithMarker(w, 'x');
    const b = coordinatedReplica(w, candidates, 'b');
    await namedAfterExpiry(w, b);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 100, 1)).toBe(true);
    expect(markerOf(w)).toBeUndefined();
    await b.stop();
  });
});

describe('claim marker: a failing server never turns a take into a retry storm', () => {
  it('a watching follower whose takes of a released record carrying a stale marker all fail backs off at client-go pace', async () => {
    const w = world(309);
    heldByGoWithMarker(w, 'a');
    let writes = 0;
    const a: Replica = w.replica('a', {
      config: { followerStrategy: 'watch' },
      client: {
        fault: (call) => {
          if (call.verb !== 'update') return undefined;
          // A storm would spin at one fake instant: stop the replica so the probe fails on its count instead of hanging.
          if (++writes > 500) a.controller.abort();
          return internalError();
        },
      },
    });
    await follows(w, a);
    goReleases(w);
    const from = a.client.calls.length;
    const window = 20 * R;
    await runChecked(w.clock, [a], window, 10);
    // client-go: one try at once, then at least R between tries.
    const tries = tryTimes(a.client.calls.slice(from)).length;
    expect(tries).toBeGreaterThan(0);
    expect(tries).toBeLessThanOrEqual(Math.floor(window / R) + 1);
    expect(a.elector.isLeader()).toBe(false);
    await a.stop();
  });
});

describe('claim marker: seeded mixed fleets (leasekit and a client-go replica that keeps annotations)', () => {
  /**
   * A client-go replica: every R it reads the Lease; creates it when missing (no marker), takes a
   * free record or one expired by its own observation, renews its own, always over the object it
   * read (metadata kept); `release()` writes an empty holder the same way.
   */
  function goReplica(w: World) {
    let key: string | undefined;
    let observedAt = 0;
    let nextAt = 0;
    const go = {
      up: true,
      leading: false,
      tick(): void {
        if (!go.up || w.clock.now() < nextAt) return;
        nextAt = w.clock.now() + R;
        const lease = w.store.peek(NS, LEASE);
        const now = formatMicroTime(w.clock.wallNow());
        try {
          if (!lease) {
            w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'go', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 0 } });
            go.leading = true;
            return;
          }
          const { record } = recordFromLease(lease);
          if (goFollowerKey(record) !== key) [key, observedAt] = [goFollowerKey(record), w.clock.now()];
          const mine = record.holderIdentity === 'go';
          if (!mine && record.holderIdentity !== '' && observedAt + record.leaseDurationSeconds! * 1000 > w.clock.now()) {
            go.leading = false;
            return;
          }
          const next = { ...record, holderIdentity: 'go', leaseDurationSeconds: 15, renewTimeMs: w.clock.wallNow(), ...(mine ? {} : { acquireTimeMs: w.clock.wallNow(), leaseTransitions: record.leaseTransitions + 1 }) };
          const written = w.store.update(NS, LEASE, leaseWithRecord(next, { name: LEASE, namespace: NS }, lease)).lease;
          [key, observedAt] = [goFollowerKey(recordFromLease(written).record), w.clock.now()];
          go.leading = true;
        } catch {
          go.leading = false;
        }
      },
      release(): void {
        const lease = w.store.peek(NS, LEASE);
        go.leading = false;
        if (!lease || lease.spec?.holderIdentity !== 'go') return;
        goReleases(w);
      },
    };
    return go;
  }

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`seed ${seed}: never two leaders, never a leasekit leader whose Lease reads as its claim, and someone leads after a quiet spell`, async () => {
      const w = world(400 + seed);
      const random = seededRandom(seed);
      const ids = ['a', 'b', 'c'];
      const rs = ids.map((id, i) => w.replica(id, { config: { followerStrategy: i === 2 ? 'poll' : 'watch' } }));
      const go = goReplica(w);
      for (const r of rs) r.start();
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      const step = async (ms: number): Promise<void> => {
        const end = w.clock.now() + ms;
        while (w.clock.now() < end) {
          await w.clock.advance(50);
          go.tick();
          const lk = leaders(rs);
          const all = [...lk, ...(go.leading ? ['go'] : [])];
          if (all.length > 1) throw new Error(`seed ${seed}: two leaders at ${w.clock.now()} ms: ${all.join(', ')}`);
          const marker = markerOf(w);
          if (marker !== undefined && lk.includes(marker) && w.store.peek(NS, LEASE)?.spec?.holderIdentity === marker) {
            throw new Error(`seed ${seed}: ${marker} leads at ${w.clock.now()} ms while the Lease reads as its claim`);
          }
        }
      };
      for (let round = 0; round < 25; round++) {
        await step(1_000 + random() * 4_000);
        const event = random();
        const leader = rs.find((r) => r.elector.isLeader());
        if (event < 0.2) {
          // Only while go is down: client-go creates a missing Lease and leads at once, whoever may still lead (its own rule).
          if (!go.up && w.store.peek(NS, LEASE)) w.store.delete(NS, LEASE);
        } else if (event < 0.4 && leader) {
          void leader.elector.resign({ to: pick(ids.filter((id) => id !== leader.id)) });
        } else if (event < 0.5 && leader) {
          void leader.elector.resign();
        } else if (event < 0.65) {
          if (go.up) {
            go.release();
            go.up = false;
          } else if (w.store.peek(NS, LEASE)) go.up = true;
        } else if (event < 0.8 && w.store.peek(NS, LEASE)) {
          // A tool that keeps annotations restores an old claim marker naming someone other than the holder.
          const holder = w.store.peek(NS, LEASE)?.spec?.holderIdentity;
          const named = pick(ids.filter((id) => id !== holder));
          const lease = w.store.get(NS, LEASE);
          w.store.update(NS, LEASE, { ...lease, metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [CLAIM_ANNOTATION]: named } } });
        }
      }
      // Quiet: a claim's hold (the longest lease duration, 15 s) plus a lease duration and a few polls.
      await step(2 * D + 5 * R);
      expect([...leaders(rs), ...(go.leading ? ['go'] : [])]).toHaveLength(1);
      for (const r of rs) await r.stop();
    });
  }
});
