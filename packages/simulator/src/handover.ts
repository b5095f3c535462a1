/**
 * Directed handover faults: the leader's `resign({ to })` (to a live follower, a replica that is
 * down, or an identity no replica has), an outside coordinator writing `spec.preferredHolder`, and
 * L2, the liveness of a handover to a live, connected, watching replica. Every draw comes from the
 * run's `handover` stream.
 *
 * L2's "no fault going on", exactly: (1) when `resign({ to })` is called, no other fault is active
 * and none began or ended (quietSinceMs) within one request deadline before it, the longer renew
 * deadline of the leader and the target, RD / (1 - r): a request a fault hit (hung, its answer
 * lost, blackholed) ends only at its deadline, and until then it holds the target's acquire loop
 * or the leader's renew round, whose guarantee may run out first; (2) from the call until
 * `resign` resolves, the handover is the only fault active and none begins or ends; (3) from then
 * until the target leads or 2 R pass, none is active, begins or ends. An armed pause-in-flight is
 * no fault until it fires; when it fires (a pause) it ends the wait. What an earlier fault leaves
 * behind in the target is waited out too: a failure backoff (a request of the target failed within
 * 1.2 max(R, L / 2) / (1 - r)), and a cooldown after a term of its own.
 */
import type { Lease } from '@leasekit/k8s-leaderelection';
import type { Incarnation, Slot } from './sim-types.js';
import { NAMESPACE, LEASE_NAME, MAX_CLOCK_DRIFT_RATE } from './timings.js';
import { LATENCY_SLACK_MS, type World } from './world.js';

/** The strategy a coordinator writes with preferredHolder (the API server requires one with the other). */
const STRATEGY = 'OldestEmulationVersion';
/** An identity no replica has: a handover or preference naming it leaves the Lease to expire. */
const UNKNOWN_TARGET = 'departed-replica';

/**
 * L2's bound, in retry periods of the target: a watching target sees the handover's record on its
 * watch and takes it with one write (design.md, "Directed handover").
 */
export const HANDOVER_TAKE_RETRY_PERIODS = 2;

/** A replica that can take a record naming it at once: running, not paused, reachable, its watch delivering. */
function liveWatching(slot: Slot): Incarnation | undefined {
  const inc = slot.current;
  if (!inc || inc.state !== 'running' || inc.clock.suspended || slot.partition !== undefined || slot.stalled) return undefined;
  if (slot.followerStrategy !== 'watch' || inc.client.openStreams === 0) return undefined;
  return inc;
}

/** Whether `slot` is up at all (running, not paused, not partitioned): a handover to it is not a handover to a dead replica. */
function up(slot: Slot): boolean {
  const inc = slot.current;
  return inc !== undefined && inc.state === 'running' && !inc.clock.suspended && slot.partition === undefined;
}

/**
 * Longest a term's end keeps a replica from taking a record naming it (the resign cooldown, one
 * lease duration, or the short cooldown after any term) on its own clock, in virtual ms.
 */
function cooldownMs(inc: Incarnation): number {
  const { leaseDurationMs, retryPeriodMs } = inc.config.timing;
  return (leaseDurationMs + 3.2 * retryPeriodMs) / (1 - MAX_CLOCK_DRIFT_RATE);
}

/** The longest failure backoff of the elector's schedule: max(R, lease / 2), jittered up by 20 %, on a drifting clock. */
function failureBackoffBoundMs(inc: Incarnation): number {
  const { leaseDurationMs, retryPeriodMs } = inc.config.timing;
  return (1.2 * Math.max(retryPeriodMs, leaseDurationMs / 2)) / (1 - MAX_CLOCK_DRIFT_RATE);
}

/**
 * One request deadline of `inc` on a drifting clock: a request a fault hit (hung, answer lost,
 * blackholed) ends at the latest this long after it was sent, so a fault's effect on the requests
 * of `inc` can outlast the fault by this much.
 */
function requestDeadlineMs(inc: Incarnation): number {
  return inc.config.timing.renewDeadlineMs / (1 - MAX_CLOCK_DRIFT_RATE);
}

/** How long a leader's handover may take to land: the round in flight, then the write (each bounded by the renew deadline). */
function handoverBoundMs(inc: Incarnation): number {
  return (2 * inc.config.timing.renewDeadlineMs) / (1 - MAX_CLOCK_DRIFT_RATE) + LATENCY_SLACK_MS;
}

/**
 * The leader (running, not paused) calls `resign({ to })` through its own clock: 70 % to a
 * follower that is up, 20 % to one that is down (crashed, stopped, paused or partitioned), 10 %
 * (or when there is no such replica) to an identity no replica has. Only leasekit replicas are
 * targets: the client-go model would take a record naming itself as its own renewal, which is
 * client-go's business, not what this fault tests.
 */
export function directedHandover(w: World): void {
  const d = w.handoverDraw;
  const leader = w.running().find((inc) => !inc.clock.suspended && inc.elector.isLeader());
  if (!leader) return;
  const others = w.slots.filter((slot) => slot.kind === 'leasekit' && slot !== leader.slot);
  const live = others.filter(up);
  const down = others.filter((slot) => !up(slot));
  const roll = d.random();
  let to = UNKNOWN_TARGET;
  let kind: 'live' | 'down' | 'unknown' = 'unknown';
  if (roll < 0.7 && live.length > 0) {
    to = d.pick(live).id;
    kind = 'live';
  } else if (roll < 0.9 && down.length > 0) {
    to = d.pick(down).id;
    kind = 'down';
  }
  w.faults['directed-handover']++;
  w.faults[`directed-handover-to-${kind}`]++;
  // Condition (1) of L2 (see the header): nothing else going on, and nothing for one request
  // deadline before the call. Checked before this handover's own disturbance begins.
  const targetInc = w.slots.find((slot) => slot.id === to)?.current;
  const settleMs = Math.max(requestDeadlineMs(leader), targetInc ? requestDeadlineMs(targetInc) : 0);
  const calmBefore = w.disturbances === 0 && w.clock.now() - w.quietSinceMs >= settleMs;
  w.directedHandovers.add(leader);
  // A disturbance until the write has landed (or could have): a handover to a replica that cannot
  // take it leaves the Lease to expire, like a crash; one that can is checked by L2.
  w.disturbBegin();
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    w.disturbEnd();
  };
  w.at(handoverBoundMs(leader) + leader.config.timing.leaseDurationMs, end); // should the leader crash meanwhile
  w.trace.add(`fault: ${leader.key} hands the lease over to '${to}' (${kind === 'live' ? 'a replica that is up' : kind === 'down' ? 'a replica that is down' : 'no replica has it'})`);
  const quietAtCall = w.quietSinceMs;
  const handle = leader.clock.setTimeout(() => {
    leader.userTimers.delete(handle);
    leader.elector.resign({ to }).then(
      () => {
        // Conditions (1) and (2): calm before the call, and only this handover's own
        // disturbance since (quietSinceMs lies before the call, so any fault that began or
        // ended since moved it).
        const quiet = calmBefore && w.disturbances === 1 && w.quietSinceMs === quietAtCall && !ended;
        end();
        w.directedHandovers.delete(leader);
        if (quiet) handedOver(w, leader, to);
      },
      (err: unknown) => {
        end();
        w.directedHandovers.delete(leader);
        w.checker.report('R', `${leader.key} resign({ to: '${to}' }) rejected: ${String(err)}`);
      },
    );
  }, 0);
  leader.userTimers.add(handle);
}

/**
 * `resign({ to })` resolved with no fault going on (conditions (1) and (2) of the header). If the
 * target is a live, connected, watching replica out of any cooldown and failure backoff, L2
 * expects the Lease to name it now (it may lead already), its term within
 * {@link HANDOVER_TAKE_RETRY_PERIODS} R, and no other replica's before, unless a fault begins or
 * ends meanwhile (condition (3)).
 */
function handedOver(w: World, from: Incarnation, to: string): void {
  const target = w.slots.find((slot) => slot.id === to);
  const inc = target && liveWatching(target);
  if (!target || !inc) return;
  const now = w.clock.now();
  const lastEnd = w.lastTermEndMs.get(to) ?? -Infinity;
  if (now - lastEnd < cooldownMs(inc)) return;
  // A target whose request failed lately is backing off (at most half a lease duration, jittered
  // by up to 20 %): respecting it is the elector's request pace, so L2 waits it out.
  if (now - (w.lastFailedRequestMs.get(to) ?? -Infinity) < failureBackoffBoundMs(inc)) return;
  const holder = w.store.peek(NAMESPACE, LEASE_NAME)?.spec?.holderIdentity ?? undefined;
  if (holder !== to) {
    w.checker.report('L2', `${from.key}'s resign({ to: '${to}' }) resolved with no fault going on, but the Lease names '${holder ?? '(missing)'}'`);
    return;
  }
  if (inc.elector.isLeader()) return;
  const pending = { target, from: from.key, sinceMs: now, quietSinceMs: w.quietSinceMs };
  w.pendingHandover = pending;
  const bound = HANDOVER_TAKE_RETRY_PERIODS * inc.config.timing.retryPeriodMs;
  w.at(bound, () => {
    if (w.pendingHandover !== pending) return;
    w.pendingHandover = undefined;
    if (!quietSince(w, pending.quietSinceMs)) return;
    if (target.current === inc && inc.state === 'running' && inc.elector.isLeader()) return;
    w.checker.report('L2', `${inc.key} did not lead within ${bound} ms (${HANDOVER_TAKE_RETRY_PERIODS} R) of ${pending.from}'s handover to it, with no fault going on`);
  });
}

function quietSince(w: World, quietSinceMs: number): boolean {
  return w.disturbances === 0 && w.quietSinceMs === quietSinceMs;
}

/**
 * A term started (onStartedLeading): the awaited handover target's ends L2's wait; any other
 * replica's, with no fault since the handover, breaks L2.
 */
export function handoverTermStarted(w: World, inc: Incarnation): void {
  const pending = w.pendingHandover;
  if (!pending) return;
  w.pendingHandover = undefined;
  if (inc.slot === pending.target || !quietSince(w, pending.quietSinceMs)) return;
  w.checker.report('L2', `${inc.key} started leading ${Math.round(w.clock.now() - pending.sinceMs)} ms after ${pending.from} handed the lease to ${pending.target.id}, before it`);
}

/**
 * A term ended. A leader that yielded to a preferredHolder on its own (not a directed handover
 * we asked for) is a disturbance until its handover write has landed: the preferred holder may be
 * down or unknown, and the Lease then expires, as after a crash.
 */
export function handoverTermEnded(w: World, inc: Incarnation, reason: string): void {
  w.lastTermEndMs.set(inc.slot.id, w.clock.now());
  if (reason !== 'handed_over' || w.directedHandovers.has(inc)) return;
  w.faults['preferred-holder-yield']++;
  w.disturbBegin();
  w.at(handoverBoundMs(inc), () => w.disturbEnd());
}

/**
 * A coordinator (or a person) writes `spec.strategy` and `spec.preferredHolder` on the Lease with
 * a compare-and-swap over the object it read: 75 % a leasekit replica (possibly the holder itself,
 * which changes nothing), else an identity no replica has. Never the client-go replica (client-go
 * ignores both fields; a leasekit leader handing it the Lease would test client-go's take, not ours).
 */
export function actorPreferHolder(w: World): void {
  if (w.outsideActor === 'none') return;
  const lease = w.store.peek(NAMESPACE, LEASE_NAME);
  if (!lease) return;
  const d = w.handoverDraw;
  const ids = w.slots.filter((slot) => slot.kind === 'leasekit').map((slot) => slot.id);
  const preferred = ids.length > 0 && d.chance(0.75) ? d.pick(ids) : UNKNOWN_TARGET;
  const next: Lease = { ...lease, spec: { ...lease.spec, strategy: STRATEGY, preferredHolder: preferred } };
  w.store.update(NAMESPACE, LEASE_NAME, next);
  w.faults['actor-prefer-holder']++;
  w.disturbNow();
  w.trace.add(`actor: coordinator sets preferredHolder '${preferred}' (strategy ${STRATEGY}) on the lease held by '${lease.spec?.holderIdentity ?? ''}'`);
}
