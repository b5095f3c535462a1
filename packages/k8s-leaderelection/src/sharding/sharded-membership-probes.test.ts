/**
 * Adversarial probes of two ShardedElector changes: members judged live on the
 * local monotonic clock (a membership Lease seen for the first time dated by its renewTime's age),
 * and overdue free shards tried by every live member. What user code sees: snapshot().members,
 * isLeader(shard), the shard signals, the shard records written, the requests sent.
 * Fake clock, MemoryLeaseClients on one LeaseStore, one holder per shard checked at every step.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { apiErrorFromHttpStatus } from '../errors.js';
import { membershipLeaseName } from '../membership.js';
import { seededRandom } from '../random.js';
import type { Fault, MemoryCall } from '../testing/memory-lease-client.js';
import { tryTimes } from '../__tests__/harness.js';
import { MachineClock } from '../__tests__/machine-clock.js';
import { SetWatchFaults } from '../__tests__/set-watch-faults.js';
import {
  LEASE_MS,
  MEMBERSHIP_MS,
  MEMBERSHIP_RENEW_MS,
  NS,
  RENEW_DEADLINE_MS,
  RETRY_MS,
  SET,
  SETTLE_MS,
  fairShareOk,
  lastMembershipWrite,
  shardRecordsNaming,
  shardedWorld,
  stopWorldsAfterEach,
  type ShardReplica,
  type ShardWorld,
} from '../__tests__/sharded-harness.js';
import { shardLeaseName, type ShardedElectorConfig } from './sharded-elector.js';

// Minutes of fake time per test; a busy shared machine needs more than the default 30 s.
jest.setTimeout(120_000);

const STEP_MS = 50;
/** One request's round trip plus the set watch's delivery, seen at the next check (`w` of docs/sharding.md). */
const W_MS = 2 * STEP_MS + 10;
/** Membership: 6 s, refreshed every 2 s, retried every second: silent after 2 + 2 x 1 = 4 s (the harness's). */
const SHORT = { durationMs: MEMBERSHIP_MS, renewIntervalMs: MEMBERSHIP_RENEW_MS, retryPeriodMs: RETRY_MS, requestTimeoutMs: RENEW_DEADLINE_MS };
/** The defaults' ratios (60 s, 20 s): silent after 20 + 2 x 1 = 22 s. */
const LONG = { durationMs: 60_000, renewIntervalMs: 20_000, retryPeriodMs: RETRY_MS, requestTimeoutMs: RENEW_DEADLINE_MS };

const worlds = stopWorldsAfterEach();

/** A replica's own machine clock (its wall clock offset or frozen by the probe). */
function wallOf(r: ShardReplica): MachineClock {
  if (!(r.clock instanceof MachineClock)) throw new Error(`${r.id} has no machine clock`);
  return r.clock;
}

/** A replica's set watch streams (lagged or cut by the probe). */
function streamsOf(r: ShardReplica): SetWatchFaults {
  if (!(r.leaseClient instanceof SetWatchFaults)) throw new Error(`${r.id} has no set watch faults`);
  return r.leaseClient;
}

/**
 * The probes' world: every replica on a machine clock of its own, 5 ms requests through set watch
 * streams that can lag and be cut, every Lease event recorded. Stopped after the test with every
 * partition, fault, frozen wall clock and set watch lag cleared.
 */
function world(shards: number, membership: ShardedElectorConfig['membership'], seed: number): ShardWorld {
  return worlds.track(
    shardedWorld({
      shards,
      seed,
      stepMs: STEP_MS,
      record: true,
      overrides: { membership },
      defaults: { latencyMs: 5, clock: (base) => new MachineClock(base), client: (inner, clock) => new SetWatchFaults(inner, clock) },
      beforeStop: (r) => {
        r.crashed = false;
        wallOf(r).frozenWallMs = undefined;
        streamsOf(r).endLag();
      },
    }),
  );
}

/** Every live replica holds its fair share (floor or ceil of shards / replicas), and they add up to all shards. */
const balanced = (w: ShardWorld): boolean => fairShareOk(w.counts(), w.shards);

/** Starts `ids` together and runs until the set is balanced and has stood a while. */
async function stable(shards: number, ids: string[], membership: ShardedElectorConfig['membership'], seed: number): Promise<ShardWorld> {
  const w = world(shards, membership, seed);
  for (const id of ids) w.add(id);
  expect(await w.timeUntil(() => balanced(w) && w.counts().length === ids.length, 60_000)).toBeLessThan(Infinity);
  await w.run(3_000);
  return w;
}

/** Runs until `id`'s membership has just been written, then `extraMs` more. */
async function afterRefreshOf(w: ShardWorld, id: string, extraMs: number): Promise<number> {
  const before = lastMembershipWrite(w, id);
  await w.timeUntil(() => lastMembershipWrite(w, id) > before, 60_000);
  const at = lastMembershipWrite(w, id);
  await w.run(extraMs);
  return at;
}

/** A failure list as what a reader needs: how many, the first and the last. */
const summary = (list: readonly string[]): string[] => (list.length === 0 ? [] : [`${list.length} samples`, list[0]!, list.at(-1)!]);

const membersOf = (m: ShardReplica): readonly string[] => m.sharded.snapshot().members;

describe('claim 1a: a dead member is not counted live past one membership duration after its last renewal', () => {
  // The member dies right after a membership refresh; a joiner starts `offset` later (60 s
  // memberships refreshed every 20 s, as the defaults). It runs, receives its share, and leaves.
  for (const offsetMs of [1_000, 10_000, 30_000, 45_000, 59_000, 70_000]) {
    it(`a joiner starting ${offsetMs / 1000} s after a dead member's last renewal never counts it past that renewal + the membership duration, nor hands it a shard then`, async () => {
      const w = await stable(6, ['a', 'b', 'dead'], LONG, 11 + offsetMs / 1000);
      const dead = w.replicas[2]!;
      const lastRenewalMs = await afterRefreshOf(w, 'dead', 0);
      dead.crashed = true;
      await w.run(offsetMs);
      const j = w.add('j');
      const late: string[] = [];
      const sample = (): void => {
        if (!j.controller.signal.aborted && w.clock.now() >= lastRenewalMs + LONG.durationMs && membersOf(j).includes('dead')) late.push(`j counts dead at ${w.clock.now() - lastRenewalMs} ms after its last renewal`);
      };
      await w.runEach(12_000, sample);
      expect(j.sharded.heldShards().length).toBeGreaterThan(0);
      const leftAtMs = w.clock.now();
      j.controller.abort();
      await w.timeUntil(() => j.finished, 20_000);
      await w.runEach(LEASE_MS + W_MS, sample);
      expect(summary(late)).toEqual([]);
      // Handing a shard to the dead member is allowed only while it may still count as live.
      const named = shardRecordsNaming(w, 'dead', Math.max(leftAtMs - 1, lastRenewalMs + LONG.durationMs));
      expect(named.map((r) => `${r.name} names dead at ${r.atMs - lastRenewalMs} ms`)).toEqual([]);
      expect(w.replicas.filter((m) => m.id === 'a' || m.id === 'b').reduce((k, m) => k + m.sharded.heldShards().length, 0)).toBe(6);
    });
  }

  // Liveness is "this replica saw the Lease change", and any new resourceVersion counts as a change:
  // a label, an annotation or a managedFields update by someone else revives a dead member for
  // another silence threshold. The dead member here held nothing, so no takeover made it suspected.
  it("a write to a dead member's membership Lease that renews nothing (an operator's label) does not make it live again, nor draws a handover to it", async () => {
    const w = await stable(6, ['a', 'b'], SHORT, 21);
    const [a, b] = w.replicas as [ShardReplica, ShardReplica];
    const dead = w.add('dead');
    await w.timeUntil(() => lastMembershipWrite(w, 'dead') > -Infinity, 5_000);
    const lastRenewalMs = lastMembershipWrite(w, 'dead');
    dead.crashed = true;
    await w.run(SHORT.durationMs - 1_000 - (w.clock.now() - lastRenewalMs));
    // kubectl label lease work-member-... team=x: a new resourceVersion, the same renewTime.
    const name = membershipLeaseName(SET, 'dead');
    const current = w.store.get(NS, name);
    w.store.update(NS, name, { ...current, metadata: { ...current.metadata, labels: { ...current.metadata?.labels, team: 'x' } } });
    const seen: string[] = [];
    await w.runEach(3 * LEASE_MS, () => {
      const after = w.clock.now() - lastRenewalMs;
      for (const m of [a, b]) if (after >= SHORT.durationMs && membersOf(m).includes('dead')) seen.push(`${m.id} counts dead ${after} ms after its last renewal`);
    });
    const handed = shardRecordsNaming(w, 'dead', lastRenewalMs + SHORT.durationMs).map((r) => `${r.name} handed to dead ${r.atMs - lastRenewalMs} ms after its last renewal`);
    expect({ counted: summary(seen), handed }).toEqual({ counted: [], handed: [] });
  });
});

describe('claim 1b: a live member that renews on time is never judged dead', () => {
  // The first sight dates a's Lease by renewTime's age on j's wall clock: 1 s + 3.5 s = 4.5 s, past
  // the silence threshold (renew interval + 2 retry periods = 4 s), though a refreshed 1 s ago. The
  // documented price (docs/sharding.md, "How a replica decides"): j counts a from a's next refresh
  // on, at most one renew interval after its first view; within the threshold it counts a at once.
  it('a joiner whose wall clock runs 3.5 s ahead counts a member that refreshes on time from that member\'s next refresh on, at most one renew interval after its first view', async () => {
    const w = await stable(6, ['a', 'b'], SHORT, 31);
    await afterRefreshOf(w, 'a', 1_000);
    const j = w.add('j');
    wallOf(j).wallOffsetMs = 3_500;
    const firstView = w.clock.now();
    let lastDropMs = -Infinity;
    await w.runEach(8_000, () => {
      const members = membersOf(j);
      if (members.includes('j') && !(members.includes('a') && members.includes('b'))) lastDropMs = w.clock.now();
    });
    expect(lastDropMs - firstView).toBeLessThanOrEqual(SHORT.renewIntervalMs + W_MS);
    expect(membersOf(j)).toEqual(['a', 'b', 'j']);
  });

  // 1 s ahead: every member refreshed at most a renew interval (2 s) ago, so its first-sight age
  // stays within the 4 s threshold.
  it('a joiner whose wall clock runs 1 s ahead counts every member that refreshes on time from its first view on', async () => {
    const w = await stable(6, ['a', 'b'], SHORT, 31);
    await afterRefreshOf(w, 'a', 1_000);
    const j = w.add('j');
    wallOf(j).wallOffsetMs = 1_000;
    const dropped: string[] = [];
    await w.runEach(8_000, () => {
      const members = membersOf(j);
      if (members.includes('j') && !(members.includes('a') && members.includes('b'))) dropped.push(`${w.clock.now()}: [${members.join(', ')}]`);
    });
    expect(summary(dropped)).toEqual([]);
  });

  it('a member whose wall clock runs 5 s behind, then steps back 30 s, then forward 40 s, is never dropped by members that saw it refresh', async () => {
    const w = await stable(6, ['a', 'b', 'c'], SHORT, 32);
    const [a, b, c] = w.replicas as [ShardReplica, ShardReplica, ShardReplica];
    const dropped: string[] = [];
    const sample = (): void => {
      for (const m of [a, b]) if (!membersOf(m).includes('c')) dropped.push(`${m.id} dropped c at ${w.clock.now()}`);
    };
    wallOf(c).wallOffsetMs = -5_000;
    await w.runEach(10_000, sample);
    wallOf(c).wallOffsetMs = -35_000;
    await w.runEach(10_000, sample);
    wallOf(c).wallOffsetMs = 5_000;
    await w.runEach(10_000, sample);
    expect(summary(dropped)).toEqual([]);
    expect(w.counts()).toEqual([2, 2, 2]);
  });

  it('an observer whose own wall clock runs 5 s ahead, then steps back a minute, never drops a member that refreshes on time', async () => {
    const w = await stable(6, ['a', 'b', 'c'], SHORT, 33);
    const [a] = w.replicas as [ShardReplica];
    const dropped: string[] = [];
    const sample = (): void => {
      if (membersOf(a).join() !== 'a,b,c') dropped.push(`${phase}, ${w.clock.now()}: [${membersOf(a).join(', ')}]`);
    };
    let phase = '';
    const steps: [string, () => void][] = [
      ['5 s ahead', () => (wallOf(a).wallOffsetMs = 5_000)],
      ['stepped back 65 s', () => (wallOf(a).wallOffsetMs = -60_000)],
    ];
    for (const [name, step] of steps) {
      phase = name;
      step();
      await w.runEach(10_000, sample);
    }
    expect(summary(dropped)).toEqual([]);
  });

  // A frozen wall clock makes every membership refresh after the first identical to the stored
  // object: the API server (and LeaseStore) treat it as a no-op, with no new resourceVersion and no
  // watch event, so the set view sees no change. (The Elector steps its renewTime past the last
  // one; Membership writes the wall clock as is.)
  it('a member whose wall clock stands still (its refreshes carry the same renewTime) is still counted by the others and by itself', async () => {
    const w = await stable(6, ['a', 'b', 'f'], SHORT, 34);
    const [a, b, f] = w.replicas as [ShardReplica, ShardReplica, ShardReplica];
    wallOf(f).frozenWallMs = f.clock.wallNow();
    const frozenAt = w.clock.now();
    const dropped: string[] = [];
    await w.runEach(20_000, () => {
      for (const m of [a, b, f]) if (!membersOf(m).includes('f')) dropped.push(`${m.id} dropped f at ${w.clock.now()}`);
    });
    // f kept refreshing every 2 s (the writes succeed), as a live member must.
    expect(f.client.calls.filter((c) => c.atMs > frozenAt && c.name === membershipLeaseName(SET, 'f')).length).toBeGreaterThanOrEqual(9);
    expect(summary(dropped)).toEqual([]);
    expect(w.counts()).toEqual([2, 2, 2]);
  });

  it('set watch events lagging 1.5 s, a stream cut and resumed, and a 410 relist never drop a member that refreshes on time', async () => {
    const w = await stable(6, ['a', 'b', 'c'], SHORT, 35);
    const [a] = w.replicas as [ShardReplica];
    const dropped: string[] = [];
    const sample = (): void => {
      if (membersOf(a).join() !== 'a,b,c') dropped.push(`${w.clock.now()}: [${membersOf(a).join(', ')}]`);
    };
    streamsOf(a).lagMs = 1_500;
    await w.runEach(10_000, sample);
    streamsOf(a).cutStreams();
    await w.runEach(5_000, sample);
    let gone = 1;
    a.fault = (call) => (call.verb === 'watchSet' && gone-- > 0 ? { kind: 'error', error: apiErrorFromHttpStatus(410, 'too old resource version') } : undefined);
    streamsOf(a).cutStreams();
    await w.runEach(10_000, sample);
    expect(a.sharded.feedRequests.lists).toBeGreaterThanOrEqual(2); // the 410 did cause a relist
    expect(summary(dropped)).toEqual([]);
    expect(w.counts()).toEqual([2, 2, 2]);
  });
});

describe('claim 1c: a membership deleted and recreated, an identity restarted', () => {
  it('a member whose membership Lease is deleted by someone else recreates it and is counted again within a retry period: nothing moves', async () => {
    const w = await stable(6, ['a', 'b', 'c'], SHORT, 41);
    const [a, b] = w.replicas as [ShardReplica, ShardReplica];
    const moved = w.terms.filter((t) => t.reason !== undefined).length;
    w.store.delete(NS, membershipLeaseName(SET, 'c'));
    const back = await w.timeUntil(() => [a, b].every((m) => membersOf(m).includes('c')), 20_000);
    expect(back).toBeLessThanOrEqual(SHORT.renewIntervalMs + RETRY_MS + W_MS);
    await w.run(10_000);
    expect(w.terms.filter((t) => t.reason !== undefined).length - moved).toBe(0);
    expect(w.counts()).toEqual([2, 2, 2]);
  });

  it('an identity that leaves and restarts (its Lease deleted, then created anew) is counted at once and gets its share back within the join bound', async () => {
    const w = await stable(6, ['a', 'b', 'c'], SHORT, 42);
    const c = w.replicas[2]!;
    c.controller.abort();
    await w.timeUntil(() => c.finished, 20_000);
    await w.run(5_000);
    const again = w.add('c');
    const joinedAt = w.clock.now();
    await w.timeUntil(() => w.replicas.slice(0, 2).every((m) => membersOf(m).includes('c')), 5_000);
    expect(w.clock.now() - joinedAt).toBeLessThanOrEqual(W_MS + STEP_MS);
    // join + S + (k - 1) H + 3w, k = 1 here (one shard from each of two givers).
    const took = await w.timeUntil(() => again.sharded.heldShards().length === 2 && balanced(w), 30_000);
    expect(took).toBeLessThanOrEqual(SETTLE_MS + 3 * W_MS);
  });

  it('a member cut off past its silence and then reconnected is counted again at its next refresh and gets its share back', async () => {
    const w = await stable(6, ['a', 'b', 'c'], SHORT, 43);
    const [a, b, c] = w.replicas as [ShardReplica, ShardReplica, ShardReplica];
    c.crashed = true;
    await w.run(LEASE_MS + 2 * RETRY_MS);
    expect(membersOf(a)).toEqual(['a', 'b']);
    c.crashed = false;
    const back = await w.timeUntil(() => [a, b].every((m) => membersOf(m).includes('c')), 20_000);
    expect(back).toBeLessThanOrEqual(SHORT.renewIntervalMs + W_MS);
    expect(await w.timeUntil(() => balanced(w) && c.sharded.heldShards().length === 2, 30_000)).toBeLessThan(Infinity);
  });
});

describe('claim 1d: placement on the judged members', () => {
  it('a joiner that dies before receiving anything is handed no shard once it is past its membership duration, and the set rebalances', async () => {
    const w = await stable(6, ['a', 'b'], SHORT, 51);
    const d = w.add('d');
    await w.timeUntil(() => lastMembershipWrite(w, 'd') > -Infinity, 5_000);
    const lastRenewalMs = lastMembershipWrite(w, 'd');
    d.crashed = true;
    await w.run(3 * LEASE_MS);
    expect(shardRecordsNaming(w, 'd', lastRenewalMs + SHORT.durationMs)).toEqual([]);
    expect(w.counts()).toEqual([3, 3]);
  });
});

describe('claim 2: overdue free shards tried by every live member', () => {
  /** Shard writes of `m` fail: it stays a live member the plan names, but cannot take a shard. */
  const shardWritesFail = (m: ShardReplica, error: () => Fault): void => {
    m.fault = (call) => ((call.verb === 'update' || call.verb === 'create') && !call.name.includes('-member-') ? error() : undefined);
  };

  it('free shards the plan gives to a member whose shard writes fail are each led by another member within first seen free + S + L + R + w', async () => {
    const w = world(8, SHORT, 61);
    w.precreate();
    const start = w.clock.now();
    for (const id of ['a', 'b', 'x']) w.add(id);
    shardWritesFail(w.replicas[2]!, () => ({ kind: 'error', error: apiErrorFromHttpStatus(403, 'forbidden') }));
    const firstLedMs = (s: number): number | undefined => w.terms.find((t) => t.shard === s && t.identity !== 'x')?.startedAtMs;
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    await w.timeUntil(() => all.every((s) => firstLedMs(s) !== undefined), 60_000);
    const latest = Math.max(...all.map((s) => firstLedMs(s) ?? Infinity)) - start;
    expect(latest).toBeLessThanOrEqual(SETTLE_MS + LEASE_MS + RETRY_MS + W_MS);
  });

  // The rescue's shards would then be handed back to x by rebalancing, over and over (x is a live
  // member the plan names; it cannot take them; each costs a lease duration unled). The rule
  // (docs/sharding.md "A member that cannot take shards"): a shard handed to a member and taken over
  // by expiry before it renewed it is a failed handover; after its k-th in a row the member is not
  // counted for L * 2^(k-1) (at most 32 L); seeing it renew a shard resets k.
  it('a member whose shard writes fail is handed shards at most 1 + log2(W / L) times in W = 10 minutes, each costing a shard at most L + R + w unled, and gets its share within 32 L + L + S + 2 H + 3 w once its writes work', async () => {
    const w = world(8, SHORT, 61);
    w.precreate();
    const start = w.clock.now();
    for (const id of ['a', 'b', 'x']) w.add(id);
    const x = w.replicas[2]!;
    shardWritesFail(x, () => ({ kind: 'error', error: apiErrorFromHttpStatus(403, 'forbidden') }));
    const all = [0, 1, 2, 3, 4, 5, 6, 7];
    await w.timeUntil(() => all.every((s) => w.terms.some((t) => t.shard === s)), 60_000);
    const ledAt = w.clock.now();
    // Every stretch a shard goes unled once all were led, and when it began.
    const unledSince: (number | undefined)[] = all.map(() => undefined);
    const stretches: { shard: number; fromMs: number; ms: number }[] = [];
    const track = (): void =>
      all.forEach((s) => {
        const led = w.replicas.some((m) => m.sharded.isLeader(s));
        if (!led && unledSince[s] === undefined) unledSince[s] = w.clock.now();
        if (led && unledSince[s] !== undefined) {
          stretches.push({ shard: s, fromMs: unledSince[s]!, ms: w.clock.now() - unledSince[s]! });
          unledSince[s] = undefined;
        }
      });
    const windowMs = 600_000;
    await w.runEach(start + windowMs - w.clock.now(), track);
    // Handovers to x (x writes nothing): an episode is the records naming x within one lease duration.
    const handbacks = shardRecordsNaming(w, 'x', start).map((r) => r.atMs);
    const episodes = handbacks.filter((at, i) => i === 0 || at - handbacks[i - 1]! > LEASE_MS).length;
    expect(episodes).toBeGreaterThan(0); // the cause is there: x was handed shards
    // Episode k+1 comes at least L (the take over by expiry) + L * 2^(k-1) after episode k.
    expect(episodes).toBeLessThanOrEqual(1 + Math.floor(Math.log2(windowMs / LEASE_MS)));
    expect(stretches.filter((t) => t.fromMs >= ledAt && t.ms > LEASE_MS + RETRY_MS + W_MS)).toEqual([]);
    expect(unledSince.every((u) => u === undefined || w.clock.now() - u <= LEASE_MS + RETRY_MS + W_MS)).toBe(true);
    expect(membersOf(w.replicas[0]!)).not.toContain('x'); // backed off, not suspected: its membership refreshes
    expect(w.replicas[0]!.sharded.snapshot().backedOff).toEqual(['x']);

    // x's writes work again: it is counted after its back-off (at most 32 L from a failure seen at
    // most L after the fault ends) and gets its share as a joiner does (S + (k - 1) H + 3 w, k <= 2
    // per giver at H = 1 s).
    x.fault = undefined;
    const healedAt = w.clock.now();
    const boundMs = 32 * LEASE_MS + LEASE_MS + SETTLE_MS + 2 * 1_000 + 3 * W_MS;
    const tookMs = await w.timeUntil(() => balanced(w) && x.sharded.heldShards().length >= 2, boundMs + 5_000);
    expect(tookMs).toBeLessThanOrEqual(boundMs);
    expect(w.clock.now() - healedAt).toBeLessThanOrEqual(boundMs);
    expect(x.sharded.snapshot().backedOff).toEqual([]);
  });

  for (const seed of [62, 63]) {
    it(`every member racing for overdue free shards with lost responses, slow writes and a member that cannot write never gives a shard two holders (seed ${seed})`, async () => {
      const w = world(8, SHORT, seed);
      w.precreate();
      const rnd = seededRandom(seed);
      const lossy = (call: MemoryCall): Fault | undefined => (call.verb === 'update' && !call.name.includes('-member-') && rnd() < 0.15 ? { kind: 'drop-response' } : undefined);
      for (const id of ['a', 'b', 'c', 'x']) w.add(id).fault = lossy;
      shardWritesFail(w.replicas[3]!, () => ({ kind: 'error', error: apiErrorFromHttpStatus(503, 'unavailable') }));
      for (let i = 0; i < 6; i++) {
        const t = w.add(`t${i}`);
        t.fault = lossy;
        await w.run(1_500);
        t.controller.abort();
        await w.run(1_500);
      }
      await w.run(30_000);
      // Every shard was led (by a member that can write), one holder at a time (checked at every step).
      for (let s = 0; s < 8; s++) expect(w.terms.some((t) => t.shard === s && t.identity !== 'x')).toBe(true);
    });
  }

  /** Per replica and shard Lease: acquire tries (GET, or a write no GET preceded) and raw calls in the window. */
  function budgetReport(w: ShardWorld, shards: number, fromMs: number, windowMs: number): string[] {
    const over: string[] = [];
    const maxTries = windowMs / RETRY_MS + 1;
    for (const m of w.replicas) {
      for (let s = 0; s < shards; s++) {
        const calls = m.client.calls.filter((c) => c.atMs >= fromMs && c.name === shardLeaseName(SET, s));
        const tries = tryTimes(calls).length;
        if (tries > maxTries || calls.length > 2 * maxTries) over.push(`${m.id} shard ${s}: ${tries} tries, ${calls.length} calls (max ${maxTries} tries)`);
      }
    }
    return over;
  }

  const failures: [string, () => Fault][] = [
    ['500', () => ({ kind: 'error', error: apiErrorFromHttpStatus(500, 'internal error') })],
    ['503', () => ({ kind: 'error', error: apiErrorFromHttpStatus(503, 'unavailable') })],
    ['403', () => ({ kind: 'error', error: apiErrorFromHttpStatus(403, 'forbidden') })],
    ['hang', () => ({ kind: 'hang' })],
  ];
  for (const [name, fault] of failures) {
    it(`4 members and 8 overdue free shards whose every shard write fails (${name}) stay within one try per retry period per shard Lease per replica`, async () => {
      const w = world(8, SHORT, 70);
      w.precreate();
      for (const id of ['a', 'b', 'c', 'd']) shardWritesFail(w.add(id), fault);
      await w.run(SETTLE_MS + LEASE_MS + 2 * RETRY_MS);
      const from = w.clock.now();
      const windowMs = 60_000;
      await w.run(windowMs);
      // The rescue did start: every member follows the overdue shards.
      expect(w.replicas.map((m) => m.sharded.snapshot().following.length)).toEqual([8, 8, 8, 8]);
      expect(budgetReport(w, 8, from, windowMs)).toEqual([]);
    });
  }

  it('overdue free shards whose writes fail (503) while every set watch stream is cut every 1.1 s stay within one try per retry period per shard Lease per replica', async () => {
    const w = world(8, SHORT, 72);
    w.precreate();
    for (const id of ['a', 'b', 'c', 'd']) shardWritesFail(w.add(id), failures[1]![1]);
    await w.run(SETTLE_MS + LEASE_MS + 2 * RETRY_MS);
    const from = w.clock.now();
    const windowMs = 60_000;
    const watchesBefore = w.replicas.map((m) => m.sharded.feedRequests.watches);
    let sinceCut = 0;
    await w.runEach(windowMs, () => {
      sinceCut += STEP_MS;
      if (sinceCut < 1_100) return;
      sinceCut = 0;
      for (const m of w.replicas) streamsOf(m).cutStreams();
    });
    // The streams were cut (each cut reopens the watch, after the feed's backoff when nothing came).
    w.replicas.forEach((m, i) => expect(m.sharded.feedRequests.watches - watchesBefore[i]!).toBeGreaterThanOrEqual(10));
    expect(budgetReport(w, 8, from, windowMs)).toEqual([]);
  });

  it('4 members whose every write fails (membership included: 500, 503, 403 and hangs in turn) send no more than one try per retry period per Lease', async () => {
    const w = await stable(8, ['a', 'b', 'c', 'd'], SHORT, 71);
    let k = 0;
    for (const m of w.replicas) m.fault = (call) => (call.verb === 'update' || call.verb === 'create' || call.verb === 'delete' ? failures[k++ % 4]![1]() : undefined);
    const from = w.clock.now();
    const windowMs = 60_000;
    await w.run(windowMs);
    expect(budgetReport(w, 8, from, windowMs)).toEqual([]);
    for (const m of w.replicas) {
      const membership = m.client.calls.filter((c) => c.atMs >= from && c.name === membershipLeaseName(SET, m.id)).length;
      expect(membership).toBeLessThanOrEqual(2 * (windowMs / RETRY_MS + 1));
    }
  });
});
