/**
 * What a shard-set parent (`pnpm demo --shards`, `pnpm bench --only shards`) and its replica
 * processes (`shard-replica.ts`) tell each other: the replica's configuration (one environment
 * variable, JSON), the messages it sends over the IPC channel, and the set's timings that follow
 * from the shard timings. Times in messages are {@link nowMs} (comparable across processes).
 */
import { messageGuard, type LogMessage, type ReadyMessage } from './protocol.js';

/** The environment variable holding a replica's {@link ShardReplicaConfig} as JSON. */
export const SHARD_REPLICA_ENV = 'LEASEKIT_SHARD_REPLICA';

/** Membership timings of a shard set's replicas. */
export interface ShardMembershipTimings {
  readonly durationMs: number;
  readonly renewIntervalMs: number;
  readonly retryPeriodMs: number;
}

/** Everything a replica process needs. */
export interface ShardReplicaConfig {
  readonly identity: string;
  readonly setName: string;
  readonly namespace: string;
  readonly shards: number;
  /** The kubeconfig file for the embedded server (with this replica's bearer token). */
  readonly kubeconfig: string;
  readonly elector: { readonly leaseDurationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number; readonly maxPeerLeaseDurationMs: number };
  readonly membership: ShardMembershipTimings;
  readonly handoverIntervalMs: number;
  readonly settleMs: number;
}

/** `shard.acquired` or `shard.lost` from the replica's ShardedLeaderElectionComponent bus. */
export interface ShardEventMessage {
  readonly type: 'shard';
  readonly identity: string;
  readonly event: 'shard.acquired' | 'shard.lost';
  readonly shard: number;
  /** The term's fencing token. */
  readonly token: number;
  /** `shard.lost`: why the term ended (`handed_over`, `released`, `renew_failed`, ...). */
  readonly reason?: string;
  readonly at: number;
}

/** `run()` resolved: every shard handed over or released, the membership left. */
export interface ShardStoppedMessage {
  readonly type: 'stopped';
  readonly identity: string;
  /** Rebalancing handovers it gave (`shard.lost` with reason `handed_over` before its shutdown began). */
  readonly handovers: number;
  readonly at: number;
}

/** Anything a shard replica sends. */
export type ShardReplicaMessage = ReadyMessage | ShardEventMessage | LogMessage | ShardStoppedMessage;

/** True for a well-formed {@link ShardReplicaMessage}. */
export const isShardReplicaMessage = messageGuard<ShardReplicaMessage>(['ready', 'shard', 'log', 'stopped']);

/** What follows from the shard timings: the set's membership, handover interval and settle time. */
export interface ShardSetTimings {
  readonly membership: ShardMembershipTimings;
  readonly handoverIntervalMs: number;
  readonly settleMs: number;
}

/**
 * The sharding settings that follow from the shard timings: a membership lasting three lease
 * durations (whole seconds), refreshed three times per duration and retried every retry period;
 * at most one rebalancing handover per retry period per replica, after the member set stood
 * unchanged for two retry periods.
 */
export function shardSetTimings(timings: { readonly leaseDurationMs: number; readonly retryPeriodMs: number }): ShardSetTimings {
  const durationMs = Math.max(1000, Math.ceil((3 * timings.leaseDurationMs) / 1000) * 1000);
  return {
    membership: { durationMs, renewIntervalMs: Math.floor(durationMs / 3), retryPeriodMs: timings.retryPeriodMs },
    handoverIntervalMs: timings.retryPeriodMs,
    settleMs: 2 * timings.retryPeriodMs,
  };
}
