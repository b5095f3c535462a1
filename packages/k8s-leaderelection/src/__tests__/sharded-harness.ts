/**
 * Sharded test harness: ShardedElector replicas of one shard set on one LeaseStore and one
 * FakeClock, driven in steps that each check "one holder per shard" (isLeader, live leadership
 * signals, increasing tokens), with every term recorded and leader moves counted. A replica whose
 * clock is a paused PausableClock is a stopped process: its signals cannot act until it resumes.
 * With `record`, every Lease event the store publishes is kept (when, which Lease, its holder).
 */
import { afterAll, afterEach, expect } from '@jest/globals';
import { sleep, type Clock } from '../clock.js';
import type { LeadershipTerm, StoppedLeadingInfo } from '../elector.js';
import { NetworkError } from '../errors.js';
import type { LeaseClient } from '../lease.js';
import { silentLogger } from '../logger.js';
import { membershipLeaseName } from '../membership.js';
import { seededRandom, type Random } from '../random.js';
import { FakeClock } from '../testing/fake-clock.js';
import { LeaseStore } from '../testing/lease-store.js';
import { MemoryLeaseClient, type Fault, type MemoryCall, type MemoryLeaseClientOptions } from '../testing/memory-lease-client.js';
import { SHARD_SET_LABEL, ShardedElector, shardLeaseName, type ShardedElectorConfig } from '../sharding/sharded-elector.js';
import { PausableClock } from './pausable-clock.js';

export const NS = 'default';
export const SET = 'work';
export const START_WALL = Date.UTC(2025, 0, 1);
export const LEASE_MS = 6_000;
export const RENEW_DEADLINE_MS = 4_000;
export const RETRY_MS = 1_000;
export const MEMBERSHIP_MS = 6_000;
export const MEMBERSHIP_RENEW_MS = 2_000;
export const HANDOVER_INTERVAL_MS = 1_000;
export const SETTLE_MS = 2_000;

/** Short timings every sharded test runs with (a replica's identity, set, shards, clock and random come from the world). */
export const TIMINGS: Omit<ShardedElectorConfig, 'identity' | 'setName' | 'namespace' | 'shards' | 'clock' | 'random'> = {
  elector: { leaseDurationMs: LEASE_MS, renewDeadlineMs: RENEW_DEADLINE_MS, retryPeriodMs: RETRY_MS, maxPeerLeaseDurationMs: LEASE_MS, clientGoFollowers: false },
  membership: { durationMs: MEMBERSHIP_MS, renewIntervalMs: MEMBERSHIP_RENEW_MS, retryPeriodMs: RETRY_MS, requestTimeoutMs: RENEW_DEADLINE_MS },
  handoverIntervalMs: HANDOVER_INTERVAL_MS,
  settleMs: SETTLE_MS,
};

/** One leadership term of one shard. */
export interface ShardTerm {
  shard: number;
  identity: string;
  token: number;
  signal: AbortSignal;
  startedAtMs: number;
  /** When onStoppedLeading returned (its work done). */
  stoppedAtMs?: number;
  reason?: StoppedLeadingInfo['reason'];
}

export interface ShardReplica {
  id: string;
  sharded: ShardedElector;
  client: MemoryLeaseClient;
  /** What the ShardedElector sends its requests through: `client`, or what `AddOptions.client` made over it. */
  leaseClient: LeaseClient;
  /** The replica's own clock: the world's, or what `AddOptions.clock` made. */
  clock: Clock;
  /** Every request fails (a dead process or a partitioned node). */
  crashed: boolean;
  /** A per-replica fault on top of `crashed`. */
  fault: ((call: MemoryCall) => Fault | undefined) | undefined;
  controller: AbortController;
  done: Promise<void>;
  finished: boolean;
}

export interface AddOptions {
  overrides?: Partial<ShardedElectorConfig>;
  latencyMs?: MemoryLeaseClientOptions['latencyMs'];
  /** The replica's clock over the world's (a skewed wall clock, a process that pauses); `report` fails the run at the next step. */
  clock?: (base: FakeClock, report: (violation: string) => void) => Clock;
  /** What the replica's requests go through, over its MemoryLeaseClient. */
  client?: (inner: MemoryLeaseClient, clock: Clock) => LeaseClient;
}

export interface WorldOptions {
  shards: number;
  /** Seeds the world's `rnd` and, unless `replicaSeed`, each replica's random (seed * 100 + n). @default 1 */
  seed?: number;
  /** The random seed of the n-th replica added (from 1). */
  replicaSeed?: (n: number) => number;
  /** Fake time per checked step. @default 50 */
  stepMs?: number;
  /** Config of every replica (before the replica's own overrides). */
  overrides?: Partial<ShardedElectorConfig>;
  /** Options of every replica (under the replica's own). */
  defaults?: AddOptions;
  /** onStoppedLeading takes this long (fake time); the next holder of the shard must start only after it returned. */
  stopWorkMs?: number;
  /** Called for each replica by `stopAll` before it stops (after its fault is cleared). */
  beforeStop?: (replica: ShardReplica) => void;
  /** Keep every Lease event the store publishes in `published` (from before the first replica on). */
  record?: boolean;
}

/** A Lease event the store published (a write, or a deletion). */
export interface Published {
  atMs: number;
  type: string;
  name: string;
  holder: string | undefined;
}

/** The wall clock of another machine: `base`'s oscillator, its wall time `skewMs` ahead (the same clock when 0). */
export function wallSkewed(base: FakeClock, skewMs: number): Clock {
  if (skewMs === 0) return base;
  return {
    now: () => base.now(),
    wallNow: () => base.wallNow() + skewMs,
    setTimeout: (callback, delayMs) => base.setTimeout(callback, delayMs),
    clearTimeout: (handle) => base.clearTimeout(handle),
  };
}

const isPaused = (clock: Clock): boolean => clock instanceof PausableClock && clock.paused;

/** Replicas of one shard set on one store and one fake clock; every step checks one holder per shard. */
export function shardedWorld(options: WorldOptions) {
  const { shards, seed = 1, stepMs: defaultStepMs = 50, stopWorkMs } = options;
  const replicaSeed = options.replicaSeed ?? ((n: number): number => seed * 100 + n);
  const clock = new FakeClock({ startWallMs: START_WALL });
  const store = new LeaseStore({ clock });
  const rnd: Random = seededRandom(seed);
  const replicas: ShardReplica[] = [];
  const terms: ShardTerm[] = [];
  /** The terms whose signal was not aborted at the last check (and those begun since). */
  let liveTerms: ShardTerm[] = [];
  const violations: string[] = [];
  const report = (violation: string): void => void violations.push(violation);
  const lastLeader: (string | undefined)[] = new Array<string | undefined>(shards).fill(undefined);
  const lastToken: number[] = new Array<number>(shards).fill(-Infinity);
  let moves = 0;
  let seq = 0;
  const published: Published[] = [];
  const recorder = options.record
    ? store.watch({ namespace: NS }, (e) => {
        const lease = e.object as { metadata?: { name?: string }; spec?: { holderIdentity?: string } };
        published.push({ atMs: clock.now(), type: e.type, name: lease.metadata?.name ?? '', holder: lease.spec?.holderIdentity });
      })
    : undefined;

  /** A term whose holder could act on it now: its signal is live and its process is not paused. */
  const acting = (t: ShardTerm): boolean => !t.signal.aborted && !replicas.some((r) => r.id === t.identity && isPaused(r.clock));

  function started(id: string, shard: number, signal: AbortSignal, term: LeadershipTerm): void {
    const at = clock.now();
    for (const t of terms) {
      if (t.shard !== shard) continue;
      if (acting(t)) report(`shard ${shard}: ${id} started at ${at} while ${t.identity}'s signal was live`);
      else if (stopWorkMs !== undefined && t.signal.aborted && t.stoppedAtMs === undefined) report(`shard ${shard}: ${id} started at ${at} before ${t.identity}'s onStoppedLeading returned`);
    }
    if (!(term.token > lastToken[shard]!)) report(`shard ${shard}: token ${term.token} after ${lastToken[shard]}`);
    lastToken[shard] = term.token;
    const record: ShardTerm = { shard, identity: id, token: term.token, signal, startedAtMs: at };
    terms.push(record);
    liveTerms.push(record);
  }

  function stopped(id: string, shard: number, info: StoppedLeadingInfo): void {
    const t = terms.findLast((x) => x.shard === shard && x.identity === id && x.stoppedAtMs === undefined);
    if (t) Object.assign(t, { stoppedAtMs: clock.now(), reason: info.reason });
  }

  function add(id: string, own: AddOptions = {}): ShardReplica {
    const o: AddOptions = { ...options.defaults, ...own };
    const replicaClock = o.clock?.(clock, report) ?? clock;
    const replica = { id, clock: replicaClock, crashed: false, fault: undefined, finished: false } as ShardReplica;
    replica.client = new MemoryLeaseClient(store, {
      clock,
      ...(o.latencyMs !== undefined ? { latencyMs: o.latencyMs } : {}),
      fault: (call) => (replica.crashed ? { kind: 'error', error: new NetworkError('connection refused (crashed)') } : replica.fault?.(call)),
    });
    replica.leaseClient = o.client ? o.client(replica.client, replicaClock) : replica.client;
    replica.sharded = new ShardedElector(
      { identity: id, setName: SET, namespace: NS, shards, clock: replicaClock, random: seededRandom(replicaSeed(++seq)), ...TIMINGS, ...options.overrides, ...o.overrides },
      replica.leaseClient,
      {
        onStartedLeading: (shard: number, signal: AbortSignal, term: LeadershipTerm) => started(id, shard, signal, term),
        onStoppedLeading:
          stopWorkMs === undefined
            ? (shard: number, info: StoppedLeadingInfo) => stopped(id, shard, info)
            : async (shard: number, info: StoppedLeadingInfo) => {
                await sleep(clock, stopWorkMs);
                stopped(id, shard, info);
              },
      },
      silentLogger,
    );
    replica.controller = new AbortController();
    replica.done = replica.sharded.run(replica.controller.signal).then(() => {
      replica.finished = true;
    });
    replicas.push(replica);
    return replica;
  }

  /** Now: at most one isLeader and one acting leadership signal per shard; leader moves counted. */
  function check(): void {
    liveTerms = liveTerms.filter((t) => !t.signal.aborted);
    for (let s = 0; s < shards; s++) {
      const leaders = replicas.filter((r) => r.sharded.isLeader(s)).map((r) => r.id);
      if (leaders.length > 1) report(`shard ${s} has two leaders at ${clock.now()} ms: ${leaders.join(', ')}`);
      const live = liveTerms.filter((t) => t.shard === s && acting(t));
      if (live.length > 1) report(`shard ${s} has two live leadership signals at ${clock.now()} ms: ${live.map((t) => t.identity).join(', ')}`);
      const leader = leaders[0];
      if (leader !== undefined && leader !== lastLeader[s]) {
        if (lastLeader[s] !== undefined) moves++;
        lastLeader[s] = leader;
      }
    }
    if (violations.length > 0) throw new Error(violations.join('\n'));
  }

  function run(ms: number, stepMs = defaultStepMs): Promise<void> {
    return runEach(ms, undefined, stepMs);
  }

  /** As `run`, calling `each` after every step's check (a test's own sampling of what it watches). */
  async function runEach(ms: number, each: (() => void) | undefined, stepMs = defaultStepMs): Promise<void> {
    const end = clock.now() + ms;
    while (clock.now() < end) {
      await clock.advance(Math.min(stepMs, end - clock.now()));
      check();
      each?.();
    }
  }

  /** Runs until `predicate` holds (checked at every step); the time it took, or Infinity once past `maxMs`. */
  async function timeUntil(predicate: () => boolean, maxMs: number, stepMs = defaultStepMs): Promise<number> {
    const start = clock.now();
    while (!predicate()) {
      if (clock.now() - start > maxMs) return Infinity;
      await run(stepMs, stepMs);
    }
    return clock.now() - start;
  }

  /** As `timeUntil`, failing the test once past `maxMs`. */
  async function runUntil(predicate: () => boolean, maxMs: number, stepMs = defaultStepMs): Promise<number> {
    const took = await timeUntil(predicate, maxMs, stepMs);
    if (took === Infinity) throw new Error(`condition not reached within ${maxMs} ms`);
    return took;
  }

  const alive = (): ShardReplica[] => replicas.filter((r) => !r.finished && !r.crashed && !r.controller.signal.aborted);
  const counts = (): number[] => alive().map((r) => r.sharded.heldShards().length);
  /** Led by a replica that is running and reachable (a crashed one may still believe it leads until its renew deadline). */
  const isLed = (s: number): boolean => alive().some((r) => r.sharded.isLeader(s));
  const ledShards = (): number => Array.from({ length: shards }, (_, s) => s).filter(isLed).length;
  const balanced = (): boolean => {
    const c = counts();
    return ledShards() === shards && c.length > 0 && Math.max(...c) - Math.min(...c) <= 1;
  };
  /** Free shard Leases (labelled, no holder), as the bench pre-creates them: no claim hold. */
  const precreate = (): void => {
    for (let s = 0; s < shards; s++) store.create(NS, { metadata: { name: shardLeaseName(SET, s), labels: { [SHARD_SET_LABEL]: SET } } });
  };

  async function stop(replica: ShardReplica): Promise<void> {
    replica.controller.abort();
    await runUntil(() => replica.finished, 60_000);
    await replica.done;
  }

  /** Stops every replica (faults cleared, paused processes resumed) and expects nothing left: no watch, no timer. */
  async function stopAll(): Promise<void> {
    for (const r of replicas) {
      r.fault = undefined;
      options.beforeStop?.(r);
      if (r.clock instanceof PausableClock && r.clock.paused) r.clock.resume();
      r.controller.abort();
    }
    await runUntil(() => replicas.every((r) => r.finished), 120_000);
    await Promise.all(replicas.map((r) => r.done));
    recorder?.stop();
    expect(store.watcherCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  }

  return { shards, clock, store, rnd, replicas, terms, published, add, run, runEach, timeUntil, runUntil, alive, counts, isLed, ledShards, balanced, precreate, stop, stopAll, moves: () => moves };
}

export type ShardWorld = ReturnType<typeof shardedWorld>;

/**
 * For a test file: `track(w)` marks the world its test runs, stopped after the test (`stopAll`),
 * after `beforeStop` (e.g. a watch the test opened on its store); an unhandled rejection during
 * the file's tests fails the test it surfaced in.
 */
export function stopWorldsAfterEach(): { track(w: ShardWorld, beforeStop?: () => void): ShardWorld } {
  let current: { w: ShardWorld; beforeStop: (() => void) | undefined } | undefined;
  const rejections: unknown[] = [];
  const onRejection = (reason: unknown): void => void rejections.push(reason);
  process.on('unhandledRejection', onRejection);
  afterAll(() => void process.off('unhandledRejection', onRejection));
  afterEach(async () => {
    try {
      current?.beforeStop?.();
      await current?.w.stopAll();
    } finally {
      current = undefined;
    }
    expect(rejections.splice(0)).toEqual([]);
  });
  return {
    track(w, beforeStop) {
      current = { w, beforeStop };
      return w;
    },
  };
}

/** Adds `ids` (with `options(id)`), runs until every shard is led and the counts are fair, then 10 s more: nothing moves any more. */
export async function settled(w: ShardWorld, ids: string[], options: (id: string) => AddOptions = () => ({})): Promise<ShardWorld> {
  for (const id of ids) w.add(id, options(id));
  await w.runUntil(() => w.balanced(), 120_000);
  await w.run(10_000);
  return w;
}

/** Adds `ids` one after another, `gapMs` of checked steps apart; returns the time of the last join. */
export async function joinApart(w: ShardWorld, ids: string[], gapMs: number, options: AddOptions = {}): Promise<number> {
  let lastJoin = w.clock.now();
  for (const [i, id] of ids.entries()) {
    if (i > 0) await w.run(gapMs);
    lastJoin = w.clock.now();
    w.add(id, options);
  }
  return lastJoin;
}

/** Every count is floor or ceil of shards / replicas, and they add up to `shards`. */
export function fairShareOk(counts: number[], shards: number): boolean {
  const floor = Math.floor(shards / counts.length);
  const ceil = Math.ceil(shards / counts.length);
  return counts.every((c) => c === floor || c === ceil) && counts.reduce((a, b) => a + b, 0) === shards;
}

/** A replica's requests to shard Leases (not membership Leases) from `fromMs` on, of one verb if given. */
export function shardCalls(r: ShardReplica, fromMs: number, verb?: string): MemoryCall[] {
  return r.client.calls.filter((c) => c.atMs >= fromMs && c.name.startsWith(`${SET}-`) && !c.name.includes('-member-') && (verb === undefined || c.verb === verb));
}

/** When the store last published a write of `id`'s membership Lease (-Infinity: never); needs `record`. */
export function lastMembershipWrite(w: ShardWorld, id: string): number {
  return w.published.findLast((r) => r.name === membershipLeaseName(SET, id) && r.type !== 'DELETED')?.atMs ?? -Infinity;
}

/** Shard records naming `id` as holder (a handover to it, when it writes nothing) published after `fromMs`; needs `record`. */
export function shardRecordsNaming(w: ShardWorld, id: string, fromMs: number): Published[] {
  return w.published.filter((r) => r.atMs > fromMs && !r.name.includes('-member-') && r.holder === id);
}
