/**
 * One deterministic sharded run (`pnpm sim --shards N`): 2 to 8 replica processes, each a real
 * ShardedElector over one in-memory Lease store, in virtual time, every choice drawn from one
 * seed; calm and storm phases of faults (shard-faults.ts); per shard the single-Lease
 * InvariantChecker (S1, S2), and the set's own checks (S3, BAL, UNOWNED, B, R: shard-checks.ts).
 */
import { settle } from '@leasekit/k8s-leaderelection/testing';
import type { Invariant, Violation } from '../invariants.js';
import { drawDriftRate } from '../timings.js';
import { backoffBoundMs, balanceBoundMs, unownedBoundMs } from './shard-bounds.js';
import { checkBackoffs, checkBalance, checkOrphans, checkTermsWithinLease, countRequestsPerMinute } from './shard-checks.js';
import { schedulePhases } from './shard-faults.js';
import { signalStop, startShardIncarnation } from './shard-replicas.js';
import { SHARD_INVARIANTS, type ShardInvariant, type ShardSimOptions, type ShardSimResult, type ShardViolation } from './shard-types.js';
import { ShardWorld } from './shard-world.js';

/** Longest step of the main loop without a timer or scheduled event in between. */
const MAX_STEP_MS = 50;

/** The single-Lease checker's names for what it finds on one shard, in the sharded run's terms. */
const FROM_CHECKER: Partial<Record<Invariant, ShardInvariant>> = { S1: 'S1', S2: 'S1', S3: 'S2' };

export async function runShardSimulation(options: ShardSimOptions): Promise<ShardSimResult> {
  const w = new ShardWorld(options);
  const onUnhandled = (reason: unknown): void => {
    w.unhandled.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    build(w);
    while (w.clock.now() < w.endMs && !w.livelocked) await step(w, w.endMs);
    await shutdown(w);
    await settle();
    for (const reason of w.unhandled) w.report('R', `unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}`);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  const violations = collect(w);
  const violationCounts = Object.fromEntries(SHARD_INVARIANTS.map((inv) => [inv, 0])) as Record<ShardInvariant, number>;
  for (const v of violations) violationCounts[v.invariant]++;
  const terms = w.checkers.reduce((sum, c) => sum + c.terms, 0);
  w.trace.add(`end: ${terms} shard terms, ${violations.length} violations`);
  return {
    seed: w.seed,
    variant: options.variant ?? 'safe',
    shards: w.shards,
    replicas: w.slots.length,
    virtualMs: w.endMs,
    timing: w.timing,
    faults: w.faults,
    violations,
    violationCounts,
    terms,
    digest: w.trace.digest,
    events: w.trace.events,
    balanceBoundMs: Math.round(balanceBoundMs(w.timing, w.shards, Math.max(1, w.maxLive))),
    unownedBoundMs: Math.round(unownedBoundMs(w.timing)),
    balanceJudged: w.balanceJudged,
    longestBalanceMs: Math.round(w.longestBalanceMs),
    backoffs: w.backoffs,
    longestBackoffMs: Math.round(w.longestBackoffMs),
    backoffBoundMs: Math.round(backoffBoundMs(w.timing)),
    orphansJudged: w.orphansJudged,
    longestUnownedMs: Math.round(w.longestUnownedMs),
    requestsPerReplicaMinute: w.requestsPerReplicaMinute,
    budgetPeakPercent: w.budgetPeakPercent,
  };
}

function build(w: ShardWorld): void {
  const count = w.options.replicas ?? w.setup.int(3, 5);
  for (let i = 0; i < count; i++) {
    w.slots.push({ id: `replica-${String.fromCharCode(97 + i)}`, driftRate: drawDriftRate(w.setup), incarnations: 0, current: undefined, left: false, stalled: false, requestsThisMinute: 0 });
  }
  const t = w.timing;
  w.trace.add(`sharded run: ${w.shards} shards, ${count} replicas, L=${t.leaseDurationMs} RD=${t.renewDeadlineMs} R=${t.retryPeriodMs}, membership ${t.membershipDurationMs}/${t.membershipRenewIntervalMs} ms, handover interval ${t.handoverIntervalMs} ms`);
  for (const slot of w.slots) w.at(w.setup.between(0, 2000), () => startShardIncarnation(w, slot));
  schedulePhases(w);
}

async function step(w: ShardWorld, limitMs: number): Promise<void> {
  const now = w.clock.now();
  const target = Math.min(w.clock.nextTimerDueMs() ?? Infinity, w.agenda.nextMs, now + MAX_STEP_MS, limitMs);
  await w.clock.advanceTo(Math.max(now, target));
  w.stepsAtSameTime = w.clock.now() === now ? w.stepsAtSameTime + 1 : 0;
  if (w.stepsAtSameTime > 100_000 && !w.livelocked) {
    w.livelocked = true;
    w.report('R', `livelock: 100000 steps without virtual time moving at ${now} ms`);
  }
  for (const item of w.agenda.takeDue()) {
    item.run();
    await settle();
  }
  for (let s = 0; s < w.shards; s++) w.checkers[s]!.checkLeaders(w.participants[s]!);
  checkTermsWithinLease(w);
  checkOrphans(w);
  checkBackoffs(w);
  checkBalance(w);
  countRequestsPerMinute(w);
}

async function shutdown(w: ShardWorld): Promise<void> {
  w.shuttingDown = true;
  w.agenda.clear();
  w.apiEpisodes.clear();
  w.latencySpike = undefined;
  for (const slot of w.slots) {
    slot.stalled = false;
    slot.current?.client.unstallWatches();
  }
  for (const inc of w.incarnations) if (inc.clock.paused && inc.state !== 'crashed') inc.clock.resume();
  w.trace.add('shutdown: faults healed, stopping every replica');
  const live = w.incarnations.filter((inc) => inc.state === 'running' || inc.state === 'stopping');
  for (const inc of live) {
    if (inc.state === 'running') signalStop(inc);
    inc.state = 'stopping';
  }
  const t = w.timing;
  const boundMs = w.clock.now() + 4 * (t.renewDeadlineMs + 1.3 * t.leaseDurationMs) + 10_000;
  while (live.some((inc) => !inc.runSettled) && w.clock.now() < boundMs && !w.livelocked) await step(w, boundMs);
  for (const inc of live) if (!inc.runSettled) w.report('R', `${inc.key} run() did not resolve within ${Math.round(boundMs)} ms of virtual time after stop`);
  const drainUntil = w.clock.now() + 2 * t.renewDeadlineMs;
  while (w.clock.pendingTimers > 0 && w.clock.now() < drainUntil && !w.livelocked) await step(w, drainUntil);
  if (w.clock.pendingTimers > 0) w.report('R', `${w.clock.pendingTimers} timer(s) still pending on the FakeClock after every replica stopped`);
}

/** The run's violations in time order: the per-shard checkers' (renamed, shard named) and its own. */
function collect(w: ShardWorld): ShardViolation[] {
  const all: ShardViolation[] = [...w.own];
  w.checkers.forEach((checker, shard) => {
    for (const v of checker.violations as Violation[]) {
      const invariant = FROM_CHECKER[v.invariant] ?? 'R';
      all.push({ invariant, atMs: v.atMs, message: `shard ${shard}: ${v.message}`, trace: v.trace });
    }
  });
  return all.sort((a, b) => a.atMs - b.atMs);
}
