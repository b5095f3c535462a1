/**
 * What the demo's parent and its replica processes tell each other. The parent passes each
 * replica its configuration in one environment variable (so `ps` shows a short command line);
 * the replica reports over the IPC channel that `child_process.fork` opens.
 *
 * Times are wall-clock epoch milliseconds from {@link nowMs}: the processes run on one machine,
 * so they share that clock, and a monotonic clock would not be comparable across processes.
 */
import type { FollowerStrategy } from '@leasekit/k8s-leaderelection';

/** The environment variable holding a replica's {@link ReplicaConfig} as JSON. */
export const REPLICA_CONFIG_ENV = 'LEASEKIT_DEMO_REPLICA';

/** Everything a replica process needs to know. */
export interface ReplicaConfig {
  readonly identity: string;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly followerStrategy: FollowerStrategy;
  /** A kubeconfig file to load; undefined means the in-cluster service account. */
  readonly kubeconfig: string | undefined;
  /**
   * `handoverOnShutdown: 'newest'` with these membership timings: on SIGTERM a leader hands the
   * Lease to the newest live replica (the rollout scene's new replicas). Undefined: it releases.
   */
  readonly handoverOnShutdown?: { readonly membershipDurationMs: number; readonly membershipRenewIntervalMs: number };
  /** Coordinated mode (`coordinated: true`) with these versions (the coordinated scene). */
  readonly coordinated?: { readonly binaryVersion: string; readonly emulationVersion: string };
}

/** The replica serves /metrics and /healthz here. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly identity: string;
  readonly pid: number;
  readonly port: number;
  readonly at: number;
}

/** One event from the replica's leader-election bus. */
export interface BusEventMessage {
  readonly type: 'event';
  readonly identity: string;
  /** The bus event name, e.g. `leader.became`. */
  readonly event: 'leader.election.started' | 'leader.became' | 'leader.lost' | 'leader.observed';
  readonly at: number;
  /** `leader.became` / `leader.lost`: the term's fencing token. */
  readonly token?: number;
  /** `leader.lost`: why the term ended. */
  readonly reason?: string;
  /** `leader.observed`: the new holder. */
  readonly leader?: string;
}

/** A warning or error the replica's elector logged. */
export interface LogMessage {
  readonly type: 'log';
  readonly identity: string;
  readonly level: 'warn' | 'error';
  readonly message: string;
  readonly at: number;
}

/** `run()` resolved: leader work stopped and, when it led, the Lease was released. */
export interface StoppedMessage {
  readonly type: 'stopped';
  readonly identity: string;
  readonly at: number;
}

/** Anything a replica sends. */
export type ReplicaMessage = ReadyMessage | BusEventMessage | LogMessage | StoppedMessage;

/**
 * A check for messages of these `type`s (IPC carries whatever the child sent): an object with one
 * of them, a string `identity` and a number `at`.
 */
export function messageGuard<M extends { readonly type: string }>(types: readonly M['type'][]): (value: unknown) => value is M {
  const known = new Set<string>(types);
  return (value: unknown): value is M => {
    const m = value as { type?: unknown; identity?: unknown; at?: unknown } | null;
    return m != null && typeof m === 'object' && known.has(m.type as string) && typeof m.identity === 'string' && typeof m.at === 'number';
  };
}

/** True for a well-formed {@link ReplicaMessage}. */
export const isReplicaMessage = messageGuard<ReplicaMessage>(['ready', 'event', 'log', 'stopped']);

/**
 * Wall-clock milliseconds with sub-millisecond resolution: the process's time origin (taken from
 * the wall clock when it started) plus the monotonic clock, so two readings in one process never
 * go backwards and readings in different processes on one machine are comparable.
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}
