/** Injecting wall-clock faults into a running elector replica (stand still, step back), drawn from the seed's `wall-clock` stream. */
import type { World } from './world.js';

/**
 * The wall clock of a running replica (the leader half of the time) stands still for 1 s to 2 min.
 *
 * With `clientGoFollowers: true` (the default) this is a disturbance for L1: a client-go follower
 * sees a renewal only when the record's whole seconds change, so a leader whose wall clock stands
 * still cannot extend its guarantee; it steps down every lease duration and takes the Lease again
 * at once (safe, but a leaderless instant each time). In a leasekit-only fleet every renewal
 * changes the record ({@link disturbsLiveness}), so L1 stays checked there.
 */
export function freezeWallClock(w: World): void {
  const draw = w.wallClockDraw;
  const inc = w.pickTarget({}, draw);
  if (!inc || inc.slot.wallClock.isFrozen) return;
  const durationMs = draw.chance(0.5) ? draw.between(1_000, 15_000) : draw.between(15_000, 120_000);
  const resume = draw.chance(0.5) ? 'from-where-it-stood' : 'jump-forward';
  const wall = inc.slot.wallClock;
  wall.freeze(inc.clock.wallNow(), w.clock.now());
  w.faults['wall-clock-freeze']++;
  const disturbs = disturbsLiveness(w);
  if (disturbs) w.disturbBegin();
  w.trace.add(`fault: ${inc.key}'s wall clock stands still for ${Math.round(durationMs)} ms${inc.elector.isLeader() ? ' (while leading)' : ''}`);
  w.at(durationMs, () => {
    wall.unfreeze(w.clock.now(), resume);
    if (disturbs) w.disturbEnd();
    w.trace.add(`fault end: ${inc.slot.id}'s wall clock runs again (${resume === 'from-where-it-stood' ? 'on from where it stood' : 'jumping forward'})`);
  });
}

/**
 * The wall clock of a running replica steps back by 0.1 to 3 lease durations, and stays back.
 * With `clientGoFollowers: true` the leader then writes renewTimes it wrote before, which the
 * elector does not count as seen by client-go: it may step down and retake the Lease each lease
 * duration until its wall clock is past them again (a disturbance for L1 that long, plus L).
 */
export function stepWallClockBack(w: World): void {
  const draw = w.wallClockDraw;
  const inc = w.pickTarget({}, draw);
  if (!inc) return;
  const ms = Math.round(draw.between(0.1, 3) * w.fleetTiming.leaseDurationMs);
  inc.slot.wallClock.stepBack(ms);
  w.faults['wall-clock-step-back']++;
  if (disturbsLiveness(w)) {
    w.disturbBegin();
    w.at(ms + w.fleetTiming.leaseDurationMs, () => w.disturbEnd());
  }
  w.trace.add(`fault: ${inc.key}'s wall clock steps back ${ms} ms${inc.elector.isLeader() ? ' (while leading)' : ''}`);
}

/**
 * Whether a wall-clock fault may cost leadership for a while: with `clientGoFollowers: true` (any
 * fleet but a leasekit-only one). Among leasekit replicas every renewal changes the record.
 */
function disturbsLiveness(w: World): boolean {
  return !w.leasekitOnly;
}
