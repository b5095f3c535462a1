/** The outside actor: someone with kubectl deleting or rewriting the Lease, and the read-targeting deleter. */
import type { Lease } from '@leasekit/k8s-leaderelection';
import { formatMicroTime } from '@leasekit/k8s-leaderelection/internal';
import type { FaultKind } from './faults.js';
import type { Slot, Process } from './sim-types.js';
import { NAMESPACE, LEASE_NAME } from './timings.js';
import type { World } from './world.js';

export function actorDelete(w: World): void {
  if (w.outsideActor === 'none') return;
  const lease = w.store.peek(NAMESPACE, LEASE_NAME);
  if (!lease) return;
  w.store.delete(NAMESPACE, LEASE_NAME);
  w.faults['actor-delete-lease']++;
  w.disturbNow();
  w.leaseWentMissing();
  w.trace.add(`actor: kubectl delete lease (holder was '${lease.spec?.holderIdentity ?? ''}')`);
}

/**
 * For 1.5 to 4 lease durations, the Lease is deleted right before each GET of one follower is
 * served (a polling one when there is one), while the leader keeps recreating it: that follower
 * sees nothing but 404s, although a live leader holds the Lease all along.
 */
export function startReadDeleter(w: World): void {
  if (w.outsideActor === 'none' || w.readDeleter) return;
  const followers = w.running().filter((inc) => !inc.elector.isLeader());
  if (followers.length === 0) return;
  const polling = followers.filter((inc) => inc.slot.followerStrategy === 'poll');
  const victim = w.actors.pick(polling.length > 0 && w.actors.chance(0.8) ? polling : followers).slot;
  w.readDeleter = victim;
  w.disturbBegin();
  const duration = w.actors.between(1.5, 4) * w.fleetTiming.leaseDurationMs;
  w.trace.add(`actor: deletes the Lease before each of ${victim.id}'s reads for ${Math.round(duration)} ms`);
  w.at(duration, () => {
    w.readDeleter = undefined;
    w.trace.add(`actor end: ${victim.id}'s reads are left alone`);
    w.disturbEnd();
    w.leaseWentMissing();
  });
}

/** The read-targeting deleter at work: `slot`'s GET has reached the server. */
export function deleteBeforeRead(w: World, slot: Slot, proc: Process | undefined): void {
  if (!w.store.peek(NAMESPACE, LEASE_NAME)) return;
  w.store.delete(NAMESPACE, LEASE_NAME);
  w.faults['actor-delete-before-read']++;
  w.trace.add(`actor: deleted the Lease right before ${proc?.key ?? slot.id}'s GET`);
}

export function actorRewrite(w: World): void {
  const lease = w.store.peek(NAMESPACE, LEASE_NAME);
  if (!lease) return;
  const live = w.running().map((inc) => inc.slot.id);
  const current = lease.spec?.holderIdentity ?? '';
  let holder = 'kubectl-user';
  let kind: FaultKind = 'actor-rewrite-holder';
  if (w.outsideActor === 'none') return;
  if (w.outsideActor === 'forge-live-holder') {
    const others = live.filter((id) => id !== current);
    if (others.length > 0 && w.schedule.chance(0.7)) {
      holder = w.schedule.pick(others);
      kind = 'actor-forge-live-holder';
    }
  } else if (w.outsideActor === 'force-release' && w.schedule.chance(0.7)) {
    holder = '';
    kind = 'actor-force-release';
  }
  const now = formatMicroTime(w.clock.wallNow());
  const next: Lease = { ...lease, spec: { ...lease.spec, holderIdentity: holder, renewTime: now, acquireTime: now } };
  w.store.update(NAMESPACE, LEASE_NAME, next);
  w.faults[kind]++;
  w.disturbNow();
  // The record keeps its duration: a claim's (up to maxPeerLeaseDurationMs) outlasts L1's window.
  if ((lease.spec?.leaseDurationSeconds ?? 0) * 1000 > w.writtenLeaseMs) w.leaseWentMissing();
  w.trace.add(`actor: kubectl edit lease holder '${current}' -> '${holder}'`);
}
