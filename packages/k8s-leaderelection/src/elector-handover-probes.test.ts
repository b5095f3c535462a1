/**
 * Probes of directed handover (`resign({ to })` and preferredHolder) by someone with no stake in
 * the code: lost answers of committed handover and take writes, a handover racing a renewal whose
 * answer was lost, a Lease deleted mid-handover, a paused target, a client-go replica as the target
 * and as a competitor, handover ping-pong and a flipping preferredHolder (request pace), and a
 * seeded sweep mixing all of it with faults. Every probe asserts at every step that at most one
 * replica leads (isLeader() or a leadership signal not aborted; leasekit or client-go model).
 * Probes marked `it.failing` found a defect (named in their comment); they pass once it is fixed.
 */
import { describe, expect, it } from '@jest/globals';
import { freeLease, LEASE, NS, world, type Replica, type World } from './__tests__/harness.js';
import { goObservation } from './__tests__/go-follower.js';
import { PausableClock } from './__tests__/pausable-clock.js';
import { ApiError, makeStatus } from './errors.js';
import { seededRandom } from './random.js';
import { leaseWithRecord, recordFromLease, type LeaderElectionRecord } from './record.js';
import type { Fault, MemoryCall } from './testing/memory-lease-client.js';

const R = 2_000;
const D = 15_000;
/** client-go's most tries in a window: one at once, then one per >= R. */
const clientGoTries = (windowMs: number): number => Math.floor(windowMs / R) + 1;
const internalError = (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(500, 'InternalError', 'Internal error occurred: etcd leader changed')) });
const isWrite = (call: MemoryCall): boolean => call.verb === 'update' || call.verb === 'create';

/** A client-go replica (tryAcquireOrRenew): takes a record naming itself, free or expired by its own observation; renews every R. */
interface GoReplica {
  readonly id: string;
  leading: boolean;
  tokens: number[];
  /** A crashed process leads nothing and tries nothing until then. */
  downUntilMs: number;
  tick(): void;
}

function goReplica(w: World, id: string, seed: number): GoReplica {
  const random = seededRandom(seed);
  const observation = goObservation();
  let lastTry = -Infinity;
  let gap = 0;
  const go: GoReplica = {
    id,
    leading: false,
    tokens: [],
    downUntilMs: -Infinity,
    tick() {
      const now = w.clock.now();
      if (now < go.downUntilMs) return;
      if (now - lastTry < (go.leading ? R : gap)) return;
      lastTry = now;
      gap = R * (1 + 1.2 * random());
      const lease = w.store.peek(NS, LEASE);
      if (!lease) return;
      const { record } = recordFromLease(lease);
      observation.see(record, now);
      const held = record.holderIdentity !== '' && record.holderIdentity !== id;
      if (held) {
        go.leading = false;
        if (observation.observedAtMs() + (record.leaseDurationSeconds ?? 15) * 1000 > now) return;
      }
      const next: LeaderElectionRecord = {
        holderIdentity: id,
        leaseDurationSeconds: 15,
        acquireTimeMs: record.holderIdentity === id ? record.acquireTimeMs : w.clock.wallNow(),
        renewTimeMs: w.clock.wallNow(),
        leaseTransitions: record.holderIdentity === id ? record.leaseTransitions : record.leaseTransitions + 1,
      };
      try {
        const written = w.store.update(NS, LEASE, leaseWithRecord(next, { name: LEASE, namespace: NS }, lease));
        observation.wrote(recordFromLease(written.lease).record, now);
        if (!go.leading) go.tokens.push(next.leaseTransitions);
        go.leading = true;
      } catch {
        go.leading = false;
      }
    },
  };
  return go;
}

/** A client-go follower's view (it never writes): when it first saw the current record, at whole-second precision. */
function goObserver(w: World): { expired: () => boolean; poll: () => void } {
  const observation = goObservation();
  let durationMs = 0;
  return {
    expired: () => observation.seen() && w.clock.now() >= observation.observedAtMs() + durationMs,
    poll() {
      const lease = w.store.peek(NS, LEASE);
      if (!lease) return;
      const { record } = recordFromLease(lease);
      if (observation.see(record, w.clock.now())) durationMs = (record.leaseDurationSeconds ?? 15) * 1000;
    },
  };
}

function liveLeaders(replicas: readonly Replica[]): string[] {
  return replicas.filter((r) => r.elector.isLeader() || r.log.started.some((s) => !s.signal.aborted)).map((r) => r.id);
}

interface RunOptions {
  gos?: readonly GoReplica[];
  /** A client-go follower: no leasekit replica may lead once it would take the record over. */
  observer?: ReturnType<typeof goObserver>;
  stepMs?: number;
  onStep?: () => void;
}

/** Advances time in steps; throws at the first step where two replicas lead, or a leasekit one leads past a client-go follower's expiry. */
async function runSafe(w: World, replicas: readonly Replica[], ms: number, options: RunOptions = {}): Promise<void> {
  const { gos = [], observer, stepMs = 20 } = options;
  const end = w.clock.now() + ms;
  while (w.clock.now() < end) {
    await w.clock.advance(Math.min(stepMs, end - w.clock.now()));
    observer?.poll();
    for (const go of gos) go.tick();
    options.onStep?.();
    const leaders = [...liveLeaders(replicas), ...gos.filter((g) => g.leading).map((g) => g.id)];
    if (leaders.length > 1) throw new Error(`two leaders at ${w.clock.now()} ms: ${leaders.join(', ')}`);
    const lk = liveLeaders(replicas);
    if (observer && lk.length > 0 && observer.expired()) throw new Error(`${lk.join(', ')} leads at ${w.clock.now()} ms past a client-go follower's expiry`);
  }
}

/** Tokens of all terms, leasekit and client-go, in the order they began (each leasekit term's token from its start). */
function tokensInOrder(replicas: readonly Replica[]): number[] {
  return replicas
    .flatMap((r) => r.log.started.map((s) => ({ at: s.atMs, token: s.term.token })))
    .sort((x, y) => x.at - y.at || x.token - y.token)
    .map((t) => t.token);
}

const strictlyRising = (xs: readonly number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

async function stopAll(replicas: readonly Replica[]): Promise<void> {
  for (const r of replicas) await r.stop();
}

async function ledBy(w: World, a: Replica, others: readonly Replica[], options: RunOptions = {}): Promise<void> {
  a.start();
  await w.clock.advance(0);
  expect(a.elector.isLeader()).toBe(true);
  for (const r of others) r.start();
  await runSafe(w, [a, ...others], 5_000, options);
}

describe('lost answers and races around the handover write', () => {
  it('a handover write that committed but whose answer was lost: the target leads, the old leader never leads again, the bystander never leads', async () => {
    const w = world(701);
    freeLease(w);
    let dropNextWrite = false;
    const a = w.replica('a', {
      client: {
        fault: (call) => {
          if (!dropNextWrite || !isWrite(call)) return undefined;
          dropNextWrite = false;
          return { kind: 'drop-response' };
        },
      },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const c = w.replica('c', { config: { followerStrategy: 'watch' } });
    const observer = goObserver(w);
    await ledBy(w, a, [b, c], { observer });
    dropNextWrite = true;
    let resolved = false;
    void a.elector.resign({ to: 'b' }).then(() => (resolved = true));
    await runSafe(w, [a, b, c], 60_000, { observer });
    expect(resolved).toBe(true);
    expect(liveLeaders([a, b, c])).toEqual(['b']);
    expect(a.log.started).toHaveLength(1);
    expect(c.log.started).toEqual([]);
    expect(strictlyRising(tokensInOrder([a, b, c]))).toBe(true);
    await stopAll([a, b, c]);
  });

  it("the target's one-write take committed but its answer was lost: it leads later, alone, with a higher token; nobody leads in between past a client-go follower's view", async () => {
    const w = world(702);
    freeLease(w);
    let dropTake = false;
    const a = w.replica('a');
    const b = w.replica('b', {
      config: { followerStrategy: 'watch' },
      client: {
        fault: (call) => {
          if (!dropTake || !isWrite(call)) return undefined;
          dropTake = false;
          return { kind: 'drop-response' };
        },
      },
    });
    const c = w.replica('c', { config: { followerStrategy: 'watch' } });
    const observer = goObserver(w);
    await ledBy(w, a, [b, c], { observer });
    dropTake = true;
    void a.elector.resign({ to: 'b' });
    await runSafe(w, [a, b, c], 60_000, { observer });
    expect(dropTake).toBe(false); // the take was the dropped write
    expect(liveLeaders([a, b, c])).toEqual(['b']);
    expect(c.log.started).toEqual([]);
    expect(strictlyRising(tokensInOrder([a, b, c]))).toBe(true);
    await stopAll([a, b, c]);
  });

  it('a resign({ to }) while a renewal that will commit with a lost answer is in flight: one leader at every step, the target leads', async () => {
    const w = world(703);
    freeLease(w);
    let dropNext = false;
    const a = w.replica('a', {
      client: {
        latencyMs: 300,
        fault: (call) => {
          if (!dropNext || !isWrite(call)) return undefined;
          dropNext = false;
          return { kind: 'drop-response' };
        },
      },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const observer = goObserver(w);
    a.start();
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 2_000, 10)).toBe(true);
    b.start();
    await runSafe(w, [a, b], 5_000, { observer });
    dropNext = true;
    const sent = a.client.calls.length;
    expect(await w.clock.advanceUntil(() => a.client.calls.length > sent, 3_000, 1)).toBe(true);
    void a.elector.resign({ to: 'b' }); // the renewal is in flight and its answer will be lost
    await runSafe(w, [a, b], 60_000, { observer, stepMs: 5 });
    expect(liveLeaders([a, b])).toEqual(['b']);
    expect(a.log.started).toHaveLength(1);
    expect(strictlyRising(tokensInOrder([a, b]))).toBe(true);
    await stopAll([a, b]);
  });

  it('a Lease deleted while the old leader stops (before its handover write): the write creates nothing, one replica leads afterwards, never two', async () => {
    for (const strategy of ['poll', 'watch'] as const) {
      const w = world(704);
      freeLease(w);
      const a = w.replica('a', { callbacks: { onStoppedLeading: () => void w.store.delete(NS, LEASE) } });
      const b = w.replica('b', { config: { followerStrategy: strategy } });
      const c = w.replica('c', { config: { followerStrategy: strategy } });
      await ledBy(w, a, [b, c]);
      void a.elector.resign({ to: 'b' });
      await w.clock.advance(0);
      expect(w.store.peek(NS, LEASE)).toBeUndefined(); // the handover write did not recreate it
      await runSafe(w, [a, b, c], 90_000);
      expect(liveLeaders([a, b, c])).toHaveLength(1);
      expect(strictlyRising(tokensInOrder([a, b, c]))).toBe(true);
      await stopAll([a, b, c]);
    }
  });
});

describe('targets that are slow, paused, or client-go', () => {
  it('a Lease a client-go replica took while the old leader was stopping is not handed over: the client-go leader keeps it, the target never leads alongside', async () => {
    const w = world(710);
    freeLease(w);
    const g = goReplica(w, 'g', 710);
    const a = w.replica('a', {
      callbacks: {
        onStoppedLeading: () => {
          // The client-go replica's write lands first (say, it judged a's record expired).
          const lease = w.store.get(NS, LEASE);
          const transitions = (lease.spec?.leaseTransitions ?? 0) + 1;
          w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: 'g', leaseDurationSeconds: 15, leaseTransitions: transitions } });
          g.leading = true;
          g.tokens.push(transitions);
        },
      },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    a.start();
    await w.clock.advance(0);
    b.start();
    g.downUntilMs = w.clock.now() + 5_000; // not contending yet
    await runSafe(w, [a, b], 5_000);
    void a.elector.resign({ to: 'b' });
    await runSafe(w, [a, b], 40_000, { gos: [g] });
    expect(g.leading).toBe(true);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('g');
    expect(b.log.started).toEqual([]);
    await stopAll([a, b]);
  });

  for (const pauseMs of [5_000, 25_000]) {
    it(`a watching target paused for ${pauseMs / 1000} s right after the handover: never two leaders; it leads only if nobody took the lease meanwhile`, async () => {
      const w = world(705);
      freeLease(w);
      const pausable = new PausableClock(w.clock);
      const a = w.replica('a');
      const b = w.replica('b', { config: { followerStrategy: 'watch', clock: pausable } });
      const c = w.replica('c', { config: { followerStrategy: 'watch' } });
      const observer = goObserver(w);
      await ledBy(w, a, [b, c], { observer });
      pausable.paused = true;
      void a.elector.resign({ to: 'b' });
      w.clock.setTimeout(() => void pausable.resumeSettling(), pauseMs);
      const handedAt = w.clock.now();
      await runSafe(w, [a, b, c], 60_000, { observer, stepMs: 10 });
      expect(liveLeaders([a, b, c])).toHaveLength(1);
      const first = [a, b, c].flatMap((r) => r.log.started.slice(r === a ? 1 : 0)).sort((x, y) => x.atMs - y.atMs)[0]!;
      if (pauseMs < D) {
        // Back before the record expired for anyone: the target takes it.
        expect(b.log.started).toHaveLength(1);
        expect(c.log.started).toEqual([]);
      } else {
        // Paused past expiry: a bystander leads, no earlier than one lease duration after the handover.
        expect(first.atMs - handedAt).toBeGreaterThanOrEqual(D);
      }
      expect(strictlyRising(tokensInOrder([a, b, c]))).toBe(true);
      await stopAll([a, b, c]);
    });
  }

  it('a client-go replica as the target takes the record naming it at its next try; leasekit replicas never lead alongside it', async () => {
    const w = world(706);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const g = goReplica(w, 'g', 706);
    await ledBy(w, a, [b], { gos: [g] });
    const tokenA = a.elector.getTerm()!.token;
    void a.elector.resign({ to: 'g' });
    await runSafe(w, [a, b], 30_000, { gos: [g] });
    expect(g.leading).toBe(true);
    expect(g.tokens).toEqual([tokenA + 1]); // client-go keeps the handover record's token
    expect(b.log.started).toEqual([]);
    await stopAll([a, b]);
  });

  it('a client-go competitor and a dead target: the client-go replica waits one lease duration from its own observation, then one replica leads', async () => {
    const w = world(707);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const g = goReplica(w, 'g', 707);
    await ledBy(w, a, [b], { gos: [g] });
    void a.elector.resign({ to: 'ghost' });
    await w.clock.advance(0);
    const handedAt = w.clock.now();
    let firstLeaderAt: number | undefined;
    await runSafe(w, [a, b], 40_000, {
      gos: [g],
      onStep: () => {
        if (firstLeaderAt === undefined && (g.leading || b.elector.isLeader() || a.elector.isLeader())) firstLeaderAt = w.clock.now();
      },
    });
    expect(firstLeaderAt).toBeDefined();
    expect(firstLeaderAt! - handedAt).toBeGreaterThanOrEqual(D);
    expect(firstLeaderAt! - handedAt).toBeLessThan(D + 2.2 * R + 100);
    await stopAll([a, b]);
  });
});

describe('request pace under repeated handovers', () => {
  /** Writes and acquire tries (GETs, and writes without a GET before them) of one replica. */
  function pace(r: Replica, from: number): { writes: number; gets: number } {
    const calls = r.client.calls.slice(from).filter((c) => c.verb !== 'watch' && c.verb !== 'recordEvent');
    return { writes: calls.filter(isWrite).length, gets: calls.filter((c) => c.verb === 'get').length };
  }

  /**
   * Claim 7 with `cooldownMs: 0`: a replica begins at most one term per retry period whatever
   * ends it (the pace floor of lead()), so two replicas handing the lease to each other as soon
   * as they lead take it at most once per R each; each term also costs its handover write, so
   * writes stay within two per R (client-go's acquire plus release). Before the floor, a resign
   * with cooldownMs 0 re-took its own released lease at once: hundreds of terms at one instant.
   */
  const pingPong = (strategy: 'poll' | 'watch', cooldownMs: number | undefined) => async (): Promise<void> => {
    const w = world(708);
    freeLease(w);
    const replicas: Replica[] = [];
    const other = (id: string): string => (id === 'a' ? 'b' : 'a');
    const make = (id: string): Replica =>
      w.replica(id, {
        config: { followerStrategy: strategy },
        callbacks: { onStartedLeading: () => void replicas.find((r) => r.id === id)!.elector.resign({ to: other(id), cooldownMs }) },
      });
    replicas.push(make('a'), make('b'));
    const [a, b] = replicas as [Replica, Replica];
    a.start();
    b.start();
    const window = 120_000;
    await runSafe(w, replicas, window);
    const handovers = a.log.stopped.length + b.log.stopped.length;
    expect(handovers).toBeGreaterThan(4); // the ping-pong happened
    const writesPerTerm = cooldownMs === 0 ? 2 : 1;
    for (const r of replicas) {
      const { writes, gets } = pace(r, 0);
      expect(r.log.started.length).toBeLessThanOrEqual(clientGoTries(window));
      // With cooldownMs 0, + 1: the first contention for the free lease, lost with a 409 by one of them.
      expect(writes).toBeLessThanOrEqual(writesPerTerm * clientGoTries(window) + (cooldownMs === 0 ? 1 : 0));
      expect(gets).toBeLessThanOrEqual(clientGoTries(window));
    }
    expect(strictlyRising(tokensInOrder(replicas))).toBe(true);
    await stopAll(replicas);
  };
  for (const strategy of ['poll', 'watch'] as const) {
    it(`${strategy}: two replicas that hand the lease to each other as soon as they lead (default cooldown) stay within client-go's pace, never both leading`, pingPong(strategy, undefined));
    it(`${strategy}: the same ping-pong with resign({ to, cooldownMs: 0 }): at most one term per R per replica, two writes per R (take and handover)`, pingPong(strategy, 0));
  }

  it('a preferredHolder that always names the replica not leading (an election controller flipping it): within client-go pace, never two leaders, tokens rise', async () => {
    const w = world(709);
    freeLease(w);
    const a = w.replica('a', { config: { followerStrategy: 'watch' } });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b]);
    const from = [a.client.calls.length, b.client.calls.length];
    let flips = 0;
    const window = 120_000;
    await runSafe(w, [a, b], window, {
      onStep: () => {
        const lease = w.store.peek(NS, LEASE);
        const holder = lease?.spec?.holderIdentity;
        if (!lease || (holder !== 'a' && holder !== 'b')) return;
        const want = holder === 'a' ? 'b' : 'a';
        if (lease.spec?.preferredHolder === want) return;
        w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: want } });
        flips++;
      },
    });
    expect(flips).toBeGreaterThan(4);
    for (const [i, r] of [a, b].entries()) {
      const { writes, gets } = pace(r, from[i]!);
      expect(writes).toBeLessThanOrEqual(clientGoTries(window));
      expect(gets).toBeLessThanOrEqual(clientGoTries(window));
    }
    expect(strictlyRising(tokensInOrder([a, b]))).toBe(true);
    await stopAll([a, b]);
  });
});

describe('seeded sweep: handovers to live, dead and client-go targets, preferredHolder writes, deletions and API faults', () => {
  const seeds = Number(process.env.PROBE_HANDOVER_SEEDS ?? 6);
  for (let seed = 1; seed <= seeds; seed++) {
    it(`seed ${seed}: never two leaders (leasekit or client-go), never a leasekit leader past a client-go follower's expiry, tokens rise, someone leads at the end`, async () => {
      const w = world(7_000 + seed);
      freeLease(w);
      const random = seededRandom(seed);
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
      let faulty = true;
      const fault = (call: MemoryCall): Fault | undefined => {
        if (!faulty || call.verb === 'watch' || call.verb === 'recordEvent' || random() > 0.06) return undefined;
        return pick<Fault>([internalError(), { kind: 'hang' }, { kind: 'drop-response' }]);
      };
      const replicas = ['a', 'b', 'c'].map((id) =>
        w.replica(id, { config: { followerStrategy: pick(['poll', 'watch'] as const) }, client: { fault, latencyMs: () => Math.floor(random() * 80) } }),
      );
      const g = goReplica(w, 'g', seed);
      const observer = goObserver(w);
      for (const r of replicas) r.start();
      let nextActionAt = w.clock.now() + 3_000;
      await runSafe(w, replicas, 180_000, {
        gos: [g],
        observer,
        onStep: () => {
          if (w.clock.now() < nextActionAt) return;
          nextActionAt = w.clock.now() + 1_000 + random() * 6_000;
          const leader = replicas.find((r) => r.elector.isLeader());
          const roll = random();
          if (g.leading) {
            // The client-go replica crashes (its Lease expires) and restarts later.
            g.leading = false;
            g.downUntilMs = w.clock.now() + 30_000;
          } else if (leader && roll < 0.6) {
            const to = pick([...replicas.filter((r) => r !== leader).map((r) => r.id), 'g', 'ghost']);
            void leader.elector.resign({ to, cooldownMs: pick([undefined, 0, 1_000]) });
          } else if (leader && roll < 0.85) {
            // Only over a live leader's record: writes over a dead holder's record would keep it alive.
            const lease = w.store.peek(NS, LEASE);
            if (lease) w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: pick(['a', 'b', 'c', 'g', 'ghost']) } });
          } else if (roll > 0.95 && w.store.peek(NS, LEASE)) {
            w.store.delete(NS, LEASE);
          }
        },
      });
      faulty = false;
      await runSafe(w, replicas, 60_000, { gos: [g], observer });
      const leaders = [...liveLeaders(replicas), ...(g.leading ? ['g'] : [])];
      expect(leaders).toHaveLength(1);
      const handovers = replicas.flatMap((r) => r.log.stopped).filter((s) => s.reason === 'handed_over').length;
      expect(handovers).toBeGreaterThan(0);
      expect(strictlyRising(tokensInOrder(replicas))).toBe(true);
      await stopAll(replicas);
    });
  }
});
