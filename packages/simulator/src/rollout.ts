/**
 * Config rollouts: replicas restart one by one with a new lease duration, so old and new
 * configurations share the Lease for a while. A rollout is planned the way the docs tell an
 * operator to do it: every replica's `maxPeerLeaseDurationMs` (default max(leaseDurationMs,
 * 15 s)) must cover every lease duration any replica sharing the Lease may use. So a rollout either
 * leaves it at the default (both durations <= 15 s: the default covers them), or sets it on the new
 * replicas to the longest of the old and new durations; and if an old replica's setting would not
 * cover the new duration, a first pass restarts those replicas with one that does.
 */
import type { Timing } from './timings.js';

/** The elector's documented default floor for maxPeerLeaseDurationMs. */
export const DEFAULT_MAX_PEER_FLOOR_MS = 15_000;

/** Lease-related configuration of one replica. */
export interface ReplicaConfig {
  readonly timing: Timing;
  /** Explicit maxPeerLeaseDurationMs, or undefined for the default. */
  readonly maxPeerLeaseDurationMs: number | undefined;
}

/** One restart of a rollout. */
export interface RolloutStep {
  readonly slot: number;
  readonly config: ReplicaConfig;
  /** 'cover': a first pass widening maxPeerLeaseDurationMs; 'duration': the new lease duration. */
  readonly phase: 'cover' | 'duration';
}

/** The longest lease duration a replica with this config waits for (the elector's resolved value). */
export function effectiveMaxPeer(config: ReplicaConfig): number {
  return config.maxPeerLeaseDurationMs ?? Math.max(config.timing.leaseDurationMs, DEFAULT_MAX_PEER_FLOOR_MS);
}

/**
 * The restarts of a rollout from the slots' `current` configs to `to`, in `order` (slot indexes).
 * `explicit`: set maxPeerLeaseDurationMs (else leave the default; then both durations must be <=
 * the default floor).
 */
export function planRollout(current: readonly ReplicaConfig[], to: Timing, explicit: boolean, order: readonly number[]): RolloutStep[] {
  const longestInUse = Math.max(to.leaseDurationMs, ...current.map((c) => c.timing.leaseDurationMs));
  if (!explicit && longestInUse > DEFAULT_MAX_PEER_FLOOR_MS) throw new RangeError('a default-setting rollout needs every duration <= 15 s');
  const steps: RolloutStep[] = [];
  for (const slot of order) {
    const config = current[slot]!;
    if (effectiveMaxPeer(config) >= to.leaseDurationMs) continue;
    const widened = explicit ? longestInUse : undefined;
    steps.push({ slot, config: { timing: config.timing, maxPeerLeaseDurationMs: widened }, phase: 'cover' });
  }
  const maxPeer = explicit ? longestInUse : undefined;
  for (const slot of order) steps.push({ slot, config: { timing: to, maxPeerLeaseDurationMs: maxPeer }, phase: 'duration' });
  return steps;
}
