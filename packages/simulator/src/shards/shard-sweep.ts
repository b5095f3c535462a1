/** Sharded sweeps: many seeds of `runShardSimulation`, one summary that merges by summing (worker threads split a sweep). */
import { maxSample, mergeHistograms, percentile, type Histogram } from '../histogram.js';
import { runShardSimulation } from './shard-simulation.js';
import { SHARD_FAULT_KINDS, SHARD_INVARIANTS, emptyShardFaultCounts, type ShardFaultCounts, type ShardInvariant, type ShardSimResult, type ShardViolation } from './shard-types.js';
import type { ShardVariantName } from './shard-variants.js';

export interface ShardSweepOptions {
  readonly firstSeed?: number;
  readonly seeds: number;
  readonly shards?: number;
  readonly minutes?: number;
  readonly variant?: ShardVariantName;
  /** Stop after the first seed by which every one of these has been violated. */
  readonly stopWhenSeen?: readonly ShardInvariant[];
  readonly onResult?: (result: ShardSimResult) => void;
}

export interface ShardSweepSummary {
  readonly seeds: number;
  readonly virtualHours: number;
  readonly terms: number;
  readonly faults: ShardFaultCounts;
  readonly violations: Record<ShardInvariant, number>;
  readonly failedSeeds: { seed: number; violations: ShardViolation[] }[];
  readonly failedSeedCount: number;
  readonly balanceJudged: number;
  readonly longestBalanceMs: number;
  readonly orphansJudged: number;
  readonly longestUnownedMs: number;
  readonly backoffs: number;
  readonly longestBackoffMs: number;
  /** The bounds as derived: largest T over the seeds' timings and M, and U per timing (ms). */
  readonly balanceBoundMs: Record<string, number>;
  readonly unownedBoundMs: Record<string, number>;
  readonly backoffBoundMs: Record<string, number>;
  readonly requestsPerReplicaMinute: Histogram;
  readonly budgetPeakPercent: number;
  readonly digests: Record<string, string>;
}

export function emptyShardSummary(): ShardSweepSummary {
  return {
    seeds: 0,
    virtualHours: 0,
    terms: 0,
    faults: emptyShardFaultCounts(),
    violations: Object.fromEntries(SHARD_INVARIANTS.map((inv) => [inv, 0])) as Record<ShardInvariant, number>,
    failedSeeds: [],
    failedSeedCount: 0,
    balanceJudged: 0,
    longestBalanceMs: 0,
    orphansJudged: 0,
    longestUnownedMs: 0,
    backoffs: 0,
    longestBackoffMs: 0,
    balanceBoundMs: {},
    unownedBoundMs: {},
    backoffBoundMs: {},
    requestsPerReplicaMinute: {},
    budgetPeakPercent: 0,
    digests: {},
  };
}

function timingKey(r: ShardSimResult): string {
  return `L=${r.timing.leaseDurationMs} R=${r.timing.retryPeriodMs}`;
}

export function addShardResult(summary: ShardSweepSummary, r: ShardSimResult): ShardSweepSummary {
  const failed = r.violations.length > 0 ? [{ seed: r.seed, violations: r.violations.slice(0, 3) }] : [];
  return mergeShardSummaries(summary, {
    seeds: 1,
    virtualHours: r.virtualMs / 3_600_000,
    terms: r.terms,
    faults: r.faults,
    violations: r.violationCounts,
    failedSeeds: failed,
    failedSeedCount: failed.length,
    balanceJudged: r.balanceJudged,
    longestBalanceMs: r.longestBalanceMs,
    orphansJudged: r.orphansJudged,
    longestUnownedMs: r.longestUnownedMs,
    backoffs: r.backoffs,
    longestBackoffMs: r.longestBackoffMs,
    balanceBoundMs: { [timingKey(r)]: r.balanceBoundMs },
    unownedBoundMs: { [timingKey(r)]: r.unownedBoundMs },
    backoffBoundMs: { [timingKey(r)]: r.backoffBoundMs },
    requestsPerReplicaMinute: r.requestsPerReplicaMinute,
    budgetPeakPercent: r.budgetPeakPercent,
    digests: { [String(r.seed)]: r.digest },
  });
}

function maxRecord(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = Math.max(out[k] ?? 0, v);
  return out;
}

export function mergeShardSummaries(a: ShardSweepSummary, b: ShardSweepSummary): ShardSweepSummary {
  const faults = emptyShardFaultCounts();
  for (const kind of SHARD_FAULT_KINDS) faults[kind] = a.faults[kind] + b.faults[kind];
  return {
    seeds: a.seeds + b.seeds,
    virtualHours: a.virtualHours + b.virtualHours,
    terms: a.terms + b.terms,
    faults,
    violations: Object.fromEntries(SHARD_INVARIANTS.map((inv) => [inv, a.violations[inv] + b.violations[inv]])) as Record<ShardInvariant, number>,
    failedSeeds: [...a.failedSeeds, ...b.failedSeeds].sort((x, y) => x.seed - y.seed).slice(0, 20),
    failedSeedCount: a.failedSeedCount + b.failedSeedCount,
    balanceJudged: a.balanceJudged + b.balanceJudged,
    longestBalanceMs: Math.max(a.longestBalanceMs, b.longestBalanceMs),
    orphansJudged: a.orphansJudged + b.orphansJudged,
    longestUnownedMs: Math.max(a.longestUnownedMs, b.longestUnownedMs),
    backoffs: a.backoffs + b.backoffs,
    longestBackoffMs: Math.max(a.longestBackoffMs, b.longestBackoffMs),
    balanceBoundMs: maxRecord(a.balanceBoundMs, b.balanceBoundMs),
    unownedBoundMs: maxRecord(a.unownedBoundMs, b.unownedBoundMs),
    backoffBoundMs: maxRecord(a.backoffBoundMs, b.backoffBoundMs),
    requestsPerReplicaMinute: mergeHistograms(a.requestsPerReplicaMinute, b.requestsPerReplicaMinute),
    budgetPeakPercent: Math.max(a.budgetPeakPercent, b.budgetPeakPercent),
    digests: { ...a.digests, ...b.digests },
  };
}

export async function runShardSweep(options: ShardSweepOptions): Promise<ShardSweepSummary> {
  const first = options.firstSeed ?? 1;
  let summary = emptyShardSummary();
  for (let seed = first; seed < first + options.seeds; seed++) {
    const result = await runShardSimulation({
      seed,
      ...(options.shards !== undefined ? { shards: options.shards } : {}),
      ...(options.minutes !== undefined ? { minutes: options.minutes } : {}),
      ...(options.variant !== undefined ? { variant: options.variant } : {}),
    });
    options.onResult?.(result);
    summary = addShardResult(summary, result);
    const wanted = options.stopWhenSeen;
    if (wanted && wanted.length > 0 && wanted.every((inv) => summary.violations[inv] > 0)) break;
  }
  return summary;
}

export function totalShardViolations(summary: ShardSweepSummary): number {
  return SHARD_INVARIANTS.reduce((sum, inv) => sum + summary.violations[inv], 0);
}

export function formatShardSummary(s: ShardSweepSummary, extra: { variant?: string; shards?: number; realMs?: number } = {}): string {
  const lines: string[] = [];
  lines.push(`sharded mode:       ${extra.shards ?? 8} shards, variant ${extra.variant ?? 'safe'}`);
  lines.push(`seeds:              ${s.seeds}`);
  lines.push(`virtual hours:      ${s.virtualHours.toFixed(2)}`);
  if (extra.realMs !== undefined) lines.push(`real time:          ${(extra.realMs / 1000).toFixed(1)} s`);
  lines.push(`shard terms:        ${s.terms}`);
  lines.push(`balance (BAL):      ${s.balanceJudged} stable windows judged; longest time to balance ${(s.longestBalanceMs / 1000).toFixed(1)} s; bound T by timing (largest M): ${fmtBounds(s.balanceBoundMs)}`);
  lines.push(`back-offs (BAL):    ${s.backoffs} seen (a replica not counting a member that failed a handover); longest ${(s.longestBackoffMs / 1000).toFixed(1)} s; bound by timing: ${fmtBounds(s.backoffBoundMs)}`);
  lines.push(`unowned (UNOWNED):  ${s.orphansJudged} orphaned shards judged; longest unled ${(s.longestUnownedMs / 1000).toFixed(1)} s; bound U by timing: ${fmtBounds(s.unownedBoundMs)}`);
  lines.push(`requests per replica per minute: p50 ${percentile(s.requestsPerReplicaMinute, 0.5)}, max ${maxSample(s.requestsPerReplicaMinute)} (busiest budget window: ${s.budgetPeakPercent} % of one resource's budget)`);
  lines.push('faults injected by kind:');
  const width = Math.max(...SHARD_FAULT_KINDS.map((k) => k.length));
  for (const kind of SHARD_FAULT_KINDS) lines.push(`  ${kind.padEnd(width)}  ${s.faults[kind]}`);
  lines.push('violations by invariant:');
  for (const inv of SHARD_INVARIANTS) lines.push(`  ${inv.padEnd(8)} ${s.violations[inv]}`);
  lines.push(`seeds with violations: ${s.failedSeedCount}`);
  return lines.join('\n');
}

function fmtBounds(bounds: Record<string, number>): string {
  return Object.entries(bounds)
    .sort()
    .map(([k, v]) => `${k}: ${(v / 1000).toFixed(1)} s`)
    .join('; ');
}

export function formatShardViolation(seed: number, v: ShardViolation, shards: number): string {
  return [
    `seed ${seed}: ${v.invariant} violated at t=${(v.atMs / 1000).toFixed(3)}s: ${v.message}`,
    `  replay: pnpm sim --shards ${shards} --seed ${seed} --trace`,
    '  last events:',
    ...v.trace.map((line) => `    ${line}`),
  ].join('\n');
}

export function shardSummaryJson(s: ShardSweepSummary): Record<string, unknown> {
  const digests: Record<string, string> = {};
  for (const seed of Object.keys(s.digests).sort((x, y) => Number(x) - Number(y))) digests[seed] = s.digests[seed]!;
  return {
    seeds: s.seeds,
    virtualHours: Math.round(s.virtualHours * 1000) / 1000,
    terms: s.terms,
    faults: s.faults,
    violations: s.violations,
    balance: { judged: s.balanceJudged, longestMs: s.longestBalanceMs, boundMs: s.balanceBoundMs },
    backoffs: { seen: s.backoffs, longestMs: s.longestBackoffMs, boundMs: s.backoffBoundMs },
    unowned: { judged: s.orphansJudged, longestMs: s.longestUnownedMs, boundMs: s.unownedBoundMs },
    requestsPerReplicaMinute: { p50: percentile(s.requestsPerReplicaMinute, 0.5), max: maxSample(s.requestsPerReplicaMinute) },
    budgetPeakPercent: s.budgetPeakPercent,
    digests,
  };
}
