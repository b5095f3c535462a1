/** The main loop: advance virtual time, run due agenda items, check; and the shutdown that stops every process. */
import { settle } from '@leasekit/k8s-leaderelection/testing';
import { checkGoFollowers, checkLiveness, countRequestsPerMinute } from './checks.js';
import { signalStop } from './replicas.js';
import type { Process } from './sim-types.js';
import type { World } from './world.js';

/** Longest step of the main loop without a timer or scheduled event in between. */
const MAX_STEP_MS = 50;

export async function mainLoop(w: World): Promise<void> {
  while (w.clock.now() < w.endMs && !w.livelocked) {
    await step(w, w.endMs);
  }
}

/** Advances to the next timer, scheduled event or step boundary, then checks the invariants. */
export async function step(w: World, limitMs: number): Promise<void> {
  const now = w.clock.now();
  const nextTimer = w.clock.nextTimerDueMs() ?? Infinity;
  const nextEvent = w.agenda.nextMs;
  const target = Math.min(nextTimer, nextEvent, now + MAX_STEP_MS, limitMs);
  const hadLeader = w.anyLeader();
  await w.clock.advanceTo(Math.max(now, target));
  if (hadLeader) w.leaderMs += w.clock.now() - now;
  // Time must move: endless zero-delay timers would spin here forever.
  w.stepsAtSameTime = w.clock.now() === now ? w.stepsAtSameTime + 1 : 0;
  if (w.stepsAtSameTime > 100_000 && !w.livelocked) {
    w.livelocked = true;
    w.checker.report('R', `livelock: 100000 steps without virtual time moving at ${now} ms`);
  }
  for (let item = w.agenda.takeNext(); item; item = w.agenda.takeNext()) {
    item.run();
    await settle();
  }
  w.checker.checkLeaders(w.participants);
  checkGoFollowers(w);
  checkLiveness(w);
  countRequestsPerMinute(w);
}

export async function shutdown(w: World): Promise<void> {
  w.shuttingDown = true;
  w.agenda.clear();
  w.apiEpisodes.clear();
  w.forbiddenEpisodes.clear();
  w.readDeleter = undefined;
  w.rollout = undefined;
  w.latencySpike = undefined;
  for (const slot of w.slots) {
    slot.partition = undefined;
    slot.stalled = false;
    slot.current?.client.unstallWatches();
  }
  for (const inc of w.incarnations) if (inc.clock.paused) inc.clock.resume();
  w.trace.add('shutdown: faults healed, stopping every replica');
  const live = w.incarnations.filter((inc) => inc.state === 'running' || inc.state === 'stopping');
  for (const inc of live) {
    if (inc.state === 'running') signalStop(w, inc); // a stopping one has its SIGTERM already
    inc.state = 'stopping';
  }
  const liveGo = w.goIncarnations.filter((go) => go.state === 'running');
  for (const go of liveGo) go.controller.abort();
  const longest = w.configsInUse().reduce((a, c) => (c.timing.leaseDurationMs > a.leaseDurationMs ? c.timing : a), w.timing);
  const L = longest.leaseDurationMs;
  const boundMs = w.clock.now() + 4 * (longest.renewDeadlineMs + 1.3 * L) + 10_000;
  const stopping: Process[] = [...live, ...liveGo];
  while (stopping.some((p) => !p.runSettled) && w.clock.now() < boundMs && !w.livelocked) await step(w, boundMs);
  for (const p of stopping) {
    if (!p.runSettled) w.checker.report('R', `${p.key} run() did not resolve within ${Math.round(boundMs)} ms of virtual time after stop`);
  }
  // Requests of crashed processes may still be on the wire (their latency timers): let them land.
  const drainUntil = w.clock.now() + 2 * longest.renewDeadlineMs;
  while (w.clock.pendingTimers > 0 && w.clock.now() < drainUntil && !w.livelocked) await step(w, drainUntil);
  if (w.clock.pendingTimers > 0) {
    w.checker.report('R', `${w.clock.pendingTimers} timer(s) still pending on the FakeClock after every replica stopped`);
  }
}
