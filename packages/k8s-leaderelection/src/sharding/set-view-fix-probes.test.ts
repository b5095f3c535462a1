/**
 * Fresh-eyes probes of commit 02ecedc's set-view rules (docs/sharding.md, "How a replica decides"
 * and "A member that cannot take shards"): a membership renewTime that moves back on the same
 * Lease is no sign of life, a Lease with a new uid is judged afresh, no back-off for a member that
 * left, shards handed in one round count once. Each probe asserts what a user relies on: who is
 * counted (snapshot().members, suspected, backedOff). SetView fed directly where the order of
 * events is the point; ShardedElectors on one LeaseStore and one FakeClock for what a replica does.
 */
import { describe, expect, it, jest } from '@jest/globals';
import type { Clock, TimerHandle } from '../clock.js';
import { NetworkError } from '../errors.js';
import type { Lease, LeaseClient, SetWatchOptions } from '../lease.js';
import { MEMBER_OF_LABEL, membershipLeaseName } from '../membership.js';
import { formatMicroTime } from '../record.js';
import { HANDOVER_ANNOTATION } from '../records.js';
import type { FakeClock } from '../testing/fake-clock.js';
import type { MemoryLeaseClient } from '../testing/memory-lease-client.js';
import { LEASE_MS, MEMBERSHIP_RENEW_MS, NS, RETRY_MS, SET, settled, shardedWorld, stopWorldsAfterEach, wallSkewed, type ShardReplica, type ShardWorld } from '../__tests__/sharded-harness.js';
import { SetView } from './set-view.js';

jest.setTimeout(180_000);

const L = LEASE_MS;
const WALL0 = Date.UTC(2025, 0, 1);
/** Membership timings of the defaults' ratios: 60 s, refreshed every 20 s, silent after 20 s + 2 retry periods of 1 s. */
const MEMBER_S = 60;
const SILENT_MS = 22_000;
const SHARDS = ['work-0', 'work-1', 'work-2'];

// ---------------------------------------------------------------------------------------------
// SetView fed directly. Times: t ms of local monotonic time; this replica's wall clock is WALL0 + t.

function shardRecord(holder: string, renewWallMs: number, handedFrom?: string): Lease {
  return {
    metadata: { name: 'shard', ...(handedFrom !== undefined ? { annotations: { [HANDOVER_ANNOTATION]: handedFrom } } : {}) },
    spec: { holderIdentity: holder, leaseDurationSeconds: L / 1000, renewTime: formatMicroTime(renewWallMs) },
  };
}

function memberRecord(id: string, renewTime: string, uid: string | undefined): Lease {
  return {
    metadata: { name: membershipLeaseName(SET, id), ...(uid !== undefined ? { uid } : {}), annotations: { [MEMBER_OF_LABEL]: SET } },
    spec: { holderIdentity: id, leaseDurationSeconds: MEMBER_S, renewTime },
  };
}

/** Replica `self`'s view of members a, b, x (uids `<id>-1`); a holds work-0 and work-1, b holds work-2. */
function view(self = 'a') {
  const v = new SetView(SET, SHARDS, self, L);
  const shard = (name: string, lease: Lease | undefined, t: number): void => void v.observe(name, lease, t, WALL0 + t);
  /** `id`'s membership Lease as seen at t (undefined: deleted): its renewTime (epoch ms, or a MicroTime string) and uid (null: none in the answer). */
  const member = (id: string, renew: number | string | undefined, t: number, uid: string | null = `${id}-1`): void =>
    void v.observe(membershipLeaseName(SET, id), renew === undefined ? undefined : memberRecord(id, typeof renew === 'string' ? renew : formatMicroTime(renew), uid ?? undefined), t, WALL0 + t);
  for (const id of ['a', 'b', 'x']) member(id, WALL0, 0);
  shard('work-0', shardRecord('a', WALL0), 0);
  shard('work-1', shardRecord('a', WALL0), 0);
  shard('work-2', shardRecord('b', WALL0), 0);
  const counted = (id: string, t: number): boolean => v.members(t, SILENT_MS).includes(id);
  const suspected = (id: string, t: number): boolean => v.suspected(t, SILENT_MS).includes(id);
  /** x takes work-2 (handed over by b), renews it, refreshes its membership at 20 s, renews work-2 at 20.5 s and crashes; b takes work-2 by expiry: the time. */
  const xCrashes = (): number => {
    shard('work-2', shardRecord('x', WALL0 + 1_000, 'b'), 1_000);
    shard('work-2', shardRecord('x', WALL0 + 2_000, 'b'), 2_000);
    member('x', WALL0 + 20_000, 20_000);
    shard('work-2', shardRecord('x', WALL0 + 20_500, 'b'), 20_500);
    const takenAt = 20_500 + L + 50;
    shard('work-2', shardRecord('b', WALL0 + takenAt), takenAt);
    return takenAt;
  };
  return { v, shard, member, counted, suspected, xCrashes };
}

describe('SetView: a membership Lease with a new uid is judged afresh', () => {
  it('a crashed member whose Lease was deleted and created again by its new process (on a node whose wall clock is 2 minutes behind) while the set watch was down is unsuspected and counted from its refresh after the relist, as when the delete is seen', () => {
    const outcome = (deleteSeen: boolean): { counted: boolean; suspected: boolean } => {
      const { member, counted, suspected, xCrashes } = view('a');
      const takenAt = xCrashes();
      expect(suspected('x', takenAt)).toBe(true);
      if (deleteSeen) member('x', undefined, 30_000);
      // The relist (or the watch) shows its new Lease, then its refreshes every 20 s, each 2 minutes behind the old node's clock.
      const behind = 120_000;
      for (const t of [40_000, 60_000, 80_000]) member('x', WALL0 + t - behind, t, 'x-2');
      return { counted: counted('x', 80_100), suspected: suspected('x', 80_100) };
    };
    expect({ deleteSeen: outcome(true), relistHidesTheDelete: outcome(false) }).toEqual({
      deleteSeen: { counted: true, suspected: false },
      relistHidesTheDelete: { counted: true, suspected: false },
    });
  });

  it('a backed-off member whose Lease was deleted and created again (it left and joined) while the set watch was down is no longer backed off after the relist, as when the delete is seen', () => {
    const outcome = (deleteSeen: boolean): string[] => {
      const { shard, member, v } = view('a');
      // Round 1: a hands work-0 to x; it is taken over by expiry unrenewed: x backed off for L.
      shard('work-0', shardRecord('x', WALL0 + 1_000, 'a'), 1_000);
      shard('work-0', shardRecord('a', WALL0 + 1_000 + L), 1_000 + L);
      expect(v.backedOffMembers(1_100 + L)).toEqual(['x']);
      if (deleteSeen) member('x', undefined, 1_200 + L);
      member('x', WALL0 + 1_500 + L, 1_500 + L, 'x-2');
      return v.backedOffMembers(1_600 + L);
    };
    expect({ deleteSeen: outcome(true), relistHidesTheDelete: outcome(false) }).toEqual({ deleteSeen: [], relistHidesTheDelete: [] });
  });

  it('a member whose Lease arrives without a uid on the watch (a LeaseClient that drops it; the list had it), its wall clock 30 s behind, stays counted through its refreshes', () => {
    const { member, counted } = view('a');
    const behind = 30_000;
    member('x', WALL0 + 20_000 - behind, 20_000); // the relist: uid x-1
    const dropped: number[] = [];
    for (let t = 40_000; t <= 120_000; t += 20_000) {
      member('x', WALL0 + t - behind, t, null); // watch events: no uid
      for (let s = t + 100; s < t + 20_000; s += 1_000) if (!counted('x', s)) dropped.push(s);
    }
    expect(dropped.length === 0 ? 'counted throughout' : `uncounted ${dropped.length} s, from ${dropped[0]} to ${dropped.at(-1)} ms`).toBe('counted throughout');
  });
});

describe('SetView: renewTimes one microsecond apart', () => {
  it('a restore of a suspected member\'s Lease to a renewTime one microsecond older (same uid) neither clears the suspicion nor dates a refresh; its next refresh one microsecond on does', () => {
    const { shard, member, counted, suspected } = view('a');
    // x takes work-2 (handed over by b) and renews it; its wall clock stands still at a
    // millisecond's last microseconds, so its membership renewTimes step one microsecond on.
    shard('work-2', shardRecord('x', WALL0 + 1_000, 'b'), 1_000);
    shard('work-2', shardRecord('x', WALL0 + 2_000, 'b'), 2_000);
    member('x', '2025-01-01T00:00:20.999998Z', 20_000);
    member('x', '2025-01-01T00:00:20.999999Z', 20_500);
    // x crashes; b takes work-2 by expiry.
    const takenAt = 20_600;
    shard('work-2', shardRecord('b', WALL0 + takenAt), takenAt);
    expect(suspected('x', takenAt)).toBe(true);
    member('x', '2025-01-01T00:00:20.999998Z', takenAt + 100); // kubectl replace from a backup
    member('x', '2025-01-01T00:00:20.999999000+00:00', takenAt + 200); // the same instant, another form
    const afterRestore = { suspected: suspected('x', takenAt + 300), counted: counted('x', takenAt + 300) };
    // Silent 22 s after its last refresh (at 20.5 s): the restore must not have dated one.
    const silentAt = 20_500 + SILENT_MS + 100;
    const beforeRefresh = counted('x', silentAt) || !suspected('x', silentAt);
    member('x', '2025-01-01T00:00:21.000000Z', silentAt); // x lives after all: one microsecond on
    expect({ afterRestore, beforeRefresh, afterRefresh: { suspected: suspected('x', silentAt + 100), counted: counted('x', silentAt + 100) } }).toEqual({
      afterRestore: { suspected: true, counted: false },
      beforeRefresh: false,
      afterRefresh: { suspected: false, counted: true },
    });
  });
});

describe('SetView: shards handed in one round count once', () => {
  it('a shard whose handover this view saw late (the giver\'s record arrived just before the first takeover) counts with its round: the next round\'s failure backs off 2 L, not 4 L', () => {
    const { v, shard, member } = view('c');
    // Round 1: a hands work-0 to x at 1 s; b hands work-2 to x at about the same time, but this
    // view's watch delivers it only just before work-0's takeover (at 1 s + L + 40 ms).
    shard('work-0', shardRecord('x', WALL0 + 1_000, 'a'), 1_000);
    const firstTakeover = 1_000 + L + 50;
    shard('work-2', shardRecord('x', WALL0 + 1_010, 'b'), firstTakeover - 10);
    shard('work-0', shardRecord('a', WALL0 + firstTakeover), firstTakeover);
    // work-2's standby, whose own watch lagged more, takes it after x's first back-off (L) ended.
    const secondTakeover = firstTakeover + L + 300;
    shard('work-2', shardRecord('b', WALL0 + secondTakeover), secondTakeover);
    member('x', WALL0 + secondTakeover + 10, secondTakeover + 10);
    const afterRound1 = v.backedOffMembers(secondTakeover + 20);
    // Round 2: one more handover, taken over unrenewed: the 2nd failure in a row, 2 L.
    const t = secondTakeover + 1_000;
    shard('work-1', shardRecord('x', WALL0 + t, 'a'), t);
    shard('work-1', shardRecord('a', WALL0 + t + L + 50), t + L + 50);
    let held = 0;
    while (v.backedOffMembers(t + L + 50 + held).includes('x') && held < 10 * L) held += 100;
    expect({ afterRound1, heldLeases: Math.round(held / L) }).toEqual({ afterRound1: [], heldLeases: 2 });
  });

  it('a shard handed while the member is backed off (by a giver that had not seen the back-off yet) that fails after the back-off ended is a new round: it doubles the back-off', () => {
    const { v, shard } = view('c');
    shard('work-0', shardRecord('x', WALL0 + 1_000, 'a'), 1_000);
    const firstTakeover = 1_000 + L + 50;
    shard('work-0', shardRecord('a', WALL0 + firstTakeover), firstTakeover);
    // b, lagging, hands work-2 to x 500 ms into x's back-off; it fails a lease duration later.
    shard('work-2', shardRecord('x', WALL0 + firstTakeover + 500, 'b'), firstTakeover + 500);
    const failedAt = firstTakeover + 500 + L + 50;
    shard('work-2', shardRecord('b', WALL0 + failedAt), failedAt);
    let held = 0;
    while (v.backedOffMembers(failedAt + held).includes('x') && held < 10 * L) held += 100;
    expect(Math.round(held / L)).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------
// ShardedElectors on one store (sharded-harness.ts).

const worlds = stopWorldsAfterEach();
const byId = (w: ShardWorld, id: string): ShardReplica => w.replicas.findLast((r) => r.id === id)!;
const members = (r: ShardReplica): readonly string[] => r.sharded.snapshot().members;
/** One request plus the set watch's delivery, seen at the next 50 ms check. */
const W_MS = 110;

/** A replica's client whose set watch (and list) can be taken down: while down, a watch never opens and a list fails, so the feed relists once it is back. */
class GappedSetWatch implements LeaseClient {
  down = false;
  private readonly streams = new Set<AbortController>();
  constructor(private readonly inner: MemoryLeaseClient) {}
  readonly get: LeaseClient['get'] = (ns, name, o) => this.inner.get(ns, name, o);
  readonly create: LeaseClient['create'] = (ns, lease, o) => this.inner.create(ns, lease, o);
  readonly update: LeaseClient['update'] = (ns, lease, o) => this.inner.update(ns, lease, o);
  readonly delete: NonNullable<LeaseClient['delete']> = (ns, name, o) => this.inner.delete(ns, name, o);
  readonly watch: NonNullable<LeaseClient['watch']> = (ns, name, o) => this.inner.watch(ns, name, o);
  readonly list: NonNullable<LeaseClient['list']> = (ns, o) => (this.down ? Promise.reject(new NetworkError('connection refused (set watch down)')) : this.inner.list(ns, o));
  readonly watchSet = async (ns: string, o: SetWatchOptions): Promise<void> => {
    if (this.down) {
      await new Promise<void>((resolve) => (o.signal?.aborted ? resolve() : o.signal?.addEventListener('abort', () => resolve(), { once: true })));
      return;
    }
    const stream = new AbortController();
    const onAbort = (): void => stream.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    this.streams.add(stream);
    try {
      await this.inner.watchSet(ns, { ...o, signal: stream.signal });
    } finally {
      this.streams.delete(stream);
      o.signal?.removeEventListener('abort', onAbort);
    }
  };
  /** Takes the set watch down now (its open stream ends). */
  cut(): void {
    this.down = true;
    this.streams.forEach((s) => s.abort());
  }
}

/** A machine's wall clock over the world's oscillator, with an offset that can be stepped. */
class SteppedWall implements Clock {
  constructor(
    private readonly base: FakeClock,
    public offsetMs: number,
  ) {}
  now(): number {
    return this.base.now();
  }
  wallNow(): number {
    return this.base.wallNow() + this.offsetMs;
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.base.setTimeout(callback, delayMs);
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
}

describe('replicas: a member restarted with a new membership Lease while one replica\'s set watch was down', () => {
  it('a crashed member, rescheduled on a node whose wall clock is 2 minutes behind after an operator deleted its stale membership Lease, is counted again by a replica that relisted within two renew intervals + R + w, as by one that saw the delete', async () => {
    const w = worlds.track(shardedWorld({ shards: 6, seed: 201 }));
    let gapOfA: GappedSetWatch | undefined;
    for (const id of ['a', 'b', 'x']) w.add(id, id === 'a' ? { client: (inner) => (gapOfA = new GappedSetWatch(inner)) } : {});
    await w.runUntil(() => w.balanced(), 120_000);
    await w.run(10_000);
    const [a, b] = [byId(w, 'a'), byId(w, 'b')];
    const oldX = byId(w, 'x');
    oldX.crashed = true; // its node is partitioned: x's shards are taken over by expiry
    await w.runUntil(() => [a, b].every((r) => r.sharded.snapshot().suspected.includes('x')), 4 * L);
    gapOfA!.cut();
    // The pod is evicted: its process never reaches the API again; an operator deletes its stale membership Lease.
    await w.stop(oldX);
    w.store.delete(NS, membershipLeaseName(SET, 'x'));
    w.add('x', { clock: (base) => wallSkewed(base, -120_000) });
    await w.run(3_000);
    const listsBefore = a.client.calls.filter((c) => c.verb === 'list').length;
    gapOfA!.down = false;
    await w.runUntil(() => a.client.calls.filter((c) => c.verb === 'list').length > listsBefore, 30_000);
    const relistedAt = w.clock.now();
    const bound = 2 * MEMBERSHIP_RENEW_MS + RETRY_MS + W_MS;
    await w.run(bound);
    const seen = (r: ShardReplica) => ({ countsX: members(r).includes('x'), suspectsX: r.sharded.snapshot().suspected.includes('x') });
    const after = { a: seen(a), b: seen(b) };
    // How long a keeps x out (up to 20 s more), and the counts meanwhile.
    const outFor = await w.timeUntil(() => members(a).includes('x'), 20_000);
    expect({ after, aCountsXAfterRelist: outFor === Infinity ? `not within ${Math.round((w.clock.now() - relistedAt) / 1000)} s` : 'yes', counts: w.counts() }).toEqual({
      after: { a: { countsX: true, suspectsX: false }, b: { countsX: true, suspectsX: false } },
      aCountsXAfterRelist: 'yes',
      counts: [2, 2, 2],
    });
  });
});

describe('replicas: a live member whose wall clock was stepped back, and whose membership Lease is restored from a backup', () => {
  it('stays counted by every replica (within two renew intervals + R + w of the restore): its refreshes after the restore are signs of life', async () => {
    const w = worlds.track(shardedWorld({ shards: 6, seed: 202 }));
    let wallOfX: SteppedWall | undefined;
    // x's node clock runs 2 minutes fast.
    await settled(w, ['a', 'b', 'x'], (id) => (id === 'x' ? { clock: (base) => (wallOfX = new SteppedWall(base, 120_000)) } : {}));
    const name = membershipLeaseName(SET, 'x');
    const backup = w.store.get(NS, name); // the nightly backup
    await w.run(10_000);
    // NTP steps x's clock back to the right time; its refreshes step one microsecond past the last.
    wallOfX!.offsetMs = 0;
    const dropped: string[] = [];
    const sample = (phase: string) => (): void => {
      for (const r of w.replicas) if (!members(r).includes('x')) dropped.push(`${phase}: ${r.id} drops x at ${w.clock.now()}`);
    };
    await w.runEach(10_000, sample('after the clock step'));
    // kubectl replace -f backup.yaml (an operator restores the set's Leases): x's Lease as it was 10 s ago.
    const current = w.store.get(NS, name);
    w.store.update(NS, name, { ...current, spec: { ...backup.spec } });
    const restoredAt = w.clock.now();
    await w.run(2 * MEMBERSHIP_RENEW_MS + RETRY_MS + W_MS);
    await w.runEach(20_000, sample(`after the restore at ${restoredAt}`));
    const first = dropped[0];
    expect({ dropped: dropped.length, first, counts: w.counts() }).toEqual({ dropped: 0, first: undefined, counts: [2, 2, 2] });
  });
});
