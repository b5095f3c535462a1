/** The rollout scene's part of the report: the JSON, the printed table and its target. */
import { round, summarize } from './stats.js';
import type { RolloutResult, RolloutRun, RolloutVariant } from './rollout.js';
import { formatTable } from './table.js';

/** How each old replica left, in words. */
export const ROLLOUT_VARIANT_LABELS: Record<RolloutVariant, string> = {
  release: '(a) SIGTERM, old leader releases',
  newest: "(b) SIGTERM, handoverOnShutdown: 'newest'",
};

/** One variant and mode in the JSON. */
export interface RolloutJsonRow {
  readonly variant: RolloutVariant;
  readonly mode: 'watch' | 'poll';
  /** Leadership changes per rollout, in run order. */
  readonly changes: number[];
  /** Leaderless time per rollout (ms), in run order. */
  readonly leaderlessMs: number[];
  readonly leaderlessP50Ms: number;
  readonly leaderlessMaxMs: number;
}

/** The JSON's `rollout` key. */
export interface RolloutJson {
  readonly rows: RolloutJsonRow[];
  readonly failedRollouts: string[];
}

function groups(r: RolloutResult): { variant: RolloutVariant; mode: 'watch' | 'poll'; runs: RolloutRun[] }[] {
  const out: { variant: RolloutVariant; mode: 'watch' | 'poll'; runs: RolloutRun[] }[] = [];
  for (const variant of ['release', 'newest'] as const) {
    for (const mode of ['watch', 'poll'] as const) out.push({ variant, mode, runs: r.runs.filter((run) => run.variant === variant && run.mode === mode) });
  }
  return out;
}

/** Builds the JSON part. */
export function rolloutJson(r: RolloutResult): RolloutJson {
  return {
    rows: groups(r).map(({ variant, mode, runs }) => {
      const s = summarize(runs.map((run) => run.leaderlessMs));
      return {
        variant,
        mode,
        changes: runs.map((run) => run.changes),
        leaderlessMs: runs.map((run) => round(run.leaderlessMs)),
        leaderlessP50Ms: round(s.p50),
        leaderlessMaxMs: round(s.max),
      };
    }),
    failedRollouts: r.failureReasons,
  };
}

/** The printed part: one row per variant and mode. */
export function rolloutLines(r: RolloutResult, runsPerRow: number): string[] {
  const rows = groups(r).map(({ variant, mode, runs }) => {
    const s = summarize(runs.map((run) => run.leaderlessMs));
    const fmt = (v: number): string => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
    return [
      ROLLOUT_VARIANT_LABELS[variant],
      mode,
      runs.map((run) => run.changes).join(', ') || 'n/a',
      `${fmt(s.p50)} / ${fmt(s.max)} (n ${s.n})`,
      runs.map((run) => run.leaders.map((l) => l.replace(/^.*-(old|new)-/, '$1-')).join(' > ')).join('; '),
    ];
  });
  return [
    `rollout: ${runsPerRow} rollout(s) per row; 3 replicas replaced one by one (a new one starts and follows the Lease, then the oldest old one stops), counted from the first new replica's start until the last old one is gone and a replica leads`,
    '',
    ...formatTable(['old replicas leave by', 'followers', 'leadership changes per rollout', 'leaderless ms per rollout: p50 / max', 'who led, in order'], rows),
    ...(r.failureReasons.length > 0 ? ['', `failed rollouts: ${r.failureReasons.join('; ')}`] : []),
    '',
  ];
}

/** Rollouts with handover on shutdown move leadership at most once per old leader, so at most 3 times. */
export function rolloutTargets(r: RolloutResult): { target: string; measured: string; met: boolean }[] {
  return (['watch', 'poll'] as const).map((mode) => {
    const runs = r.runs.filter((run) => run.variant === 'newest' && run.mode === mode);
    const changes = runs.map((run) => run.changes);
    const failed = r.failureReasons.filter((reason) => reason.startsWith(`newest ${mode} `)).length;
    return {
      target: `rollout with handoverOnShutdown 'newest' (SIGTERM alone): at most one leadership change per old replica (<= 3), ideally 1 (${mode})`,
      measured: changes.length > 0 ? `${changes.join(', ')} change(s)${failed > 0 ? `, ${failed} failed` : ''}` : 'no rollout',
      met: runs.length > 0 && failed === 0 && changes.every((c) => c <= 3),
    };
  });
}
