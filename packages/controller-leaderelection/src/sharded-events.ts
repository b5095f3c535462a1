/**
 * The sharded leadership events: their names, payloads and the typed eventemitter3 bus that
 * carries them (published through the same isolated `deliver()` as the single-Lease events).
 */
import { EventEmitter } from 'eventemitter3';
import type { StopReason } from '@leasekit/k8s-leaderelection';
import type { LeaderEventBase } from './events.js';

/** The event type strings of {@link ShardedLeaderElectionEvents}. */
export const SHARDED_LEADER_ELECTION_EVENTS = Object.freeze({
  acquired: 'shard.acquired',
  lost: 'shard.lost',
  changed: 'shards.changed',
} as const);

/** `shard.acquired`: this replica leads `shard`; that shard's work may start. */
export interface ShardAcquiredEvent extends LeaderEventBase {
  /** This replica's identity. */
  readonly identity: string;
  /** The shard index, 0 to N-1 (its Lease is `<setName>-<shard>`). */
  readonly shard: number;
  /** The shard term's fencing token (its Lease's `leaseTransitions` when the term began). */
  readonly token: number;
}

/** `shard.lost`: this replica no longer leads `shard`; that shard's work must stop. */
export interface ShardLostEvent extends LeaderEventBase {
  readonly identity: string;
  readonly shard: number;
  /**
   * Why, as for `leader.lost`: `handed_over` for a rebalancing move or a handover on shutdown,
   * `released` (shutdown, no other member), `renew_failed`, `lease_taken`, `lease_deleted`,
   * `resigned` or `work_failed` (`onStartedLeading` threw or rejected).
   */
  readonly reason: StopReason;
  /** The fencing token of the term that ended (the one `shard.acquired` carried). */
  readonly token: number;
}

/** `shards.changed`: the set of shards this replica leads, after each `shard.acquired` and `shard.lost`. */
export interface ShardsChangedEvent extends LeaderEventBase {
  readonly identity: string;
  /** The shards held now, ascending (a frozen array). */
  readonly held: readonly number[];
}

/**
 * The typed event map for eventemitter3. A `shard.lost` listener may return a promise: the shard
 * is handed over or released only after it settles (bounded by `onStoppedLeadingTimeoutMs`), so
 * work it stops cannot overlap the next holder's.
 */
export interface ShardedLeaderElectionEvents {
  'shard.acquired': (event: ShardAcquiredEvent) => void;
  'shard.lost': (event: ShardLostEvent) => void | Promise<void>;
  'shards.changed': (event: ShardsChangedEvent) => void;
}

/** A name of {@link ShardedLeaderElectionEvents}. */
export type ShardedLeaderElectionEventName = keyof ShardedLeaderElectionEvents;

/** The payload type of one sharded event. */
export type ShardedLeaderElectionEventPayload<K extends ShardedLeaderElectionEventName> = Parameters<ShardedLeaderElectionEvents[K]>[0];

/**
 * What the sharded component needs of a bus (as {@link LeaderElectionBus} for one Lease): any
 * `EventEmitter<ShardedLeaderElectionEvents>`, or the application's own emitter whose event map
 * includes these events. `removeListener` is needed too, and checked at runtime.
 */
export interface ShardedLeaderElectionBus {
  listeners(event: ShardedLeaderElectionEventName): Array<(...args: never) => unknown>;
  /** Not called (events are delivered listener by listener), but required so that only real emitters are accepted. */
  emit(event: ShardedLeaderElectionEventName, ...args: never): boolean;
}

/** Creates an eventemitter3 emitter typed for the sharded leadership events. */
export function createShardedLeaderElectionBus(): EventEmitter<ShardedLeaderElectionEvents> {
  return new EventEmitter<ShardedLeaderElectionEvents>();
}
