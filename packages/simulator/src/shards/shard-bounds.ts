/**
 * A sharded run's timings and the bounds its checks use, each derived from the ShardedElector's
 * documented schedule (docs/sharding.md), never tuned to what a run happens to show:
 *
 * UNOWNED, U (a crashed holder's shard is led again within U once nothing else disturbs: no fault,
 * no change of the live set, since a replica that starts judges expiry from its own first sight): the
 * holder's last renewal reached the others at the latest when it crashed; a follower may start
 * only when the shard turned silent (1.5 R without a change; the standby follows all along), and
 * judges expiry from its own observation, L on a clock that may run slow by r: L / (1 - r); then
 * its try comes within two follower try slots (2 x 2.2 R, as L1's polling slack), plus healthy
 * request latencies. U = 1.5 R + L / (1 - r) + 4.4 R + 250 ms.
 *
 * BAL, T (every live replica holds floor or ceil of N/M once the live set has stood, with no
 * fault, for T): first the view settles: dead holders' shards are taken (U), which may make a
 * live member suspected until its next membership refresh, and a dead member turns silent:
 * both within the membership's renew interval plus two of its retry periods (memberSilentMs); a
 * member a replica backs off (a shard handed to it was taken over by expiry before it renewed it:
 * a failed handover, docs/sharding.md) is not counted by that replica until its back-off ends, so
 * the window is judged from the later of the stable time and the last time a running replica
 * listed a live member as backed off; then the members must have stood unchanged for settleMs;
 * then each replica gives its surplus away one handover at a time, at most one per
 * handoverIntervalMs (H), each taking at most one evaluation tick (R) more: a replica holds at
 * most N, so at most N - floor(N/M) moves.
 * T = U + memberSilentMs + settleMs + (N - floor(N/M)) x (H + R) + 250 ms.
 *
 * BAL also bounds the back-off itself, so that it cannot postpone the balance for ever: one
 * replica lists a member as backed off without a break for at most backoffBoundMs. A back-off
 * lasts at most 32 L on the replica's clock (L / (1 - r) of ours each); a failure seen during it
 * is ignored, and the only failures that can come right after it are of shards handed before it
 * began (a backed-off member is handed nothing), each taken over within U of its expiry, the
 * last one at most L after the first. So the listing lasts at most
 * (L + 32 L) / (1 - r) + U.
 *
 * B, the request budget, per process and resource, over a window of 10 R (see budget.ts):
 * - each shard Lease: the process's Electors for that shard, one after another, behave as one
 *   client-go replica (a new one starts only after the old one ended; its first try is the
 *   start): client-go's budget (3 n + 8 API requests, n = floor(10 (1 + r)) + 1);
 * - its membership Lease: a try (create, or create + get + update, or update) every renew
 *   interval, after a failure every retry period at the soonest: 3 m + 4 (join and leave),
 *   m = floor(W (1 + r) / membership retry) + 1;
 * - the set: each loop of the set watch lasts a retry period at least (a stream shorter than R
 *   backs off R or more), one list and one watch open per loop: n + 2 each (the first loop and
 *   one that ends at a resume).
 */
import { clientGoBudget } from '../budget.js';
import { MAX_CLOCK_DRIFT_RATE } from '../timings.js';
import { JITTER_FACTOR_PLUS_ONE, LATENCY_SLACK_MS } from '../world.js';

export interface ShardTiming {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly membershipDurationMs: number;
  readonly membershipRenewIntervalMs: number;
  readonly membershipRetryPeriodMs: number;
  readonly handoverIntervalMs: number;
}

/** Timings a sharded run draws from: short, the defaults, and shorter still. */
export const SHARD_TIMINGS: readonly ShardTiming[] = [
  { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 1000, membershipDurationMs: 20000, membershipRenewIntervalMs: 6000, membershipRetryPeriodMs: 1000, handoverIntervalMs: 2000 },
  { leaseDurationMs: 15000, renewDeadlineMs: 10000, retryPeriodMs: 2000, membershipDurationMs: 60000, membershipRenewIntervalMs: 20000, membershipRetryPeriodMs: 2000, handoverIntervalMs: 5000 },
  { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 800, membershipDurationMs: 12000, membershipRenewIntervalMs: 4000, membershipRetryPeriodMs: 800, handoverIntervalMs: 1500 },
];

/** Silence of a membership the ShardedElector acts on: its renew interval plus two retry periods. */
export function memberSilentMs(t: ShardTiming): number {
  return t.membershipRenewIntervalMs + 2 * t.membershipRetryPeriodMs;
}

/** U: see the module doc. */
export function unownedBoundMs(t: ShardTiming): number {
  const R = t.retryPeriodMs;
  return 1.5 * R + t.leaseDurationMs / (1 - MAX_CLOCK_DRIFT_RATE) + 2 * JITTER_FACTOR_PLUS_ONE * R + LATENCY_SLACK_MS;
}

/** Handovers one replica may need to reach its share: it holds at most N, keeps at least floor(N/M). */
export function movesNeeded(shards: number, members: number): number {
  return members <= 1 ? 0 : shards - Math.floor(shards / members);
}

/** T for N shards over M live replicas: see the module doc (settleMs is the handover interval, its default). */
export function balanceBoundMs(t: ShardTiming, shards: number, members: number): number {
  const settleMs = t.handoverIntervalMs;
  return unownedBoundMs(t) + memberSilentMs(t) + settleMs + movesNeeded(shards, members) * (t.handoverIntervalMs + t.retryPeriodMs) + LATENCY_SLACK_MS;
}

/** A back-off's cap in lease durations (MAX_HANDOVER_BACKOFF_LEASES of the sharding module, docs/sharding.md). */
export const BACKOFF_CAP_LEASES = 32;

/** The longest a replica lists one member as backed off without a break: see the module doc. */
export function backoffBoundMs(t: ShardTiming): number {
  return ((1 + BACKOFF_CAP_LEASES) * t.leaseDurationMs) / (1 - MAX_CLOCK_DRIFT_RATE) + unownedBoundMs(t);
}

export interface ShardBudget {
  readonly windowMs: number;
  /** API requests (get, create, update) on one shard Lease. */
  readonly perShard: number;
  /** Requests on the membership Lease (create, get, update, delete). */
  readonly membership: number;
  /** Set lists, and set watch opens. */
  readonly lists: number;
  readonly watchOpens: number;
  /** Everything one process may send in a window: N shards, membership, set. */
  readonly total: number;
}

export function shardBudget(t: ShardTiming, shards: number): ShardBudget {
  const r = MAX_CLOCK_DRIFT_RATE;
  const single = clientGoBudget(t.retryPeriodMs, r);
  const n = Math.floor(single.windowMs * (1 + r) / t.retryPeriodMs + 1e-9) + 1;
  const m = Math.floor(single.windowMs * (1 + r) / t.membershipRetryPeriodMs + 1e-9) + 1;
  const membership = 3 * m + 4;
  const lists = n + 2;
  const watchOpens = n + 2;
  return { windowMs: single.windowMs, perShard: single.maxApiRequests, membership, lists, watchOpens, total: shards * single.maxApiRequests + membership + lists + watchOpens };
}
