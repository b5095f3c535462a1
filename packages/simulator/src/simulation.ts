/**
 * One deterministic simulation run: several real Electors (and, in some seeds, a model of a
 * client-go replica) against one in-memory Lease store, in virtual time, every random choice drawn
 * from one seed. Faults and outside actors are injected on a seeded schedule; invariants are
 * checked as time advances; the result says what was injected and what broke.
 *
 * This file is the orchestrator: build the world (setup.ts), run the loop (run-loop.ts), shut
 * down, and sum up. The parts: world.ts (shared state), timings.ts, sim-types.ts, replicas.ts,
 * go-process.ts, network.ts, fault-schedule.ts, wall-clock-fault.ts, actors.ts, rollout-actor.ts,
 * checks.ts.
 */
import { settle } from '@leasekit/k8s-leaderelection/testing';
import { INVARIANTS, type Invariant } from './invariants.js';
import { budgetPeakPercent } from './checks.js';
import { mainLoop, shutdown } from './run-loop.js';
import { buildWorld } from './setup.js';
import type { SimOptions, SimResult } from './sim-types.js';
import { World, describe } from './world.js';

export {
  NAMESPACE,
  LEASE_NAME,
  TIMINGS,
  LONG_TIMING,
  ROLLOUT_TIMINGS,
  MID_ROLLOUT_SEED_SHARE,
  GO_TIMINGS,
  CLIENT_GO_SEED_SHARE,
  LEASEKIT_ONLY_SEED_SHARE,
  LEASEKIT_ONLY_TIMINGS,
  MAX_CLOCK_DRIFT_RATE,
  type Timing,
} from './timings.js';
export type { SimOptions, SimResult } from './sim-types.js';

/** Runs one seed. Never throws for elector misbehaviour: that is what the violations are for. */
export async function runSimulation(options: SimOptions): Promise<SimResult> {
  const w = new World(options);
  const onUnhandled = (reason: unknown): void => {
    w.unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    buildWorld(w);
    await mainLoop(w);
    await shutdown(w);
    await settle();
    for (const reason of w.unhandled) w.checker.report('R', `unhandled rejection: ${describe(reason)}`);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  const violationCounts = Object.fromEntries(INVARIANTS.map((inv) => [inv, 0])) as Record<Invariant, number>;
  for (const v of w.checker.violations) violationCounts[v.invariant]++;
  const virtualMs = w.endMs;
  w.trace.add(`end: ${w.checker.terms} terms, ${w.checker.violations.length} violations`);
  return {
    seed: w.seed,
    variant: options.factory ? 'custom' : (options.variant ?? 'safe'),
    virtualMs,
    replicas: w.slots.length,
    timing: w.timing,
    faults: w.faults,
    violations: w.checker.violations,
    violationCounts,
    leaderMs: w.leaderMs,
    availabilityPercent: virtualMs > 0 ? (100 * w.leaderMs) / virtualMs : 0,
    terms: w.checker.terms,
    lateStarts: w.checker.lateStarts,
    digest: w.trace.digest,
    events: w.trace.events,
    clientGoReplicas: w.slots.filter((s) => s.kind === 'go').length,
    clientGoExpiry: w.clientGoExpiry,
    leasekitOnly: w.leasekitOnly,
    requestsPerReplicaMinute: w.requestsPerReplicaMinute,
    budgetPeakPercent: budgetPeakPercent(w),
    userWorkRuns: w.checker.userWorkRuns,
    staleSignalsSeen: w.checker.staleSignalsSeen,
  };
}
