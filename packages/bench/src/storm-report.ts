/**
 * The retry-storm part of the report: its JSON (`retryStorm`), its printed table (per failure
 * kind, strategy and follower: GETs, writes, watches and total next to client-go's budget, OVER
 * BUDGET marked) and one target per run. Over budget is a finding, never a failed run.
 */
import type { StormResult, StormRun } from './storm.js';
import { STORM_KIND_LABELS } from './storm.js';
import { round } from './stats.js';
import { formatTable } from './table.js';

/** `retryStorm` in the JSON report. */
export interface StormJson {
  readonly windowMs: number;
  readonly timings: StormResult['timings'];
  readonly followersPerRun: number;
  readonly budgetRule: string;
  readonly runs: readonly {
    readonly kind: string;
    readonly failure: string;
    readonly strategy: string;
    readonly windowMs: number;
    readonly budget: { readonly gets: number; readonly writes: number; readonly total: number };
    readonly followers: readonly {
      readonly identity: string;
      readonly gets: number;
      readonly writes: number;
      readonly watches: number;
      readonly total: number;
      readonly byVerb: Record<string, number>;
      readonly overBudget: boolean;
      readonly reasons: readonly string[];
    }[];
    readonly withinBudget: boolean;
    readonly otherRequests: number;
    readonly unreportedRequests: number;
    readonly leaders: number;
    readonly electorWarnings: number;
    readonly electorErrors: number;
    readonly warningSamples?: readonly string[];
  }[];
}

/** The rule every follower is judged by. */
export const BUDGET_RULE = "client-go: tries at least R apart, so per follower at most floor(W/R)+1 GETs, as many writes, and 2 x (floor(W/R)+1) requests in all (watches included)";

/** Builds `retryStorm`. */
export function stormJson(s: StormResult): StormJson {
  return {
    windowMs: s.durationMs,
    timings: s.timings,
    followersPerRun: s.followers,
    budgetRule: BUDGET_RULE,
    runs: s.runs.map((r) => ({
      kind: r.kind,
      failure: STORM_KIND_LABELS[r.kind],
      strategy: r.strategy,
      windowMs: round(r.windowMs, 0),
      budget: { gets: r.budget.tries, writes: r.budget.tries, total: r.budget.total },
      followers: r.followers.map((f) => ({
        identity: f.identity,
        gets: f.gets,
        writes: f.writes,
        watches: f.watches,
        total: f.total,
        byVerb: Object.fromEntries(Object.entries(f.byVerb).filter(([, n]) => n > 0)),
        overBudget: f.overBudget,
        reasons: f.reasons,
      })),
      withinBudget: withinBudget(r),
      otherRequests: r.otherRequests,
      unreportedRequests: r.unreportedRequests,
      leaders: r.leaders,
      electorWarnings: r.log.warnings,
      electorErrors: r.log.errors,
      ...(r.log.samples.length > 0 ? { warningSamples: r.log.samples } : {}),
    })),
  };
}

/** True when no follower of the run exceeded the budget. */
export function withinBudget(run: StormRun): boolean {
  return run.followers.every((f) => !f.overBudget);
}

/** One target per run. */
export function stormTargets(s: StormResult): { target: string; measured: string; met: boolean }[] {
  return s.runs.map((r) => {
    const max = (pick: (f: StormRun['followers'][number]) => number): number => Math.max(0, ...r.followers.map(pick));
    return {
      target: `retry storm, ${STORM_KIND_LABELS[r.kind]}, ${r.strategy}: every follower within client-go's budget`,
      measured: `max GETs ${max((f) => f.gets)} / writes ${max((f) => f.writes)} / total ${max((f) => f.total)} vs ${r.budget.tries} / ${r.budget.tries} / ${r.budget.total}`,
      met: withinBudget(r),
    };
  });
}

/** The printed section: a heading, the rule, and one row per follower. */
export function stormLines(s: StormResult): string[] {
  const t = s.timings;
  const rows = s.runs.flatMap((r) =>
    r.followers.map((f) => [
      STORM_KIND_LABELS[r.kind],
      r.strategy,
      f.identity.replace(/^storm-[^-]+-[^-]+-/, '#'),
      String(f.gets),
      String(f.writes),
      String(f.watches),
      String(f.total),
      `${r.budget.tries} / ${r.budget.tries} / ${r.budget.total}`,
      f.overBudget ? `OVER BUDGET (${f.reasons.join(', ')})` : 'within',
    ]),
  );
  const notes = s.runs.flatMap((r) => [
    ...(r.leaders > 0 ? [`  note: ${STORM_KIND_LABELS[r.kind]} ${r.strategy}: ${r.leaders} follower(s) became leader, so a write got through`] : []),
    ...(r.unreportedRequests !== 0 ? [`  note: ${STORM_KIND_LABELS[r.kind]} ${r.strategy}: ${r.unreportedRequests} Lease request(s) counted by the server but never reported: the tally is short`] : []),
  ]);
  return [
    `retry storm: ${s.followers} followers on a free Lease, every write failing, counted by the server per follower (bearer token) for ${(s.durationMs / 1000).toFixed(1)} s from their start; lease ${t.leaseDurationMs} / renew deadline ${t.renewDeadlineMs} / retry period R ${t.retryPeriodMs} ms`,
    `budget (${BUDGET_RULE}), from each run's measured window`,
    '',
    ...formatTable(['failure', 'strategy', 'follower', 'GETs', 'writes', 'watches', 'total', 'budget GET/write/total', 'verdict'], rows),
    ...notes,
    '',
  ];
}
