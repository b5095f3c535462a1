/** Config rollouts as an operator runs them (plan in rollout.ts), hostile partition-and-delete included. */
import { partition } from './network.js';
import { signalStop } from './replicas.js';
import { planRollout } from './rollout.js';
import type { Slot } from './sim-types.js';
import { NAMESPACE, LEASE_NAME, ROLLOUT_TIMINGS, type Timing } from './timings.js';
import type { World } from './world.js';

/**
 * A rollout to another lease duration: the elector replicas restart one by one (0.5 to 2 of
 * the longer lease durations apart) with the new configuration, maxPeerLeaseDurationMs left at
 * its default or set to the longest duration in use (half each). A hostile rollout (half of
 * them) also, when a replica with a shorter duration starts while one with a longer duration
 * leads, partitions that leader and deletes the Lease: the new replica, which never saw the
 * leader's record, finds the Lease missing while that leader's guarantee still runs.
 */
export function startRollout(w: World, target?: Timing, hostileRollout?: boolean): void {
  if (w.rollout || w.shuttingDown) return;
  const from = w.fleetTiming;
  const to = target ?? w.actors.pick(ROLLOUT_TIMINGS.filter((t) => t.leaseDurationMs !== from.leaseDurationMs));
  const explicit = w.actors.chance(0.5);
  const hostile = hostileRollout ?? w.actors.chance(0.5);
  const order = w.slots.map((_, i) => i).filter((i) => w.slots[i]!.kind === 'leasekit');
  for (let i = order.length - 1; i > 0; i--) {
    const j = w.actors.int(0, i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const steps = planRollout(
    w.slots.map((slot) => slot.config),
    to,
    explicit,
    order,
  );
  w.rollout = { steps, hostile };
  w.fleetTiming = to;
  w.faults.rollout++;
  w.trace.add(
    `actor: ${hostile ? 'hostile ' : ''}rollout L=${from.leaseDurationMs} -> L=${to.leaseDurationMs}, maxPeerLeaseDurationMs ${explicit ? 'set to the longest in use' : 'left at its default'} (${steps.length} restarts)`,
  );
  rolloutStep(w);
}

export function rolloutStep(w: World): void {
  const rollout = w.rollout;
  if (!rollout || w.shuttingDown) return;
  const step = rollout.steps.shift();
  if (!step) {
    w.rollout = undefined;
    w.trace.add('actor: rollout complete');
    return;
  }
  const slot = w.slots[step.slot]!;
  const previous = slot.config;
  slot.config = step.config;
  w.configVersion++;
  slot.hostileOnStart = rollout.hostile && step.phase === 'duration';
  w.faults['rollout-restart']++;
  const inc = slot.current;
  if (inc?.state === 'running') {
    inc.state = 'stopping';
    w.disturbBegin();
    w.trace.add(`actor: rollout restarts ${inc.key} (${step.phase === 'cover' ? 'maxPeerLeaseDurationMs first' : `L=${step.config.timing.leaseDurationMs}`})${inc.elector.isLeader() ? ' (while leading)' : ''}`);
    signalStop(w, inc);
  } // else: it is stopping, stopped or crashed, and its pending restart takes the new config
  const L = Math.max(previous.timing.leaseDurationMs, step.config.timing.leaseDurationMs);
  w.at(w.actors.between(0.5 * L, 2 * L), () => rolloutStep(w));
}

/** See {@link startRollout}: runs right before `slot` starts with its new, shorter, duration. */
export function rolloutHostileStep(w: World, slot: Slot): void {
  const L = slot.config.timing.leaseDurationMs;
  const leader = w.running().find((inc) => inc.slot !== slot && inc.elector.isLeader() && inc.config.timing.leaseDurationMs > L);
  if (!leader || leader.slot.partition) return;
  const leaderL = leader.config.timing.leaseDurationMs;
  w.faults['rollout-partition-and-delete']++;
  partition(w, leader, 'refuse', w.actors.between(leaderL, 2 * leaderL));
  if (w.store.peek(NAMESPACE, LEASE_NAME)) {
    w.store.delete(NAMESPACE, LEASE_NAME);
    w.leaseWentMissing();
    w.trace.add(`actor: kubectl delete lease while ${leader.key} (L=${leaderL}) is partitioned, as ${slot.id} (L=${L}) starts`);
  }
}
