/**
 * Probes of the claim "never two leaders when wall clocks misbehave": wall clocks that stand
 * still, step back, jump, differ per replica; poll and watch followers; clientGoFollowers false
 * and true; a client-go follower model sharing the Lease; restarts with the same identity;
 * releases and re-acquisitions under a frozen clock. Each probe asserts at every step that at most
 * one replica leads (isLeader() or a live leadership signal, leasekit or client-go model), and the
 * liveness and request budgets a user relies on. Probes marked `it.failing` found a defect (named
 * in their comment); they pass once it is fixed.
 */
import { describe, expect, it } from '@jest/globals';
import { freeLease, LEASE, NS, tryTimes, world, type Replica, type World } from './__tests__/harness.js';
import { goObservation } from './__tests__/go-follower.js';
import type { Clock } from './clock.js';
import type { FollowerStrategy } from './config.js';
import { seededRandom } from './random.js';
import { leaseWithRecord, recordFromLease, type LeaderElectionRecord } from './record.js';

const R = 2_000;
/** client-go's most tries in a window: one at once, then one per >= R. */
const clientGoTries = (windowMs: number): number => Math.floor(windowMs / R) + 1;
const STRATEGIES: FollowerStrategy[] = ['poll', 'watch'];

/** A clock on the world's fake time whose wall clock is `wall(monotonic now)`. */
function bentClock(w: World, wall: (nowMs: number) => number): Clock {
  return {
    now: () => w.clock.now(),
    wallNow: () => wall(w.clock.now()),
    setTimeout: w.clock.setTimeout.bind(w.clock),
    clearTimeout: w.clock.clearTimeout.bind(w.clock),
  };
}

/** A wall clock standing still at the world's wall time now (or at `atMs`). */
function frozenClock(w: World, atMs = w.clock.wallNow()): Clock {
  return bentClock(w, () => atMs);
}

/** A released lease (token 4), so every follower wants it. */
const releasedLease = (w: World): void => freeLease(w, 4);

/**
 * A client-go replica, modelled from its tryAcquireOrRenew: it restarts its observed time only
 * when the record's JSON (whole-second times) changes, takes a record held by someone else once
 * observed time + the record's duration has passed (with a compare-and-swap write), and renews
 * every R while it leads. `due` decides when it tries next as a follower (client-go: [R, 2.2R)).
 */
interface GoReplica {
  readonly id: string;
  leading: boolean;
  tookOverAtMs: number | undefined;
  tries: number;
  /** Called every step: tries when due. */
  tick(): void;
}

function goReplica(w: World, id: string, due: (sinceLastTryMs: number, current: LeaderElectionRecord | undefined) => boolean): GoReplica {
  const observation = goObservation();
  let lastTry = -Infinity;
  const go: GoReplica = {
    id,
    leading: false,
    tookOverAtMs: undefined,
    tries: 0,
    tick() {
      const now = w.clock.now();
      const peeked = w.store.peek(NS, LEASE);
      const currentRecord = peeked ? recordFromLease(peeked).record : undefined;
      if (go.leading ? now - lastTry < R : !due(now - lastTry, currentRecord)) return;
      lastTry = now;
      go.tries++;
      const lease = w.store.peek(NS, LEASE);
      if (!lease) return; // (client-go would create it; not probed here)
      const { record } = recordFromLease(lease);
      observation.see(record, now);
      const held = record.holderIdentity !== '' && record.holderIdentity !== id;
      if (held && observation.observedAtMs() + (record.leaseDurationSeconds ?? 15) * 1000 > now) {
        go.leading = false;
        return;
      }
      if (go.leading && record.holderIdentity !== id) {
        go.leading = false;
        return;
      }
      const wall = w.clock.wallNow();
      const next: LeaderElectionRecord = {
        holderIdentity: id,
        leaseDurationSeconds: 15,
        acquireTimeMs: record.holderIdentity === id ? record.acquireTimeMs : wall,
        renewTimeMs: wall,
        leaseTransitions: record.holderIdentity === id ? record.leaseTransitions : record.leaseTransitions + 1,
      };
      try {
        const written = w.store.update(NS, LEASE, leaseWithRecord(next, { name: LEASE, namespace: NS }, lease));
        observation.wrote(recordFromLease(written.lease).record, now);
        if (!go.leading) go.tookOverAtMs = now;
        go.leading = true;
      } catch {
        go.leading = false; // 409: someone wrote first
      }
    },
  };
  return go;
}

/** client-go's follower pace: the next try [R, 2.2R) after the last, from a seeded random. */
function goPace(seed: number): (sinceLastTryMs: number) => boolean {
  const random = seededRandom(seed);
  let gap = 0;
  return (since) => {
    if (since < gap) return false;
    gap = R * (1 + 1.2 * random());
    return true;
  };
}

/** Leasekit replicas that claim leadership now: isLeader(), or a leadership signal not aborted. */
function liveLeaders(replicas: readonly Replica[]): string[] {
  return replicas.filter((r) => r.elector.isLeader() || r.log.started.some((s) => !s.signal.aborted)).map((r) => r.id);
}

/**
 * Advances time in `stepMs` steps; throws at the first step where two replicas (leasekit or
 * client-go models) lead at once.
 */
async function runSafe(w: World, replicas: readonly Replica[], ms: number, options: { gos?: readonly GoReplica[]; stepMs?: number } = {}): Promise<void> {
  const { gos = [], stepMs = 100 } = options;
  const end = w.clock.now() + ms;
  while (w.clock.now() < end) {
    await w.clock.advance(Math.min(stepMs, end - w.clock.now()));
    for (const go of gos) go.tick();
    const leaders = [...liveLeaders(replicas), ...gos.filter((g) => g.leading).map((g) => g.id)];
    if (leaders.length > 1) throw new Error(`two leaders at ${w.clock.now()} ms: ${leaders.join(', ')}`);
  }
}

/** Starts `leader` alone on a released lease and waits until it leads. */
async function leading(w: World, leader: Replica): Promise<void> {
  leader.start();
  expect(await w.clock.advanceUntil(() => leader.elector.isLeader(), 60_000)).toBe(true);
}

/** The world's wall time now, down to the whole second. */
const wholeSecond = (w: World): number => Math.floor(w.clock.wallNow() / 1_000) * 1_000;
/** The second a wall clock alternating between second S and S+1 at each retry period shows at monotonic `nowMs`. */
const alternatingSecond = (S: number, nowMs: number): number => S + (Math.floor(nowMs / R) % 2) * 1_000;
/** Two time daemons fighting: a wall clock alternating between second S and S+1 at each retry period. */
const alternatingClock = (w: World, S: number): Clock => bentClock(w, (now) => alternatingSecond(S, now));

/**
 * `a` leads a released lease with an alternating wall clock (from the world's second now), one
 * retry period on; `kSecond` is the second its record shows then.
 */
async function alternatingLeader(seed: number): Promise<{ w: World; a: Replica; kSecond: number }> {
  const w = world(seed);
  releasedLease(w);
  const S = wholeSecond(w);
  const a = w.replica('a', { config: { clock: alternatingClock(w, S) } });
  await leading(w, a);
  await w.clock.advance(R);
  return { w, a, kSecond: alternatingSecond(S, w.clock.now()) };
}

async function stopAll(replicas: readonly Replica[]): Promise<void> {
  for (const r of replicas) await r.stop();
}

describe('leasekit-only fleets (clientGoFollowers: false)', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: a leader whose wall clock stands still keeps leading for 4 minutes, alone, within client-go's request pace`, async () => {
      const w = world(101);
      releasedLease(w);
      const config = { clientGoFollowers: false, followerStrategy: strategy };
      const a = w.replica('a', { config: { ...config, clock: frozenClock(w) } });
      const b = w.replica('b', { config });
      const c = w.replica('c', { config });
      await leading(w, a);
      const startMs = w.clock.now();
      b.start();
      c.start();
      await runSafe(w, [a, b, c], 240_000);
      expect(a.log.stopped).toEqual([]); // no flapping
      expect(a.elector.isLeader()).toBe(true);
      expect(b.log.started).toEqual([]);
      expect(c.log.started).toEqual([]);
      // The leader renews once per retry period; a follower tries no more often than client-go.
      const windowMs = w.clock.now() - startMs;
      expect(a.client.calls.filter((call) => call.atMs >= startMs && call.verb === 'update').length).toBeLessThanOrEqual(clientGoTries(windowMs));
      for (const f of [b, c]) expect(tryTimes(f.client.calls).length).toBeLessThanOrEqual(clientGoTries(windowMs));
      await stopAll([a, b, c]);
    });

    it(`${strategy}: a leader whose wall clock steps back a second at every reading, then ten minutes, then stands still, keeps leading, alone`, async () => {
      const w = world(102);
      releasedLease(w);
      const config = { clientGoFollowers: false, followerStrategy: strategy };
      const startWall = w.clock.wallNow();
      let readings = 0;
      const wall = (now: number): number => (now < 60_000 ? startWall - 1_000 * readings++ : startWall - 600_000);
      const a = w.replica('a', { config: { ...config, clock: bentClock(w, wall) } });
      const b = w.replica('b', { config });
      await leading(w, a);
      b.start();
      await runSafe(w, [a, b], 180_000);
      expect(a.log.stopped).toEqual([]);
      expect(a.elector.isLeader()).toBe(true);
      expect(b.log.started).toEqual([]);
      await stopAll([a, b]);
    });
  }

  for (const strategy of STRATEGIES) {
    it(`${strategy}: wall clocks that jump around per call and differ per replica, with leader outages: never two leaders, leadership moves on`, async () => {
      const w = world(103);
      releasedLease(w);
      const random = seededRandom(103);
      const base = w.clock.wallNow();
      const ids = ['a', 'b', 'c'];
      let cut = '';
      const replicas = ids.map((id) =>
        w.replica(id, {
          config: {
            clientGoFollowers: false,
            followerStrategy: strategy,
            // Anywhere within a day either side, often the very same millisecond.
            clock: bentClock(w, () => (random() < 0.5 ? base : base + Math.round((random() - 0.5) * 2 * 86_400_000))),
          },
          client: { fault: () => (cut === id ? { kind: 'hang' } : undefined) },
        }),
      );
      for (const r of replicas) r.start();
      const leaders = new Set<string>();
      for (let round = 0; round < 5; round++) {
        await runSafe(w, replicas, 30_000);
        const leader = replicas.find((r) => r.elector.isLeader());
        if (leader) leaders.add(leader.id);
        cut = leader?.id ?? ''; // partition the leader: someone else must take over, safely
        await runSafe(w, replicas, 30_000);
        cut = '';
      }
      expect(leaders.size).toBeGreaterThan(1);
      await stopAll(replicas);
    });
  }

  it('releases and re-acquisitions under one frozen wall clock: never two leaders, tokens always rise', async () => {
    const w = world(104);
    releasedLease(w);
    const frozen = w.clock.wallNow();
    const config = { clientGoFollowers: false, clock: frozenClock(w, frozen) };
    const a = w.replica('a', { config });
    const b = w.replica('b', { config });
    await leading(w, a);
    b.start();
    const tokens: number[] = [a.elector.getTerm()!.token];
    for (let i = 0; i < 6; i++) {
      const [leader, other] = a.elector.isLeader() ? [a, b] : [b, a];
      void leader.elector.resign({ cooldownMs: 3 * R });
      await runSafe(w, [a, b], 20_000);
      expect(other.elector.isLeader()).toBe(true);
      tokens.push(other.elector.getTerm()!.token);
    }
    expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
    expect(new Set(tokens).size).toBe(tokens.length);
    await stopAll([a, b]);
  });

  it('a leader whose Lease was deleted recreates it under a frozen wall clock: the follower sees a change and never takes over', async () => {
    const w = world(105);
    releasedLease(w);
    const config = { clientGoFollowers: false, clock: frozenClock(w) };
    const a = w.replica('a', { config });
    const b = w.replica('b', { config });
    await leading(w, a);
    b.start();
    await runSafe(w, [a, b], 10_000);
    for (let i = 0; i < 3; i++) {
      w.store.delete(NS, LEASE);
      await runSafe(w, [a, b], 40_000);
    }
    expect(a.log.stopped).toEqual([]);
    expect(b.log.started).toEqual([]);
    await stopAll([a, b]);
  });

  for (const strategy of STRATEGIES) {
    it(`${strategy}: a creator whose wall clock stands still leads from its claim without a second leader (the claim and its takeover differ)`, async () => {
      let creatorLed = 0;
      for (let seed = 1; seed <= 6; seed++) {
        const w = world(seed);
        const config = { clientGoFollowers: false, followerStrategy: strategy };
        const a = w.replica('a', { config: { ...config, clock: frozenClock(w) } });
        const b = w.replica('b', { config });
        a.start(); // creates the missing Lease as a claim
        await w.clock.advance(100);
        b.start();
        await runSafe(w, [a, b], 40_000);
        expect(liveLeaders([a, b])).toHaveLength(1);
        if (a.log.started.length > 0) creatorLed++;
        await stopAll([a, b]);
      }
      expect(creatorLed).toBeGreaterThan(0); // the claim's takeover by its creator was exercised
    });
  }

  // DEFECT (precision): nextRenewTimeMs adds one microsecond as (Math.round(previous * 1000) + 1) / 1000.
  // Past 2^53 microseconds since the epoch (a wall clock after 2255-06-05, e.g. an RTC that jumped
  // forward) `+ 1` is lost to double rounding for about half the renewTimes, so a frozen leader
  // writes its record again byte for byte: its follower keeps its observed time and takes over one
  // lease duration later while the leader counts a fresh guarantee from every renewal.
  it('a leader whose wall clock jumped to the year 2300 and stands still: the follower never takes over', async () => {
    const w = world(107);
    releasedLease(w);
    const config = { clientGoFollowers: false };
    const a = w.replica('a', { config: { ...config, clock: frozenClock(w, Date.UTC(2300, 0, 1, 0, 0, 0, 7)) } });
    const b = w.replica('b', { config });
    await leading(w, a);
    b.start();
    await runSafe(w, [a, b], 120_000);
    expect(b.log.started).toEqual([]);
    await stopAll([a, b]);
  });
});

describe('restarts with the same identity', () => {
  for (const clientGoFollowers of [false, true]) {
    it(`clientGoFollowers ${clientGoFollowers}: a new process finding its predecessor's record within the same frozen wall second leads alone`, async () => {
      const w = world(111);
      releasedLease(w);
      const frozen = w.clock.wallNow();
      const config = { clientGoFollowers, releaseOnCancel: false, clock: frozenClock(w, frozen) };
      const first = w.replica('a', { config });
      const b = w.replica('b', { config: { clientGoFollowers } });
      await leading(w, first);
      b.start();
      await runSafe(w, [first, b], 7_000);
      await first.stop(); // a crash, as far as the Lease knows: no release
      const second = w.replica('a', { config });
      second.start();
      await runSafe(w, [first, second, b], 60_000);
      expect(b.log.started).toEqual([]);
      expect(second.log.started.length).toBeGreaterThanOrEqual(1);
      expect(second.log.started[0]!.term.token).toBeGreaterThan(first.log.started[0]!.term.token);
      await stopAll([second, b]);
    });
  }
});

describe('clientGoFollowers: true (the default)', () => {
  for (const strategy of STRATEGIES) {
    it(`${strategy}: a leader whose wall clock stands still steps down before a leasekit or client-go follower may take over`, async () => {
      const w = world(121);
      releasedLease(w);
      const a = w.replica('a', { config: { followerStrategy: strategy, clock: frozenClock(w) } });
      const b = w.replica('b', { config: { followerStrategy: strategy } });
      await leading(w, a);
      const startMs = w.clock.now();
      b.start();
      const go = goReplica(w, 'go', goPace(121));
      await runSafe(w, [a, b], 120_000, { gos: [go] });
      expect(a.log.stopped.length).toBeGreaterThanOrEqual(1); // it could not renew visibly: it stepped down
      // Stepping down and contending again costs no more than client-go: one try per retry
      // period, plus the immediate try of a new acquire loop after each step-down.
      const windowMs = w.clock.now() - startMs;
      expect(tryTimes(b.client.calls).length).toBeLessThanOrEqual(clientGoTries(windowMs));
      expect(tryTimes(a.client.calls.filter((call) => call.atMs >= startMs)).length).toBeLessThanOrEqual(clientGoTries(windowMs) + a.log.stopped.length);
      await stopAll([a, b]);
    });
  }

  it('a leader whose wall clock stepped back an hour and crawls (one second per 10 s), cut off at any point: no follower leads alongside', async () => {
    for (let cutAtMs = 21_000; cutAtMs < 31_000; cutAtMs += 2_000) {
      const w = world(122);
      releasedLease(w);
      const base = w.clock.wallNow() - 3_600_000;
      let cut = false;
      const a = w.replica('a', { config: { clock: bentClock(w, (now) => base + Math.floor(now / 10)) }, client: { fault: () => (cut ? { kind: 'hang' } : undefined) } });
      const b = w.replica('b');
      await leading(w, a);
      b.start();
      const go = goReplica(w, 'go', goPace(cutAtMs));
      await runSafe(w, [a, b], cutAtMs - w.clock.now(), { gos: [go] });
      cut = true;
      await runSafe(w, [a, b], 25_000, { gos: [go] });
      expect(a.elector.isLeader()).toBe(false);
      await b.stop();
      cut = false;
      await a.stop();
    }
  });

  for (const strategy of STRATEGIES) {
    it(`${strategy}: wall clocks that jump around per call and differ per replica, leader outages, and a client-go follower: never two leaders`, async () => {
      const w = world(126);
      releasedLease(w);
      const random = seededRandom(126);
      const base = w.clock.wallNow();
      let cut = '';
      const replicas = ['a', 'b'].map((id) =>
        w.replica(id, {
          config: { followerStrategy: strategy, clock: bentClock(w, () => (random() < 0.5 ? base : base + Math.round((random() - 0.5) * 2 * 86_400_000))) },
          client: { fault: () => (cut === id ? { kind: 'hang' } : undefined) },
        }),
      );
      for (const r of replicas) r.start();
      const go = goReplica(w, 'go', goPace(126));
      for (let round = 0; round < 5 && !go.leading; round++) {
        await runSafe(w, replicas, 30_000, { gos: [go] });
        cut = replicas.find((r) => r.elector.isLeader())?.id ?? '';
        await runSafe(w, replicas, 30_000, { gos: [go] });
        cut = '';
      }
      await stopAll(replicas);
    });
  }

  // DEFECT (GuaranteeBase forgets): GuaranteeBase.sentAtFor drops attempts older than the lease
  // duration, so a record a client-go follower cannot tell from one written more than a lease
  // duration ago counts a fresh guarantee, though that follower may have seen only that record
  // ever since. Timeline: the leader's wall clock alternates between two seconds S and S+1 at each
  // renewal (two time daemons fighting), so its renewals alternate between two records K, K2. A
  // client-go follower whose tries (legal [R, 2.2R) gaps) all land while K is current observes K at
  // t0 and never a change; at t0 + 15 s it takes over. The leader's K written at t0 + 16 s counted
  // from its own send time (the t0 attempt was forgotten), so it still leads: two leaders.
  it('a wall clock alternating between two seconds, and a client-go follower that only ever sees one of them', async () => {
    const { w, a, kSecond } = await alternatingLeader(123);
    // Tries at legal client-go gaps, when the current record's renewTime is in second K (or at
    // the latest gap allowed).
    const go = goReplica(w, 'go', (since, current) => since >= 2.2 * R - 50 || (since >= R && current !== undefined && Math.floor(current.renewTimeMs! / 1_000) * 1_000 === kSecond));
    await runSafe(w, [a], 60_000, { gos: [go] });
    await a.stop();
  });

  // The same oscillating clock, and a renewal repeating an earlier record whose answer is lost
  // (it commits; the leader sees a timeout) before the leader is cut off: a follower that saw only
  // the earlier record times the lease from then, so the guarantee drops to that record's before
  // the write is sent, not when (if ever) its answer arrives.
  it('a renewal repeating an earlier record lowers the guarantee before it is sent (its answer may be lost)', async () => {
    const w = world(131);
    releasedLease(w);
    const S = wholeSecond(w);
    let writes = 0;
    let cut = false;
    // Writes every R from t = 0 alternate between second S (first written at 0) and S+1 (first
    // at 2 s). The 5th (t = 8 s, second S again) commits but its answer is lost, and the leader is
    // cut off after it. Its last acknowledged write (t = 6 s, second S+1) counted from 2 s.
    const a = w.replica('a', {
      config: { clock: alternatingClock(w, S) },
      client: {
        fault: (call) => {
          if (cut) return { kind: 'hang' };
          if (call.verb === 'update' && ++writes === 5) {
            cut = true;
            return { kind: 'drop-response' };
          }
          return undefined;
        },
      },
    });
    a.start();
    // A client-go follower that first reads at 0.1 s (second S) and later only while second S is
    // current: it never sees a change, and takes over 15 s after 0.1 s.
    const go = goReplica(w, 'go', (since, current) => since >= 2.2 * R - 50 || (since >= R && current !== undefined && Math.floor(current.renewTimeMs! / 1_000) * 1_000 === S));
    await runSafe(w, [a], 60_000, { gos: [go] });
    expect(cut).toBe(true);
    expect(go.tookOverAtMs).toBeDefined();
    cut = false;
    await a.stop();
  });

  // DEFECT (GuaranteeBase forgets), in a leasekit-only fleet on the defaults: the same timeline
  // with a leasekit follower whose reads (one per [R, 2.2R), plus network latency) reach the
  // server only while the record from second K is current. It keeps the time it first saw K.
  it('a wall clock alternating between two seconds, and a leasekit follower (defaults) whose reads only ever see one of them', async () => {
    const { w, a, kSecond } = await alternatingLeader(127);
    const inK = (): boolean => {
      const lease = w.store.peek(NS, LEASE);
      return lease !== undefined && Math.floor(recordFromLease(lease).record.renewTimeMs! / 1_000) * 1_000 === kSecond;
    };
    // A read sent while the other second's record is current arrives one retry period later.
    const b = w.replica('b', { config: { followerStrategy: 'poll' }, client: { latencyMs: () => (inK() ? 0 : R) } });
    b.start();
    await runSafe(w, [a, b], 60_000);
    await stopAll([a, b]);
  });

  // DEFECT (claim then takeover look alike): a creator writes its claim with renewTime = wall now,
  // and with clientGoFollowers: true its takeover of the claim writes renewTime = wall now too;
  // with the default maxPeerLeaseDurationMs the claim's duration equals the lease duration and the
  // takeover keeps the claim's token, so under a wall clock standing still (or back in the claim's
  // second) the takeover record is byte for byte the claim's record. GuaranteeBase never saw the
  // claim (it is not written through sentAtFor, and an attempt a lease duration old would be
  // forgotten anyway), so the creator counts a full guarantee from its takeover, while a follower
  // that saw the claim keeps the claim's observed time and takes over one lease duration after it:
  // two leaders until the creator's next renewal conflicts (up to its whole guarantee if that
  // renewal cannot reach the server). Making only the takeover differ is not enough: its next
  // renewal writes the claim's record again (A-B-A) for a follower that missed the takeover.
  for (const strategy of STRATEGIES) {
    it(`${strategy}: a creator whose wall clock stands still takes over its claim; a leasekit follower never leads alongside`, async () => {
      for (let seed = 1; seed <= 6; seed++) {
        const w = world(seed);
        const a = w.replica('a', { config: { followerStrategy: strategy, clock: frozenClock(w) } });
        const b = w.replica('b', { config: { followerStrategy: strategy } });
        a.start(); // creates the missing Lease as a claim
        await w.clock.advance(100);
        b.start();
        await runSafe(w, [a, b], 40_000);
        await stopAll([a, b]);
      }
    });
  }

  it('a creator whose wall clock stands still takes over its claim; a client-go follower never leads alongside', async () => {
    for (let seed = 1; seed <= 6; seed++) {
      const w = world(seed);
      const a = w.replica('a', { config: { clock: frozenClock(w) } });
      a.start();
      await w.clock.advance(100);
      const go = goReplica(w, 'go', goPace(seed));
      await runSafe(w, [a], 40_000, { gos: [go] });
      await a.stop();
    }
  });
});
