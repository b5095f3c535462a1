/** Checks run at every step besides the checker's own: S4 against client-go followers, L1 liveness, request counts, budget peak. */
import { clientGoBudget } from './budget.js';
import { goRawRecordOf } from './go-replica.js';
import { addSample } from './histogram.js';
import { NAMESPACE, LEASE_NAME, MAX_CLOCK_DRIFT_RATE } from './timings.js';
import { JITTER_FACTOR_PLUS_ONE, LATENCY_SLACK_MS, type World } from './world.js';

/** S4 (see invariants.ts): the leader's guarantee against each client-go follower's view of its record. */
export function checkGoFollowers(w: World): void {
  if (w.goIncarnations.length === 0) return;
  const rv = w.store.resourceVersion;
  if (rv !== w.goView.rv) {
    const lease = w.store.peek(NAMESPACE, LEASE_NAME);
    w.goView = { rv, raw: lease ? goRawRecordOf(lease) : undefined, holder: lease?.spec?.holderIdentity ?? undefined };
  }
  const { raw, holder } = w.goView;
  if (raw === undefined) return;
  const leader = w.incarnations.find((inc) => inc.slot.id === holder && inc.state !== 'crashed' && inc.elector.isLeader());
  if (!leader?.leadership) return;
  const guaranteedUntil = leader.elector.snapshot().guaranteedUntilMs;
  if (guaranteedUntil === undefined) return;
  const now = w.clock.now();
  const guaranteeEnd = now + (guaranteedUntil - leader.clock.now()) / (1 + leader.clock.driftRate);
  for (const go of w.goIncarnations) {
    if (go.state !== 'running' || go.replica.leading) continue;
    const seen = go.replica.observation();
    if (!seen || seen.raw !== raw || seen.holder !== holder) continue;
    const mayTakeOver = now + (seen.validUntilMs - go.clock.now()) / (1 + go.clock.driftRate);
    if (mayTakeOver < guaranteeEnd - 1) w.checker.guaranteeOutlastsFollower(leader, leader.leadership.id, go, guaranteeEnd - mayTakeOver);
  }
}

/** Whether followers may still be waiting out a record longer than any config in use. */
export function longerRecordStanding(w: World, now: number): boolean {
  const lease = w.store.peek(NAMESPACE, LEASE_NAME);
  const rv = lease?.metadata?.resourceVersion ?? '';
  if (rv !== w.standingRecord.rv) w.standingRecord = { rv, sinceMs: now };
  // Re-evaluated every step: the configs in use can shrink (a rollout) while the record stands.
  const recordMs = (lease?.spec?.leaseDurationSeconds ?? 0) * 1000;
  if (Number.isFinite(recordMs) && recordMs > w.writtenLeaseMs) {
    const window = recordMs / (1 - MAX_CLOCK_DRIFT_RATE) + 2 * JITTER_FACTOR_PLUS_ONE * w.longestRetryPeriodMs + LATENCY_SLACK_MS;
    w.longerRecordUntilMs = Math.max(w.longerRecordUntilMs, w.standingRecord.sinceMs + window);
  }
  return now < w.longerRecordUntilMs;
}

export function checkLiveness(w: World): void {
  const now = w.clock.now();
  const waitingOutLongerRecord = longerRecordStanding(w, now);
  if (w.disturbances > 0 || w.shuttingDown) return;
  if (now - w.quietSinceMs < w.healthyWindowMs || waitingOutLongerRecord) return;
  if (w.l1ReportedFor === w.quietSinceMs) return;
  const running = w.participants.some((p) => p.state === 'running' && !p.suspended());
  if (!running || w.anyLeader()) return;
  w.l1ReportedFor = w.quietSinceMs;
  w.checker.report(
    'L1',
    `no leader ${Math.round(now - w.quietSinceMs)} ms into a healthy window of ${Math.round(w.healthyWindowMs)} ms (lease ${w.writtenLeaseMs} ms, retry ${w.longestRetryPeriodMs} ms)`,
  );
}

/** At each virtual minute's end: one sample per elector replica running then. */
export function countRequestsPerMinute(w: World): void {
  const minute = Math.floor(w.clock.now() / 60_000);
  if (minute <= w.statsMinute || w.shuttingDown) return;
  w.statsMinute = minute;
  for (const slot of w.slots) {
    if (slot.kind !== 'leasekit') continue;
    const state = slot.current?.state;
    if (state === 'running' || state === 'stopping') addSample(w.requestsPerReplicaMinute, slot.requestsThisMinute);
    slot.requestsThisMinute = 0;
  }
}

export function budgetPeakPercent(w: World): number {
  let peak = 0;
  for (const inc of w.incarnations) {
    const budget = clientGoBudget(inc.config.timing.retryPeriodMs, MAX_CLOCK_DRIFT_RATE);
    peak = Math.max(peak, (100 * w.checker.peakRequests(inc)) / budget.maxApiRequests);
  }
  return Math.round(peak * 10) / 10;
}
