/**
 * The `--shards` scene's configuration: the set every replica joins, checked by the sharded
 * elector's own constructor (so the demo accepts exactly what a controller would), and the
 * replica configuration built from the demo's flags and {@link shardSetTimings}.
 */
import { ConfigError, ShardedElector } from '@leasekit/k8s-leaderelection';
import { LeaseStore, MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { shardSetTimings, type ShardReplicaConfig } from './shard-protocol.js';

/** The set as the flags describe it. */
export interface ShardSetSettings {
  readonly setName: string;
  readonly namespace: string;
  readonly shards: number;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** One replica's configuration: the set, the shard timings, and what follows from them. */
export function shardReplicaConfig(s: ShardSetSettings, identity: string, kubeconfig: string): ShardReplicaConfig {
  return {
    identity,
    setName: s.setName,
    namespace: s.namespace,
    shards: s.shards,
    kubeconfig,
    // Every replica uses this one lease duration, so a claim waits one lease duration, not 15 s.
    elector: { leaseDurationMs: s.leaseDurationMs, renewDeadlineMs: s.renewDeadlineMs, retryPeriodMs: s.retryPeriodMs, maxPeerLeaseDurationMs: s.leaseDurationMs },
    ...shardSetTimings(s),
  };
}

/** The sharded elector's complaint about this set (its ConfigError's message), or undefined when it accepts it. */
export function shardSetConfigError(s: ShardSetSettings): string | undefined {
  try {
    new ShardedElector(shardReplicaConfig(s, 'replica-1', ''), new MemoryLeaseClient(new LeaseStore()));
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
}
