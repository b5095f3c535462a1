/**
 * Owns the elector's safety-critical steps: their defaults, the table an unsafe variant may
 * replace, and the one (test-only) way to build an elector with replacements.
 *
 * Each step is one decision a safety fix depends on (until when a renewal guarantees leadership,
 * when a record has expired, what a created Lease's token is...). The simulator's unsafe variants
 * replace one step each the way a plausible bug would, and its sweep must catch every one. The
 * seam is reachable only through the internal entry: the public `Elector` has no hook a subclass
 * could override to break safety.
 */
import type { ResolvedConfig } from './config.js';
import type { LeaseObservation, Observation } from './observation.js';
import { MAX_INT32, nextRenewTimeMs, sameForGoFollower, type LeaderElectionRecord } from './record.js';
import { failureBackoffMs } from './schedule.js';
import { guaranteeDeadline } from './term.js';

/** The replaceable steps (the elector's own implementations are the defaults). */
export interface ElectorSteps {
  /** Until when a renewal sent at `sentAtMs` guarantees leadership. */
  guaranteeUntil(sentAtMs: number): number;
  /** The deadline of a renew round started at `roundStartMs`. */
  renewRoundDeadline(roundStartMs: number): number;
  /** Whether wake-ups check the guarantee (the guard timer alone is not enough after a pause). */
  enforcesGuaranteeOnWake(): boolean;
  /** Whether an observed record has expired. */
  isExpired(obs: Observation): boolean;
  /** Whether a record read on shutdown may be released. */
  mayRelease(record: LeaderElectionRecord): boolean;
  /** The least wait before the next acquire attempt after `failures` consecutive failed ones. */
  failureBackoffMs(failures: number): number;
  /** How long a Lease this replica created must stand unchanged before it leads. */
  creationHoldMs(): number;
  /** The fencing token a Lease created by this replica carries. */
  createdLeaseToken(byLeader: boolean): number;
  /** Whether a client-go follower that saw `previous` would see `next` as a change. */
  goVisibleRenewal(previous: LeaderElectionRecord, next: LeaderElectionRecord): boolean;
  /** The renewTime written over `previous` at wall time `wallNowMs`. */
  renewTimeOver(previous: LeaderElectionRecord, wallNowMs: number): number;
}

/**
 * Replacements for some steps. `safe` holds the elector's own steps, so a replacement can fall
 * back to them; `config` is the elector's resolved configuration.
 */
export type StepOverrides = (safe: Readonly<ElectorSteps>, config: ResolvedConfig) => Partial<ElectorSteps>;

/** What the elector's own steps read of its state. */
export interface StepState {
  /** Monotonic ms until which leadership is guaranteed. */
  guardedUntil(): number;
  /** The current (or last) term's token, undefined before any. */
  termToken(): number | undefined;
  observations(): LeaseObservation;
}

/** The elector's own safety-critical steps, the defaults every replacement starts from. */
export function safeSteps(config: ResolvedConfig, state: StepState): ElectorSteps {
  return {
    // The lease duration, less a margin for our clock running slow and a follower's running fast (each by at most r).
    guaranteeUntil: (sentAtMs) => guaranteeDeadline(sentAtMs, config.leaseDurationMs, config.maxClockDriftRate),
    // The renew deadline, capped at the guarantee.
    renewRoundDeadline: (roundStartMs) => Math.min(roundStartMs + config.renewDeadlineMs, state.guardedUntil()),
    enforcesGuaranteeOnWake: () => true,
    // Judged only from our own monotonic observation time.
    isExpired: (obs) => state.observations().isExpired(obs),
    // Only a lease that still names us may be released.
    mayRelease: (record) => record.holderIdentity === config.identity,
    failureBackoffMs: (failures) => failureBackoffMs(config, failures),
    // The longest lease duration any peer may use, or the longest seen written, whichever is longer.
    creationHoldMs: () => Math.max(config.maxPeerLeaseDurationMs, state.observations().longestSeenDurationMs),
    // A leader recreating its Lease keeps its term's token; anyone else continues above the
    // highest token it has seen (0 if none).
    createdLeaseToken: (byLeader) => {
      const token = state.termToken();
      if (byLeader && token !== undefined) return token;
      const { highestTokenAny } = state.observations();
      return highestTokenAny < 0 ? 0 : Math.min(highestTokenAny + 1, MAX_INT32);
    },
    goVisibleRenewal: (previous, next) => !config.clientGoFollowers || !sameForGoFollower(previous, next),
    // Among leasekit replicas a guarantee counts from every write, so a write over our own record
    // must differ from it even when the wall clock stands still or steps back (nextRenewTimeMs).
    // With client-go followers the wall clock is written as is: their whole-second view is
    // accounted for by GuaranteeBase, and a renewTime held above the wall clock would hide
    // renewals from them.
    renewTimeOver: (previous, wallNowMs) =>
      config.clientGoFollowers || previous.holderIdentity !== config.identity ? wallNowMs : nextRenewTimeMs(wallNowMs, previous.renewTimeMs),
  };
}

let pending: StepOverrides | undefined;

/**
 * Builds an elector (or anything that constructs one synchronously) whose steps are replaced by
 * `overrides`. Test-only: for proving that a check catches a broken step. Never use it in
 * production.
 */
export function withReplacedSteps<T>(overrides: StepOverrides, build: () => T): T {
  if (pending !== undefined) throw new Error('withReplacedSteps does not nest');
  pending = overrides;
  try {
    return build();
  } finally {
    pending = undefined;
  }
}

/** The elector's steps: `safe`, with the pending replacements of {@link withReplacedSteps} if any. */
export function resolveSteps(safe: ElectorSteps, config: ResolvedConfig): ElectorSteps {
  const overrides = pending;
  pending = undefined; // one elector per call: an elector built inside its constructor stays safe
  if (overrides === undefined) return safe;
  return { ...safe, ...overrides(Object.freeze({ ...safe }), config) };
}
