/**
 * Owns the test-only seam for the elector's safety-critical steps: the table of steps an unsafe
 * variant may replace, and the one way to build an elector with replacements.
 *
 * Each step is one decision a safety fix depends on (until when a renewal guarantees leadership,
 * when a record has expired, what a created Lease's token is...). The simulator's unsafe variants
 * replace one step each the way a plausible bug would, and its sweep must catch every one. The
 * seam is reachable only through the internal entry: the public `Elector` has no hook a subclass
 * could override to break safety.
 */
import type { ResolvedConfig } from './config.js';
import type { Observation } from './observation.js';
import type { LeaderElectionRecord } from './record.js';

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
