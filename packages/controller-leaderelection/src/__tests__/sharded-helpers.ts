/**
 * Test helpers for the sharded component: replicas of one shard set on one fake clock and one
 * in-memory Lease store, every event of every replica in one shared timeline (in delivery order).
 */
import type { EventEmitter } from 'eventemitter3';
import { NetworkError, type Clock, type ShardCallbacks } from '@leasekit/k8s-leaderelection';
import { FakeClock, LeaseStore, MemoryLeaseClient, seededRandom } from '@leasekit/k8s-leaderelection/testing';
import { ShardedLeaderElectionComponent } from '../sharded-component.js';
import type { ShardedLeaderElectionComponentConfig } from '../sharded-config.js';
import { SHARDED_LEADER_ELECTION_EVENTS, createShardedLeaderElectionBus, type ShardedLeaderElectionEventName, type ShardedLeaderElectionEvents } from '../sharded-events.js';
import { capturingLogger } from './helpers.js';

type Bus = EventEmitter<ShardedLeaderElectionEvents>;

export const NS = 'default';
export const SET = 'work';
export const LEASE_MS = 6_000;
export const RETRY_MS = 1_000;

/** Short but valid timings (as the pure package's sharded tests use). */
export const TIMINGS: Omit<ShardedLeaderElectionComponentConfig, 'identity' | 'setName' | 'namespace' | 'shards'> = {
  elector: { leaseDurationMs: LEASE_MS, renewDeadlineMs: 4_000, retryPeriodMs: RETRY_MS, maxPeerLeaseDurationMs: LEASE_MS, clientGoFollowers: false },
  membership: { durationMs: 6_000, renewIntervalMs: 2_000, retryPeriodMs: RETRY_MS, requestTimeoutMs: 4_000 },
  handoverIntervalMs: 1_000,
  settleMs: 2_000,
};

/** One event as delivered: which replica published it, its name and its payload. */
export interface SeenEvent {
  replica: string;
  name: ShardedLeaderElectionEventName;
  payload: Record<string, unknown>;
  atMs: number;
}

export interface ShardReplica {
  id: string;
  component: ShardedLeaderElectionComponent<Bus>;
  bus: Bus;
  log: ReturnType<typeof capturingLogger>;
  controller: AbortController;
  done: Promise<void>;
  finished: boolean;
  /** While true every request of this replica fails (to the others it is dead). */
  crashed: boolean;
}

export interface ShardWorld {
  clock: FakeClock;
  store: LeaseStore;
  replicas: ShardReplica[];
  /** Every event of every replica, in the order they were delivered. */
  timeline: SeenEvent[];
  add(id: string, options?: { config?: Partial<ShardedLeaderElectionComponentConfig>; callbacks?: ShardCallbacks; clock?: Clock }): ShardReplica;
  /** Advances fake time in steps until `predicate` holds; fails after `maxMs`. */
  runUntil(predicate: () => boolean, maxMs: number, stepMs?: number): Promise<void>;
  run(ms: number, stepMs?: number): Promise<void>;
  stop(replica: ShardReplica): Promise<void>;
  stopAll(): Promise<void>;
}

export function shardWorld(shards: number): ShardWorld {
  const clock = new FakeClock({ startWallMs: Date.UTC(2025, 0, 1) });
  const store = new LeaseStore({ clock });
  const replicas: ShardReplica[] = [];
  const timeline: SeenEvent[] = [];
  let seed = 0;

  async function run(ms: number, stepMs = 50): Promise<void> {
    const end = clock.now() + ms;
    while (clock.now() < end) await clock.advance(Math.min(stepMs, end - clock.now()));
  }

  async function runUntil(predicate: () => boolean, maxMs: number, stepMs = 50): Promise<void> {
    const start = clock.now();
    while (!predicate()) {
      if (clock.now() - start > maxMs) throw new Error(`condition not reached within ${maxMs} ms`);
      await clock.advance(stepMs);
    }
  }

  return {
    clock,
    store,
    replicas,
    timeline,
    run,
    runUntil,
    add(id, options = {}) {
      const replica = { id, finished: false, crashed: false } as ShardReplica;
      const client = new MemoryLeaseClient(store, {
        clock,
        fault: () => (replica.crashed ? { kind: 'error', error: new NetworkError('connection refused (crashed)') } : undefined),
      });
      replica.bus = createShardedLeaderElectionBus();
      for (const name of Object.values(SHARDED_LEADER_ELECTION_EVENTS)) {
        replica.bus.on(name, (payload: object) => {
          timeline.push({ replica: id, name, payload: { ...payload }, atMs: clock.now() });
        });
      }
      replica.log = capturingLogger();
      replica.component = new ShardedLeaderElectionComponent(
        { identity: id, setName: SET, namespace: NS, shards, clock: options.clock ?? clock, random: seededRandom(++seed), ...TIMINGS, ...options.config },
        client,
        replica.bus,
        options.callbacks,
        replica.log,
      );
      replica.controller = new AbortController();
      replica.done = replica.component.run(replica.controller.signal).then(() => {
        replica.finished = true;
      });
      replicas.push(replica);
      return replica;
    },
    async stop(replica) {
      replica.controller.abort();
      await runUntil(() => replica.finished, 60_000);
      await replica.done;
    },
    async stopAll() {
      for (const r of replicas) r.controller.abort();
      await runUntil(() => replicas.every((r) => r.finished), 120_000);
      await Promise.all(replicas.map((r) => r.done));
    },
  };
}
