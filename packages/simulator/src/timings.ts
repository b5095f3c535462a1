/** The seed's world in numbers: Lease name, the timings runs draw from, seed shares (client-go, leasekit-only) and the clock drift bound. */
import type { Draw } from './rng.js';

export const NAMESPACE = 'default';
export const LEASE_NAME = 'sim-lease';

/** Lease duration, renew deadline and retry period of one replica (valid: L > RD > 1.2 R, L >= 1000). */
export interface Timing {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** Elector timings the runs start with. */
export const TIMINGS: readonly Timing[] = [
  { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 800 },
  { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
  { leaseDurationMs: 5000, renewDeadlineMs: 4000, retryPeriodMs: 1000 },
  // Not whole seconds: the Lease says 3 s while the leader's guarantee is computed from 2.5 s.
  { leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 600 },
];

/** A much longer timing (still <= 15 s, the default maxPeerLeaseDurationMs) that only rollouts use. */
export const LONG_TIMING: Timing = { leaseDurationMs: 12000, renewDeadlineMs: 8000, retryPeriodMs: 2000 };

/** Timings a config rollout may move to. */
export const ROLLOUT_TIMINGS: readonly Timing[] = [...TIMINGS, LONG_TIMING];

/**
 * Share of seeds (without client-go replicas) that start in the middle of a rollout: every replica
 * runs LONG_TIMING, and within the first 1.5 to 3 of its lease durations a rollout to the seed's
 * timing (shorter) begins, hostile more often than not.
 */
export const MID_ROLLOUT_SEED_SHARE = 0.25;

/**
 * Timings of runs with a client-go replica: whole seconds (client-go writes int(L / 1 s)), and
 * R + RD clearly below L, where client-go itself is safe (its leader believes it leads until a
 * round fails, R + RD after its last renewal).
 */
export const GO_TIMINGS: readonly Timing[] = [
  TIMINGS[0]!,
  TIMINGS[1]!,
  // Several renewals per wall-clock second: most of them invisible to a client-go follower.
  { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 },
];

/** Share of seeds that run a client-go replica beside the electors (with `clientGo: 'auto'`). */
export const CLIENT_GO_SEED_SHARE = 0.4;

/**
 * Share of the seeds without a client-go replica (with `fleet: 'auto'`) whose electors all run
 * with `clientGoFollowers: false`: a leasekit-only fleet, where a follower restarts its observed
 * time only when the record changes, and leases too short for client-go followers are allowed.
 */
export const LEASEKIT_ONLY_SEED_SHARE = 0.5;

/**
 * Timings of leasekit-only fleets: the usual ones, and leases too short for a client-go follower
 * (guarantee <= 1 s + R; 1.2 s is written as 2 s).
 */
export const LEASEKIT_ONLY_TIMINGS: readonly Timing[] = [
  ...TIMINGS,
  { leaseDurationMs: 1200, renewDeadlineMs: 900, retryPeriodMs: 300 },
  { leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 250 },
];

export const MAX_CLOCK_DRIFT_RATE = 0.01;

/** A replica's clock rate error: often at the bound, where the guarantee's margin is thinnest. */
export function drawDriftRate(draw: Draw): number {
  if (draw.chance(0.4)) return draw.chance(0.5) ? MAX_CLOCK_DRIFT_RATE : -MAX_CLOCK_DRIFT_RATE;
  return draw.between(-MAX_CLOCK_DRIFT_RATE, MAX_CLOCK_DRIFT_RATE);
}
