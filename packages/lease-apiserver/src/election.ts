/**
 * The coordinator's pure decisions, as Kubernetes' coordinated leader election makes them
 * (pkg/controlplane/controller/leaderelection/election.go): which strategy a Lease's candidates
 * ask for, which candidate OldestEmulationVersion ranks first, and when a Lease or a candidate
 * has expired by the coordinator's wall clock.
 */
import type { Lease } from '@leasekit/k8s-leaderelection';
import { compareSemver, parseSemverTolerant, type LeaseCandidate, type Semver } from '@leasekit/k8s-leaderelection/testing';

export const OLDEST_EMULATION_VERSION = 'OldestEmulationVersion';

const ZERO: Semver = { core: [0, 0, 0], pre: [] };

/** Epoch ms of a MicroTime or Time string; undefined when absent or unreadable. */
export function timeOf(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * The strategy for a Lease: the one of the candidates with the newest binary version. Undefined
 * when those disagree (a user error: the real coordinator leaves such a Lease alone) or when
 * there are no candidates.
 */
export function pickStrategy(candidates: readonly LeaseCandidate[]): string | undefined {
  let newest: Semver | undefined;
  let strategies = new Set<string>();
  for (const c of candidates) {
    const version = parseSemverTolerant(c.spec?.binaryVersion ?? '') ?? ZERO;
    const order = newest === undefined ? 1 : compareSemver(version, newest);
    if (order > 0) {
      newest = version;
      strategies = new Set();
    }
    if (order >= 0) strategies.add(c.spec?.strategy ?? '');
  }
  return strategies.size === 1 ? [...strategies][0] : undefined;
}

/** Both versions parse (tolerantly): only such candidates take part in OldestEmulationVersion. */
function rankable(c: LeaseCandidate): boolean {
  return parseSemverTolerant(c.spec?.emulationVersion ?? '') !== undefined && parseSemverTolerant(c.spec?.binaryVersion ?? '') !== undefined;
}

/**
 * Negative when `a` ranks before `b`: the older emulation version, then the older binary
 * version, then the earlier creationTimestamp; on a full tie `a` (the one met first) stays ahead.
 */
export function compareCandidates(a: LeaseCandidate, b: LeaseCandidate): number {
  const version = (c: LeaseCandidate, field: 'emulationVersion' | 'binaryVersion'): Semver => parseSemverTolerant(c.spec?.[field] ?? '') ?? ZERO;
  const byEmulation = compareSemver(version(a, 'emulationVersion'), version(b, 'emulationVersion'));
  if (byEmulation !== 0) return byEmulation;
  const byBinary = compareSemver(version(a, 'binaryVersion'), version(b, 'binaryVersion'));
  if (byBinary !== 0) return byBinary;
  return (timeOf(a.metadata?.creationTimestamp) ?? 0) > (timeOf(b.metadata?.creationTimestamp) ?? 0) ? 1 : -1;
}

/** The OldestEmulationVersion winner among `candidates` (in list order for ties), if any ranks. */
export function pickOldestEmulationVersion(candidates: readonly LeaseCandidate[]): LeaseCandidate | undefined {
  let best: LeaseCandidate | undefined;
  for (const c of candidates) {
    if (!rankable(c)) continue;
    if (best === undefined || compareCandidates(best, c) > 0) best = c;
  }
  return best;
}

/**
 * True when the Lease has no renewTime or leaseDurationSeconds, or renewTime + duration is before
 * `nowMs`. This compares a time the holder wrote (by its clock) with the coordinator's clock: like
 * the real coordinator, it assumes the clocks agree (bounded skew); a holder whose clock runs
 * behind looks expired early by the skew.
 */
export function isLeaseExpired(lease: Lease, nowMs: number): boolean {
  const renew = timeOf(lease.spec?.renewTime);
  const seconds = lease.spec?.leaseDurationSeconds;
  return renew === undefined || seconds == null || renew + seconds * 1000 < nowMs;
}

/** True when the candidate has not renewed for `validMs` (the real coordinator's 30 minutes). */
export function isCandidateExpired(candidate: LeaseCandidate, nowMs: number, validMs: number): boolean {
  const renew = timeOf(candidate.spec?.renewTime);
  return renew === undefined || renew + validMs < nowMs;
}
