/**
 * What the sharding scenario's parent and its replica processes tell each other: the replica's
 * configuration (one environment variable, JSON) and the messages it sends over the IPC channel.
 */

/** The environment variable holding a replica's {@link ShardReplicaConfig} as JSON. */
export const SHARD_REPLICA_ENV = 'LEASEKIT_BENCH_SHARD_REPLICA';

/** Everything a replica process needs. */
export interface ShardReplicaConfig {
  readonly identity: string;
  readonly setName: string;
  readonly namespace: string;
  readonly shards: number;
  /** The kubeconfig file for the embedded server (with this replica's bearer token). */
  readonly kubeconfig: string;
  readonly elector: { readonly leaseDurationMs: number; readonly renewDeadlineMs: number; readonly retryPeriodMs: number; readonly maxPeerLeaseDurationMs: number };
  readonly membership: { readonly durationMs: number; readonly renewIntervalMs: number; readonly retryPeriodMs: number };
  readonly handoverIntervalMs: number;
  readonly settleMs: number;
}

/** What a replica tells the parent over IPC. */
export type ShardReplicaMessage =
  | { readonly type: 'ready'; readonly identity: string }
  | { readonly type: 'log'; readonly identity: string; readonly level: 'warn' | 'error'; readonly message: string }
  | { readonly type: 'stopped'; readonly identity: string; readonly handovers: number; readonly electorsStarted: number };
