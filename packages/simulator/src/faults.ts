/**
 * The fault model: what the simulator injects, how often by default, and the names under which
 * injected faults are counted.
 */

/** Episodes and one-off events the scheduler starts, with their default rate per virtual minute. */
export const DEFAULT_RATES = {
  /** A window of failing API calls (errors, timeouts, ambiguous writes) for all replicas or one. */
  'api-episode': 1.2,
  /** Every request takes hundreds of ms to seconds (some beyond their deadline). */
  'latency-spike': 0.3,
  /** One replica cannot reach the API (refused, or blackholed with its watch stalled). */
  partition: 0.6,
  /** One replica's watch streams stop delivering (then deliver late). */
  'watch-stall': 0.5,
  /** One replica's watch streams end. */
  'watch-drop': 0.5,
  /** The API server ends every watch (sometimes compacting history: resumes get 410 Gone). */
  'watch-reset-all': 0.25,
  /** One replica process stops for up to several lease durations (GC, blocked event loop). */
  pause: 0.8,
  /**
   * One replica process stops at the worst moment: while its next write is at the server, so the
   * write commits and the answer waits for the process to run again (a GC pause mid-request).
   */
  'pause-in-flight': 0.5,
  /** One replica process dies (no release) and restarts later with the same identity. */
  crash: 0.35,
  /** One replica shuts down gracefully (release) and restarts later. */
  'graceful-restart': 0.5,
  /** One replica's clock changes rate, within the configured drift bound. */
  'clock-rate-change': 0.5,
  /**
   * One replica's wall clock stands still for seconds to minutes (its monotonic clock runs on), so
   * the renewals it writes carry the same time; then it runs on from there or jumps forward.
   */
  'wall-clock-freeze': 0.3,
  /** One replica's wall clock steps back by up to three lease durations, and stays back. */
  'wall-clock-step-back': 0.3,
  /** Someone deletes the Lease (kubectl delete lease). */
  'actor-delete-lease': 0.08,
  /** Someone rewrites the holder to an identity no replica has (kubectl edit). */
  'actor-rewrite-holder': 0.08,
  /**
   * For a while, someone deletes the Lease right before one follower's every GET is served, while
   * the leader keeps recreating it: that follower sees only 404s (not in runs with client-go
   * replicas, which create a missing Lease at once).
   */
  'actor-delete-before-read': 0.15,
  /** For a while, writes are rejected with 403 (an admission webhook, or RBAC), for everyone or one replica. */
  'write-forbidden': 0.3,
  /**
   * A config rollout: replicas restart one by one with a new lease duration (shorter or longer),
   * so old and new run side by side; half of them with a hostile step (not in runs with client-go
   * replicas).
   */
  rollout: 0.15,
  /**
   * The leader, at a random moment of its term, calls `resign({ to })`: to a live follower most of
   * the time, sometimes to a crashed, partitioned or paused replica, sometimes to an identity no
   * replica has (a rate like graceful-restart's).
   */
  'directed-handover': 0.5,
  /**
   * Someone (a coordinator, or a person) writes `spec.strategy: OldestEmulationVersion` and
   * `spec.preferredHolder` (a replica, or an identity no replica has) on the Lease with a
   * compare-and-swap write; a leasekit leader then hands the Lease to the preferred holder.
   */
  'actor-prefer-holder': 0.08,
} as const;

export type ScheduledFault = keyof typeof DEFAULT_RATES;

/** Kinds scheduled from their own stream (`wall-clock`), so adding them shifted no other fault's draws. */
export const WALL_CLOCK_FAULTS: readonly ScheduledFault[] = ['wall-clock-freeze', 'wall-clock-step-back'];
/** Kinds scheduled from their own stream (`handover`), so adding them shifted no other fault's draws. */
export const HANDOVER_FAULTS: readonly ScheduledFault[] = ['directed-handover', 'actor-prefer-holder'];
export type FaultRates = Partial<Record<ScheduledFault, number>>;

/** Kinds of injected faults as counted (per-call API faults are counted one by one). */
export const FAULT_KINDS = [
  'api-409-conflict',
  'api-429-retry-after',
  'api-500-internal',
  'api-503-unavailable',
  'api-timeout',
  'api-ambiguous-write',
  'latency-spike',
  'partition',
  'watch-stall',
  'watch-drop',
  'watch-reset-all',
  'watch-410-compaction',
  'pause',
  'pause-in-flight',
  'crash',
  'restart',
  'graceful-stop',
  'slow-shutdown-callback',
  'clock-rate-change',
  'wall-clock-freeze',
  'wall-clock-step-back',
  'actor-delete-lease',
  'actor-rewrite-holder',
  'actor-forge-live-holder',
  'actor-force-release',
  'actor-delete-before-read',
  'api-403-forbidden',
  'rollout',
  'rollout-restart',
  'rollout-partition-and-delete',
  'directed-handover',
  'directed-handover-to-live',
  'directed-handover-to-down',
  'directed-handover-to-unknown',
  'actor-prefer-holder',
  'preferred-holder-yield',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultCounts = Record<FaultKind, number>;

export function emptyFaultCounts(): FaultCounts {
  return Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as FaultCounts;
}

/**
 * What the outside actor (a human with kubectl) may do.
 * - `kubectl` (default): delete the Lease, rewrite its holder to an identity no replica has.
 * - `none`: nothing.
 * - `forge-live-holder`: also rewrite the holder to a live replica's identity (outside any lease
 *   protocol's guarantee: the forged replica believes it holds the lease).
 * - `force-release`: also set the holder to '' behind the leader's back (a forged release).
 */
export type OutsideActor = 'kubectl' | 'none' | 'forge-live-holder' | 'force-release';
