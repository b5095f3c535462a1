/** Building a seed's world: replicas (kind, follower strategy, drift, skew), the Lease, start times, mid-rollout starts and the fault schedule. */
import { scheduleNext } from './fault-schedule.js';
import type { ScheduledFault } from './faults.js';
import { startGo } from './go-process.js';
import { startIncarnation } from './replicas.js';
import { startRollout } from './rollout-actor.js';
import type { Slot } from './sim-types.js';
import { NAMESPACE, LEASE_NAME, LONG_TIMING, MID_ROLLOUT_SEED_SHARE, drawDriftRate } from './timings.js';
import { WallClockFaults } from './wall-clock.js';
import type { World } from './world.js';

export function buildWorld(w: World): void {
  const withGo = w.clientGoExpiry !== undefined;
  const count = w.options.replicas ?? (withGo ? w.setup.int(2, 4) : w.setup.int(3, 5));
  // One: client-go replicas among themselves notice renewals only per wall-clock second, so two of
  // them are safe only with R + RD + 1 s < L, which these short timings do not give (seed 168).
  const goCount = withGo ? 1 : 0;
  const preCreated = w.setup.chance(0.5);
  if (preCreated) w.store.create(NAMESPACE, { metadata: { name: LEASE_NAME } });
  const L = w.timing.leaseDurationMs;
  const midRollout = !withGo && w.setup.chance(MID_ROLLOUT_SEED_SHARE);
  if (midRollout) w.fleetTiming = LONG_TIMING;
  const kinds: Slot['kind'][] = [...Array.from({ length: count }, () => 'leasekit' as const), ...Array.from({ length: goCount }, () => 'go' as const)];
  for (const [i, kind] of kinds.entries()) {
    const slot: Slot = {
      id: String.fromCharCode(97 + i),
      kind,
      followerStrategy: kind === 'go' || w.setup.chance(0.5) ? 'poll' : 'watch',
      wallSkewMs: Math.round(w.setup.between(-2 * L, 2 * L)),
      wallClock: new WallClockFaults(),
      driftRate: drawDriftRate(w.setup),
      incarnations: 0,
      current: undefined,
      currentGo: undefined,
      config: { timing: w.fleetTiming, maxPeerLeaseDurationMs: undefined },
      goExpiry: w.clientGoExpiry ?? 'record',
      partition: undefined,
      stalled: false,
      pauseOnNextWriteMs: undefined,
      hostileOnStart: false,
      requestsThisMinute: 0,
    };
    w.slots.push(slot);
  }
  w.trace.add(
    `seed ${w.seed}: ${w.slots.length} replicas (${w.slots.map((s) => `${s.id}:${s.kind === 'go' ? `client-go(${s.goExpiry} duration)` : s.followerStrategy},drift ${(s.driftRate * 100).toFixed(2)}%,skew ${s.wallSkewMs}ms`).join('; ')}), ` +
      `L=${L} RD=${w.timing.renewDeadlineMs} R=${w.timing.retryPeriodMs}${midRollout ? ` (starting mid-rollout from L=${LONG_TIMING.leaseDurationMs})` : ''}, lease ${preCreated ? 'pre-created' : 'absent'}` +
      `${w.leasekitOnly ? ', leasekit-only fleet (clientGoFollowers: false)' : ''}`,
  );
  if (!preCreated) w.leaseWentMissing();
  for (const slot of w.slots) {
    const delay = w.setup.between(0, L);
    w.at(delay, () => startProcess(w, slot));
  }
  if (midRollout) {
    const hostile = w.setup.chance(0.7);
    w.at(w.setup.between(1.5, 3) * LONG_TIMING.leaseDurationMs, () => startRollout(w, w.timing, hostile));
  }
  for (const kind of Object.keys(w.rates) as ScheduledFault[]) {
    // client-go creates a missing Lease at once, so no deletion and no rollout in runs with it.
    if (withGo && (kind === 'actor-delete-lease' || kind === 'actor-delete-before-read' || kind === 'rollout')) continue;
    scheduleNext(w, kind);
  }
}

export function startProcess(w: World, slot: Slot): void {
  if (slot.kind === 'go') startGo(w, slot);
  else startIncarnation(w, slot);
}
