/**
 * Test harness: electors on one in-memory store and one fake clock, with a record of every
 * callback, helpers that start a leader on a free Lease, and one that asserts "never two leaders"
 * at every step of a run; likewise Memberships of one election on one store and one fake clock.
 */
import { expect } from '@jest/globals';
import { Elector, type LeaderCallbacks, type LeadershipTerm, type StoppedLeadingInfo } from '../elector.js';
import type { ElectorConfig } from '../config.js';
import type { LeaseClient } from '../lease.js';
import { silentLogger, type Logger } from '../logger.js';
import { Membership, type MembershipConfig } from '../membership.js';
import { seededRandom } from '../random.js';
import { FakeClock } from '../testing/fake-clock.js';
import { LeaseStore } from '../testing/lease-store.js';
import { MemoryLeaseClient, type Fault, type MemoryCall, type MemoryLeaseClientOptions } from '../testing/memory-lease-client.js';

export const NS = 'default';
export const LEASE = 'my-lease';

export interface CallbackLog {
  started: { term: LeadershipTerm; signal: AbortSignal; atMs: number; isLeaderInside: boolean; leaderInside: string }[];
  stopped: (StoppedLeadingInfo & { atMs: number })[];
  newLeaders: string[];
}

export interface Replica {
  id: string;
  elector: Elector;
  client: MemoryLeaseClient;
  log: CallbackLog;
  controller: AbortController;
  done: Promise<void> | undefined;
  start(): void;
  stop(): Promise<void>;
}

export interface World {
  clock: FakeClock;
  store: LeaseStore;
  replica(id: string, options?: ReplicaOptions): Replica;
}

export interface ReplicaOptions {
  config?: Partial<ElectorConfig>;
  client?: MemoryLeaseClientOptions;
  /** Use this client instead of a MemoryLeaseClient. */
  leaseClient?: LeaseClient;
  callbacks?: LeaderCallbacks;
  logger?: Logger;
}

export function world(seed = 1): World {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  let n = 0;
  return {
    clock,
    store,
    replica(id, options = {}) {
      const client = new MemoryLeaseClient(store, { clock, ...options.client });
      const log: CallbackLog = { started: [], stopped: [], newLeaders: [] };
      const holder: { elector?: Elector } = {};
      const callbacks: LeaderCallbacks = {
        onStartedLeading: (signal, term) => {
          log.started.push({ term, signal, atMs: clock.now(), isLeaderInside: holder.elector!.isLeader(), leaderInside: holder.elector!.getLeader() });
          return options.callbacks?.onStartedLeading?.(signal, term);
        },
        onStoppedLeading: (info) => {
          log.stopped.push({ ...info, atMs: clock.now() });
          return options.callbacks?.onStoppedLeading?.(info);
        },
        onNewLeader: (identity) => {
          log.newLeaders.push(identity);
          return options.callbacks?.onNewLeader?.(identity);
        },
      };
      const elector = new Elector(
        {
          identity: id,
          leaseName: LEASE,
          leaseNamespace: NS,
          clock,
          random: seededRandom(seed * 1000 + ++n),
          followerStrategy: 'poll',
          ...options.config,
        },
        options.leaseClient ?? client,
        callbacks,
        options.logger ?? silentLogger,
      );
      holder.elector = elector;
      const replica: Replica = {
        id,
        elector,
        client,
        log,
        controller: new AbortController(),
        done: undefined,
        start() {
          replica.controller = new AbortController();
          replica.done = elector.run(replica.controller.signal);
        },
        async stop() {
          replica.controller.abort();
          await clock.advanceUntil(() => false, 0);
          // Let shutdown (which may wait on fake timers) finish.
          let finished = false;
          void replica.done?.then(() => (finished = true));
          await clock.advanceUntil(() => finished, 60_000);
          await replica.done;
        },
      };
      return replica;
    },
  };
}

/** A free (released) Lease at token `transitions`, so the first replica started takes it at once. */
export function freeLease(w: World, transitions = 3): void {
  w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: transitions } });
}

/** A world (of `seed`) whose Lease exists with an empty spec: the first replica to try takes it at once. */
export function worldWithEmptyLease(seed = 1): World {
  const w = world(seed);
  w.store.create(NS, { metadata: { name: LEASE } });
  return w;
}

/** Starts `replica` and runs the clock through its first try: on a free or empty Lease it leads after this. */
export async function startNow(w: World, replica: Replica): Promise<Replica> {
  replica.start();
  await w.clock.advance(0);
  return replica;
}

/** Starts `leader` (which takes the free Lease at once, asserted) and then `others`, and lets them settle, checked. */
export async function ledBy(w: World, leader: Replica, others: Replica[]): Promise<void> {
  leader.start();
  await w.clock.advance(0);
  expect(leader.elector.isLeader()).toBe(true);
  for (const r of others) r.start();
  await runChecked(w.clock, [leader, ...others], 5_000, 10);
}

/** Advances time in steps, asserting at every step that at most one replica reports leadership. */
export async function runChecked(clock: FakeClock, replicas: Replica[], ms: number, stepMs = 50): Promise<void> {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    await clock.advance(Math.min(stepMs, end - clock.now()));
    const leaders = replicas.filter((r) => r.elector.isLeader()).map((r) => r.id);
    if (leaders.length > 1) throw new Error(`two leaders at ${clock.now()} ms: ${leaders.join(', ')}`);
  }
}

/**
 * Start times of a replica's acquire tries on its Lease: a GET, or a write no GET of its own
 * preceded (a watching follower takes a free or expired record it saw with one write). Watches,
 * Events and any other verb are not tries.
 */
export function tryTimes(calls: readonly MemoryCall[]): number[] {
  const times: number[] = [];
  let previous: string | undefined;
  for (const call of calls) {
    if (call.verb !== 'get' && call.verb !== 'update' && call.verb !== 'create') continue;
    if (call.verb === 'get' || previous !== 'get') times.push(call.atMs);
    previous = call.verb;
  }
  return times;
}

/** Memberships of the election `leaseName` on one store and one fake clock (from `startWallMs`), by default over one client with `fault`. */
export function membershipWorld(leaseName: string, startWallMs: number, fault?: (call: MemoryCall) => Fault | undefined) {
  const clock = new FakeClock({ startWallMs });
  const store = new LeaseStore({ clock });
  const client = new MemoryLeaseClient(store, { clock, ...(fault ? { fault } : {}) });
  const member = (identity: string, extra: Partial<MembershipConfig> = {}, c: LeaseClient = client) =>
    new Membership({ identity, leaseName, leaseNamespace: NS, clock, ...extra }, c, silentLogger);
  return { clock, store, client, member };
}

/** Runs a Membership until `stop()`; `isDone()` once its run resolved. */
export function startMembership(membership: Membership) {
  const controller = new AbortController();
  let done = false;
  const run = membership.run(controller.signal).then(() => (done = true));
  return { stop: () => controller.abort(), run, isDone: () => done };
}
