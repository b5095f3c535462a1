/** The sharding scenario's part of the report: the JSON, the printed table and its targets. */
import type { ShardPhase, ShardsResult } from './shards.js';
import { round } from './stats.js';
import { formatTable } from './table.js';

/** One phase in the JSON. */
export interface ShardPhaseJson {
  readonly name: ShardPhase['name'];
  readonly event: string;
  readonly live: number;
  /** null when the set never balanced (see `failure`). */
  readonly balanceMs: number;
  readonly moves: number;
  readonly minimumMoves: number;
  readonly acquisitions: number;
  readonly held: Record<string, number>;
  readonly bootMs?: number;
  readonly warnings: number;
  readonly errors: number;
  readonly failure?: string;
}

/** The JSON's `sharding` key. */
export interface ShardsJson {
  readonly shards: number;
  readonly replicas: number;
  /** The replicas are child processes (not in-process electors). */
  readonly replicaProcesses: true;
  readonly phases: ShardPhaseJson[];
  /** null when the start never balanced. */
  readonly steady: {
    readonly windowMs: number;
    readonly requestsPerMinute: number;
    readonly perMinuteByVerb: Record<string, number>;
    readonly targetPerMinute: { readonly renewals: number; readonly memberships: number; readonly watches: number; readonly total: number };
    readonly moves: number;
    readonly openWatches: number;
    readonly warnings: number;
    readonly errors: number;
  } | null;
  readonly config: Record<string, unknown>;
  readonly handoversByReplica: Record<string, number>;
  readonly warnings: number;
  readonly errors: number;
  readonly logByMessage: Record<string, number>;
}

/** Builds the JSON part. */
export function shardsJson(r: ShardsResult): ShardsJson {
  const s = r.steady;
  return {
    shards: r.shards,
    replicas: r.replicas,
    replicaProcesses: true,
    phases: r.phases.map((p) => ({
      name: p.name,
      event: p.event,
      live: p.live,
      balanceMs: round(p.balanceMs),
      moves: p.moves,
      minimumMoves: p.minimumMoves,
      acquisitions: p.acquisitions,
      held: p.held,
      ...(p.bootMs !== undefined ? { bootMs: round(p.bootMs) } : {}),
      warnings: p.warnings,
      errors: p.errors,
      ...(p.failure !== undefined ? { failure: p.failure } : {}),
    })),
    steady: s
      ? {
          windowMs: round(s.windowMs, 0),
          requestsPerMinute: round(s.perMinute),
          perMinuteByVerb: Object.fromEntries(Object.entries(s.perMinuteByVerb).map(([verb, n]) => [verb, round(n)])),
          targetPerMinute: { renewals: round(s.target.renewals), memberships: round(s.target.memberships), watches: s.target.watches, total: round(s.target.total) },
          moves: s.moves,
          openWatches: s.openWatches,
          warnings: s.warnings,
          errors: s.errors,
        }
      : null,
    config: { timings: r.timings, membership: r.membership, handoverIntervalMs: r.handoverIntervalMs, settleMs: r.settleMs, quietMs: r.quietMs },
    handoversByReplica: r.handoversByReplica,
    warnings: r.log.warnings,
    errors: r.log.errors,
    logByMessage: r.logByMessage,
  };
}

const fmt = (v: number, digits = 0): string => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');

/** The printed part: one row per phase, then the steady state against its target. */
export function shardsLines(r: ShardsResult): string[] {
  const t = r.timings;
  const m = r.membership;
  const rows = r.phases.map((p) => [
    p.name,
    p.event,
    String(p.live),
    p.failure ?? fmt(p.balanceMs),
    `${p.moves} (${p.minimumMoves})${p.acquisitions > 0 ? `, ${p.acquisitions} acquired` : ''}`,
    Object.values(p.held).join(' '),
    `${p.warnings} / ${p.errors}`,
    p.bootMs === undefined ? '' : fmt(p.bootMs),
  ]);
  const lines = [
    `sharding: ${r.shards} shard Leases, ${r.replicas} replica processes at the start (a ShardedLeaderElectionComponent each, its own client connections), the server in the bench process; ` +
      `lease ${t.leaseDurationMs} / renew deadline ${t.renewDeadlineMs} / retry ${t.retryPeriodMs} ms, membership ${m.durationMs} / refresh ${m.renewIntervalMs} / retry ${m.retryPeriodMs} ms, ` +
      `handover interval ${r.handoverIntervalMs} ms, settle ${r.settleMs} ms; balanced: every live replica holds floor or ceil of N/M (read from the server's Leases), unbroken for ${r.quietMs} ms`,
    '',
    ...formatTable(['phase', 'event', 'live', 'time to balance, ms', 'shards moved (minimum)', 'held at the end', 'replica warnings / errors', 'process start, ms'], rows),
  ];
  const s = r.steady;
  if (s) {
    const verbs = Object.entries(s.perMinuteByVerb).map(([verb, n]) => `${verb} ${n.toFixed(1)}`).join(', ') || 'none';
    lines.push(
      '',
      `steady state (${fmt(s.windowMs / 1000, 0)} s after the start balanced, ${r.replicas} replicas): ${s.perMinute.toFixed(1)} API requests / minute (${verbs}); ` +
        `target <= ${s.target.total.toFixed(0)} (renewals ${s.target.renewals.toFixed(0)} + membership refreshes ${s.target.memberships.toFixed(0)} + one watch per replica ${s.target.watches}); ` +
        `${s.moves} shard(s) moved, ${s.openWatches} watches open, ${s.errors} elector error(s) in the window`,
    );
  }
  const handovers = Object.entries(r.handoversByReplica).map(([id, n]) => `${id} ${n}`).join(', ');
  lines.push(`rebalancing handovers given before SIGTERM (replicas that stopped gracefully): ${handovers || 'none'}; replica warnings ${r.log.warnings}, errors ${r.log.errors}`, '');
  return lines;
}

/**
 * Targets: every phase balances; a join, a crash and a graceful leave move no more shards than
 * the fewest any fair placement needs (docs/sharding.md: the plan moves exactly the surplus); the
 * steady state costs no more than the shards' renewals, the memberships' refreshes and one watch
 * per replica.
 */
export function shardsTargets(r: ShardsResult): { target: string; measured: string; met: boolean }[] {
  const unbalanced = r.phases.filter((p) => p.failure !== undefined);
  const checks = [
    {
      target: `sharding: every phase ends balanced (floor or ceil of N/M shards on every live replica)`,
      measured: unbalanced.length === 0 ? r.phases.map((p) => `${p.name} ${fmt(p.balanceMs)} ms`).join(', ') : unbalanced.map((p) => `${p.name}: ${p.failure}`).join('; '),
      met: unbalanced.length === 0 && r.phases.length === 4,
    },
  ];
  for (const p of r.phases.filter((phase) => phase.name !== 'start')) {
    checks.push({
      target: `sharding, ${p.name}: shards moved <= the minimum (${p.name === 'join' ? "the joiner's floor share" : `the ${p.name === 'crash' ? 'crashed' : 'leaving'} replica's shards`})`,
      measured: `${p.moves} moved, minimum ${p.minimumMoves}`,
      met: p.failure === undefined && p.moves <= p.minimumMoves,
    });
  }
  const s = r.steady;
  checks.push({
    target: 'sharding: steady-state requests/minute <= renewals (N / retry period) + membership refreshes + one watch per replica',
    measured: s ? `${s.perMinute.toFixed(1)} vs ${s.target.total.toFixed(0)}` : 'not measured (the start never balanced)',
    met: s !== undefined && s.perMinute <= s.target.total,
  });
  return checks;
}
