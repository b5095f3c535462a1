/**
 * Sweeps: many seeds, one summary. Seeds run one after another (a run owns the process while it
 * runs); the CLI splits a sweep over worker threads and merges the summaries, which is exact
 * because every number in a summary is a sum.
 */
import { FAULT_KINDS, emptyFaultCounts, type FaultCounts, type FaultRates, type OutsideActor } from './faults.js';
import { maxSample, mergeHistograms, percentile, type Histogram } from './histogram.js';
import { INVARIANTS, type Invariant, type Violation } from './invariants.js';
import { runSimulation, type SimOptions, type SimResult } from './simulation.js';
import type { ElectorFactory, VariantName } from './variants.js';

export interface SweepOptions {
  /** First seed. @default 1 */
  readonly firstSeed?: number;
  /** How many consecutive seeds. */
  readonly seeds: number;
  /** Virtual minutes per seed. @default 10 */
  readonly minutes?: number;
  readonly variant?: VariantName;
  readonly factory?: ElectorFactory;
  readonly rates?: FaultRates;
  readonly outsideActor?: OutsideActor;
  readonly clientGo?: SimOptions['clientGo'];
  readonly fleet?: SimOptions['fleet'];
  /**
   * Stop after the first seed by which every one of these invariants has been violated (a test
   * showing an unsafe variant is caught need not run the whole sweep). @default run every seed
   */
  readonly stopWhenSeen?: readonly Invariant[];
  /** Called after each seed (progress, early printing). */
  readonly onResult?: (result: SimResult) => void;
}

/** A seed that broke an invariant, with its first violations. */
export interface FailedSeed {
  readonly seed: number;
  readonly violations: Violation[];
}

export interface SweepSummary {
  readonly seeds: number;
  readonly virtualHours: number;
  readonly faults: FaultCounts;
  readonly violations: Record<Invariant, number>;
  readonly availabilityPercent: number;
  /** Sum of virtual ms with a leader, and of virtual ms run (availability = ratio). */
  readonly leaderMs: number;
  readonly virtualMs: number;
  readonly terms: number;
  readonly lateStarts: number;
  /** Violations caused by a term started from a late answer (see Violation.lateStart). */
  readonly lateStartViolations: number;
  /** Violations not explained by the reported late-start bug (up to 50, lowest seed first). */
  readonly otherViolations: { seed: number; invariant: Invariant; atMs: number; message: string }[];
  /** Up to {@link MAX_FAILED_SEEDS} failing seeds, lowest first. */
  readonly failedSeeds: FailedSeed[];
  readonly failedSeedCount: number;
  /** Seeds that ran a client-go replica beside the electors. */
  readonly clientGoRuns: number;
  /** Seeds whose electors all ran with `clientGoFollowers: false` (no client-go replica). */
  readonly leasekitOnlyRuns: number;
  /** Requests each elector replica sent per full virtual minute (value -> samples). */
  readonly requestsPerReplicaMinute: Histogram;
  /** The most API requests one process sent in one budget window, as a share of its budget (%). */
  readonly budgetPeakPercent: number;
  readonly userWorkRuns: number;
  /** Times leader user code saw a live signal past its guarantee (term.isValid() false): why isValid() exists. */
  readonly staleSignalsSeen: number;
  /** Each seed's trace digest (seed -> FNV-1a hex): two sweeps replayed the same iff these match. */
  readonly digests: Record<string, string>;
}

export const MAX_FAILED_SEEDS = 20;

export function emptySummary(): SweepSummary {
  return {
    seeds: 0,
    virtualHours: 0,
    faults: emptyFaultCounts(),
    violations: Object.fromEntries(INVARIANTS.map((inv) => [inv, 0])) as Record<Invariant, number>,
    availabilityPercent: 0,
    leaderMs: 0,
    virtualMs: 0,
    terms: 0,
    lateStarts: 0,
    lateStartViolations: 0,
    otherViolations: [],
    failedSeeds: [],
    failedSeedCount: 0,
    clientGoRuns: 0,
    leasekitOnlyRuns: 0,
    requestsPerReplicaMinute: {},
    budgetPeakPercent: 0,
    userWorkRuns: 0,
    staleSignalsSeen: 0,
    digests: {},
  };
}

/** Adds one run to a summary (returns a new summary). */
export function addResult(summary: SweepSummary, result: SimResult): SweepSummary {
  const failed = result.violations.length > 0 ? [{ seed: result.seed, violations: result.violations.slice(0, 3) }] : [];
  return mergeSummaries(summary, {
    seeds: 1,
    virtualHours: result.virtualMs / 3_600_000,
    faults: result.faults,
    violations: result.violationCounts,
    availabilityPercent: result.availabilityPercent,
    leaderMs: result.leaderMs,
    virtualMs: result.virtualMs,
    terms: result.terms,
    lateStarts: result.lateStarts,
    lateStartViolations: result.violations.filter((v) => v.lateStart).length,
    otherViolations: result.violations
      .filter((v) => !v.lateStart)
      .map((v) => ({ seed: result.seed, invariant: v.invariant, atMs: v.atMs, message: v.message })),
    failedSeeds: failed,
    failedSeedCount: failed.length,
    clientGoRuns: result.clientGoReplicas > 0 ? 1 : 0,
    leasekitOnlyRuns: result.leasekitOnly ? 1 : 0,
    requestsPerReplicaMinute: result.requestsPerReplicaMinute,
    budgetPeakPercent: result.budgetPeakPercent,
    userWorkRuns: result.userWorkRuns,
    staleSignalsSeen: result.staleSignalsSeen,
    digests: { [String(result.seed)]: result.digest },
  });
}

export function mergeSummaries(a: SweepSummary, b: SweepSummary): SweepSummary {
  const faults = emptyFaultCounts();
  for (const kind of FAULT_KINDS) faults[kind] = a.faults[kind] + b.faults[kind];
  const violations = Object.fromEntries(INVARIANTS.map((inv) => [inv, a.violations[inv] + b.violations[inv]])) as Record<Invariant, number>;
  const leaderMs = a.leaderMs + b.leaderMs;
  const virtualMs = a.virtualMs + b.virtualMs;
  return {
    seeds: a.seeds + b.seeds,
    virtualHours: virtualMs / 3_600_000,
    faults,
    violations,
    availabilityPercent: virtualMs > 0 ? (100 * leaderMs) / virtualMs : 0,
    leaderMs,
    virtualMs,
    terms: a.terms + b.terms,
    lateStarts: a.lateStarts + b.lateStarts,
    lateStartViolations: a.lateStartViolations + b.lateStartViolations,
    otherViolations: [...a.otherViolations, ...b.otherViolations].sort((x, y) => x.seed - y.seed || x.atMs - y.atMs).slice(0, 50),
    failedSeeds: [...a.failedSeeds, ...b.failedSeeds].sort((x, y) => x.seed - y.seed).slice(0, MAX_FAILED_SEEDS),
    failedSeedCount: a.failedSeedCount + b.failedSeedCount,
    clientGoRuns: a.clientGoRuns + b.clientGoRuns,
    leasekitOnlyRuns: a.leasekitOnlyRuns + b.leasekitOnlyRuns,
    requestsPerReplicaMinute: mergeHistograms(a.requestsPerReplicaMinute, b.requestsPerReplicaMinute),
    budgetPeakPercent: Math.max(a.budgetPeakPercent, b.budgetPeakPercent),
    userWorkRuns: a.userWorkRuns + b.userWorkRuns,
    staleSignalsSeen: a.staleSignalsSeen + b.staleSignalsSeen,
    digests: { ...a.digests, ...b.digests },
  };
}

/** Runs `seeds` consecutive seeds and sums them up. */
export async function runSweep(options: SweepOptions): Promise<SweepSummary> {
  const first = options.firstSeed ?? 1;
  let summary = emptySummary();
  for (let seed = first; seed < first + options.seeds; seed++) {
    const result = await runSimulation({
      seed,
      ...(options.minutes !== undefined ? { minutes: options.minutes } : {}),
      ...(options.variant !== undefined ? { variant: options.variant } : {}),
      ...(options.factory !== undefined ? { factory: options.factory } : {}),
      ...(options.rates !== undefined ? { rates: options.rates } : {}),
      ...(options.outsideActor !== undefined ? { outsideActor: options.outsideActor } : {}),
      ...(options.clientGo !== undefined ? { clientGo: options.clientGo } : {}),
      ...(options.fleet !== undefined ? { fleet: options.fleet } : {}),
    });
    options.onResult?.(result);
    summary = addResult(summary, result);
    const wanted = options.stopWhenSeen;
    if (wanted && wanted.length > 0 && wanted.every((inv) => summary.violations[inv] > 0)) break;
  }
  return summary;
}

/** Total violations in a summary. */
export function totalViolations(summary: SweepSummary): number {
  return INVARIANTS.reduce((sum, inv) => sum + summary.violations[inv], 0);
}

/** The JSON the CLI writes with `--json`. */
export function summaryJson(summary: SweepSummary): {
  seeds: number;
  virtualHours: number;
  faults: FaultCounts;
  violations: Record<Invariant, number>;
  availabilityPercent: number;
  requestsPerReplicaMinute: { p50: number; max: number };
  digests: Record<string, string>;
} {
  const digests: Record<string, string> = {};
  for (const seed of Object.keys(summary.digests).sort((x, y) => Number(x) - Number(y))) digests[seed] = summary.digests[seed]!;
  return {
    seeds: summary.seeds,
    virtualHours: round(summary.virtualHours, 3),
    faults: summary.faults,
    violations: summary.violations,
    availabilityPercent: round(summary.availabilityPercent, 3),
    requestsPerReplicaMinute: requestRates(summary),
    digests,
  };
}

/** Requests per elector replica per virtual minute: median and maximum over replica-minutes. */
export function requestRates(summary: SweepSummary): { p50: number; max: number } {
  return { p50: percentile(summary.requestsPerReplicaMinute, 0.5), max: maxSample(summary.requestsPerReplicaMinute) };
}

/** A human-readable report of a summary. */
export function formatSummary(summary: SweepSummary, extra: { variant?: string; realMs?: number } = {}): string {
  const lines: string[] = [];
  lines.push(`variant:            ${extra.variant ?? 'safe'}`);
  lines.push(`seeds:              ${summary.seeds}`);
  lines.push(`virtual hours:      ${round(summary.virtualHours, 2)}`);
  if (extra.realMs !== undefined) lines.push(`real time:          ${(extra.realMs / 1000).toFixed(1)} s`);
  lines.push(`leadership terms:   ${summary.terms} (${summary.lateStarts} began after their guarantee had run out)`);
  lines.push(`leader availability: ${summary.availabilityPercent.toFixed(3)} %`);
  lines.push(`runs with a client-go replica: ${summary.clientGoRuns}`);
  lines.push(`runs of leasekit replicas only (clientGoFollowers: false): ${summary.leasekitOnlyRuns}`);
  const rates = requestRates(summary);
  lines.push(`requests per replica per minute: p50 ${rates.p50}, max ${rates.max} (busiest budget window: ${summary.budgetPeakPercent} % of client-go's budget)`);
  lines.push(`leader user code runs: ${summary.userWorkRuns} (${summary.staleSignalsSeen} saw a live signal past the guarantee, where term.isValid() said false)`);
  lines.push('faults injected by kind:');
  const width = Math.max(...FAULT_KINDS.map((k) => k.length));
  for (const kind of FAULT_KINDS) lines.push(`  ${kind.padEnd(width)}  ${summary.faults[kind]}`);
  lines.push(`  ${'total'.padEnd(width)}  ${FAULT_KINDS.reduce((s, k) => s + summary.faults[k], 0)}`);
  lines.push('violations by invariant:');
  for (const inv of INVARIANTS) lines.push(`  ${inv.padEnd(4)} ${summary.violations[inv]}`);
  lines.push(`  of which caused by a term started from a late answer to its acquiring write: ${summary.lateStartViolations}`);
  lines.push(`seeds with violations: ${summary.failedSeedCount}`);
  if (summary.otherViolations.length > 0) {
    lines.push('violations not caused by a late start (seed, invariant, time, message):');
    for (const v of summary.otherViolations) lines.push(`  seed ${v.seed} ${v.invariant} t=${(v.atMs / 1000).toFixed(3)}s ${v.message}`);
  }
  return lines.join('\n');
}

/** A violation as printed: the seed, what broke, and the events that led to it. */
export function formatViolation(seed: number, violation: Violation): string {
  return [
    `seed ${seed}: ${violation.invariant} violated at t=${(violation.atMs / 1000).toFixed(3)}s: ${violation.message}`,
    `  replay: pnpm sim --seed ${seed} --trace`,
    '  last events:',
    ...violation.trace.map((line) => `    ${line}`),
  ].join('\n');
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
