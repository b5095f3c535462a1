import { describe, expect, it } from '@jest/globals';
import { CountingLogger } from './candidates.js';
import type { TrialSamples } from './election-trials.js';
import { parseBenchArgs } from './options.js';
import { checkTargets, reportLines, toJson, type BenchResults } from './report.js';
import type { RolloutResult, RolloutRun, RolloutVariant } from './rollout.js';
import { steadyTarget, type ShardPhase, type ShardsResult } from './shards.js';
import type { StormResult, StormRun } from './storm.js';
import { clientGoBudget, emptyTally, judge } from './storm-budget.js';

const trial = (mode: 'watch' | 'poll', samples: number[], requests: number[] = [], requestsByVerb: Record<string, number> = {}): TrialSamples => ({
  mode, samples, secondary: samples.map((s) => s - 1), fromAck: [], reactMs: [], answerMs: [], requests, requestsByVerb, failures: 0, failureReasons: [], log: new CountingLogger(),
});

const rolloutRun = (variant: RolloutVariant, mode: 'watch' | 'poll', changes: number, leaderlessMs: number): RolloutRun => ({
  variant, mode, changes, leaderlessMs, durationMs: 5000, leaders: [`rollout-${variant}-${mode}-1-old-1`, `rollout-${variant}-${mode}-1-new-1`],
});

const rollout: RolloutResult = {
  runs: [
    rolloutRun('release', 'watch', 3, 60), rolloutRun('release', 'poll', 2, 900),
    rolloutRun('newest', 'watch', 1, 12), rolloutRun('newest', 'poll', 4, 700),
  ],
  failureReasons: [],
  log: new CountingLogger(),
};

const shardPhase = (name: ShardPhase['name'], moves: number, minimumMoves: number, held: number[], balanceMs = 1200): ShardPhase => ({
  name, event: `${name} event`, live: held.length, balanceMs, moves, acquisitions: name === 'start' ? 64 : 0, minimumMoves, warnings: 0, errors: 0,
  held: Object.fromEntries(held.map((n, i) => [`shard-${i + 1}`, n])),
});

const shards: ShardsResult = {
  shards: 64,
  replicas: 5,
  timings: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 },
  membership: { durationMs: 6000, renewIntervalMs: 2000, retryPeriodMs: 500 },
  handoverIntervalMs: 500,
  settleMs: 1000,
  quietMs: 2500,
  phases: [
    shardPhase('start', 24, 0, [13, 13, 12, 13, 13]),
    shardPhase('join', 10, 10, [11, 11, 11, 11, 10, 10]),
    shardPhase('crash', 13, 11, [13, 13, 13, 13, 12], 7050),
    shardPhase('leave', 13, 13, [16, 16, 16, 16], 241),
  ],
  steady: {
    windowMs: 60_000, requests: 7545, perMinute: 7545, perMinuteByVerb: { update: 7545 }, moves: 0, openWatches: 5, warnings: 0, errors: 0,
    target: steadyTarget(64, 5, 500, 2000),
  },
  handoversByReplica: { 'shard-2': 2 },
  log: new CountingLogger(),
  logByMessage: {},
};

function stormRun(strategy: 'watch' | 'poll', gets: number): StormRun {
  const budget = clientGoBudget(10_000, 2000);
  const follower = (i: number) => {
    const byVerb = { ...emptyTally(), get: gets, update: gets, watch: strategy === 'watch' ? 1 : 0 };
    return { identity: `storm-500-${strategy}-${i}`, byVerb, ...judge(byVerb, budget) };
  };
  return { kind: '500', strategy, windowMs: 10_000, budget, followers: [1, 2, 3].map(follower), otherRequests: 0, unreportedRequests: 0, leaders: 0, log: new CountingLogger() };
}

const storm: StormResult = {
  durationMs: 10_000,
  timings: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 },
  followers: 3,
  runs: [stormRun('watch', 225), stormRun('poll', 4)],
};

function results(): BenchResults {
  const cost = (mode: 'watch' | 'poll', perMinute: number) => ({
    mode, perMinute, perMinuteByVerb: { update: 30 }, requests: perMinute, windowMs: 60_000, openWatches: 2, log: new CountingLogger(),
  });
  return {
    handover: { watch: trial('watch', [20, 30, 40], [3, 3, 4]), poll: trial('poll', [300, 500], [4, 6]) },
    directedHandover: { watch: trial('watch', [3, 4, 9], [2, 2, 3], { update: 6, watch: 1 }), poll: trial('poll', [200, 700], [3, 3]) },
    rollout,
    failover: { watch: trial('watch', [2005, 2010]), poll: trial('poll', [2600, 3100]) },
    cost: { watch: cost('watch', 30), poll: cost('poll', 67.5) },
    scale: {
      electors: 1000, staggerMs: 0, durationMs: 60_000, rssBytesPerElector: 52_000, liveHeapBytesPerElector: 20_000, cpuPercent: 12.5,
      eventLoopDelayP99Ms: 3.2, eventLoopDelayMaxMs: 9, eventLoopIntervalP99Ms: 13.2, serverCpuPercent: 20, leadingAtEnd: 1000,
      termsLost: 0, renewalsPerSecond: 500, baselineRssBytes: 80_000_000, log: new CountingLogger(),
    },
    storm,
    shards,
    options: parseBenchArgs([]),
    machine: { cpuModel: 'Test CPU', cpus: 2, memoryBytes: 2 ** 33, node: 'v20.0.0', os: 'linux', date: '2025-01-01T00:00:00.000Z', loadAverage: { atStart: 0.1, atEnd: 0.2 } },
    durationMs: 240_000,
  };
}

describe('the report', () => {
  it('keeps the four keys of the issue, in its shape', () => {
    const json = toJson(results());
    expect(json.handoverMs).toEqual({ watch: { p50: 30, p95: 40, n: 3 }, poll: { p50: 300, p95: 500, n: 2 } });
    expect(json.failoverMs).toEqual({ watch: { p50: 2005, p95: 2010, n: 2 }, poll: { p50: 2600, p95: 3100, n: 2 } });
    expect(json.requestsPerMinute).toEqual({ watch: 30, poll: 67.5 });
    expect(json.scale).toEqual({ electors: 1000, rssBytesPerElector: 52_000, cpuPercent: 12.5, eventLoopDelayP99Ms: 3.2 });
  });

  it('writes null for scenarios that did not run, so a missing figure cannot pass for a number', () => {
    const json = JSON.parse(JSON.stringify(toJson({ ...results(), scale: undefined, cost: undefined, storm: undefined }))) as Record<string, unknown>;
    expect(json.scale).toBeNull();
    expect(json.retryStorm).toBeNull();
    expect(json.requestsPerMinute).toBeNull();
  });

  it('checks every target and says which were missed', () => {
    const checks = checkTargets(results());
    expect(checks.map((c) => [c.target, c.met])).toEqual([
      ['graceful handover median < 100 ms (watch)', true],
      ['graceful handover median < 5 ms (watch; the limit, about three loopback round trips)', false],
      ['crash failover <= lease 2000 ms + 200 ms after the last renew, every trial (watch)', true],
      ['crash failover <= lease 2000 ms + 200 ms after the last renew, every trial (poll)', false],
      ['requests/minute with 3 replicas: watch <= half of poll', true],
      ['scale: event-loop delay p99 < 20 ms', true],
      ['scale: CPU < half a core', true],
      ['scale: memory < 100 KB per elector', true],
      ["retry storm, 500 InternalError, watch: every follower within client-go's budget", false],
      ["retry storm, 500 InternalError, poll: every follower within client-go's budget", true],
      ["rollout with handoverOnShutdown 'newest' (SIGTERM alone): at most one leadership change per old replica (<= 3), ideally 1 (watch)", true],
      ["rollout with handoverOnShutdown 'newest' (SIGTERM alone): at most one leadership change per old replica (<= 3), ideally 1 (poll)", false],
      ['sharding: every phase ends balanced (floor or ceil of N/M shards on every live replica)', true],
      ["sharding, join: shards moved <= the minimum (the joiner's floor share)", true],
      ["sharding, crash: shards moved <= the minimum (the crashed replica's shards)", false],
      ["sharding, leave: shards moved <= the minimum (the leaving replica's shards)", true],
      ['sharding: steady-state requests/minute <= renewals (N / retry period) + membership refreshes + one watch per replica', true],
    ]);
    expect(reportLines(results()).join('\n')).toContain('MISSED');
  });

  it('reports each retry-storm follower against the budget, in the JSON and the table', () => {
    const json = toJson(results()).retryStorm!;
    expect(json.runs.map((r) => [r.strategy, r.budget, r.withinBudget])).toEqual([
      ['watch', { gets: 6, writes: 6, total: 12 }, false],
      ['poll', { gets: 6, writes: 6, total: 12 }, true],
    ]);
    expect(json.runs[0]!.followers[0]).toEqual({
      identity: 'storm-500-watch-1', gets: 225, writes: 225, watches: 1, total: 451, byVerb: { get: 225, update: 225, watch: 1 },
      overBudget: true, reasons: ['GETs 225 > 6', 'writes 225 > 6', 'total 451 > 12'],
    });
    const table = reportLines(results()).filter((line) => line.startsWith('500 InternalError'));
    expect(table).toHaveLength(6);
    expect(table.filter((line) => line.includes('OVER BUDGET'))).toHaveLength(3);
    expect(table.filter((line) => / poll +#\d .* within$/.test(line))).toHaveLength(3);
  });

  it('reports the directed handover next to the graceful one, with the requests per handover', () => {
    const json = toJson(results());
    expect(json.handoverMs).toEqual({ watch: { p50: 30, p95: 40, n: 3 }, poll: { p50: 300, p95: 500, n: 2 } });
    expect(json.directedHandoverMs).toEqual({ watch: { p50: 4, p95: 9, n: 3 }, poll: { p50: 200, p95: 700, n: 2 } });
    const directed = (json.details.directedHandover as Record<string, Record<string, unknown>>).watch!;
    expect(directed.requestsPerHandover).toEqual({ p50: 2, p95: 3, n: 3, max: 3 });
    expect(directed.requestsPerHandoverByVerb).toEqual({ update: 2, watch: 0.33 });
    const lines = reportLines(results());
    expect(lines.find((l) => l.startsWith('graceful handover'))).toMatch(/30\.0 \/ 40\.0 \/ 40\.0 \(n 3\) +300\.0 \/ 500\.0 \/ 500\.0 \(n 2\)/);
    expect(lines.find((l) => l.startsWith('directed handover'))).toMatch(/4\.0 \/ 9\.0 \/ 9\.0 \(n 3\) +200\.0 \/ 700\.0 \/ 700\.0 \(n 2\)/);
    expect(lines.filter((l) => l.includes('Lease requests per handover')).map((l) => l.replace(/ +/g, ' '))).toEqual([
      ' Lease requests per handover: p50 / max (mean by verb) 3 / 4 4 / 6',
      ' Lease requests per handover: p50 / max (mean by verb) 2 / 3 (update 2.0, watch 0.3) 3 / 3',
    ]);
    expect(toJson({ ...results(), directedHandover: undefined }).directedHandoverMs).toBeNull();
  });

  it('breaks each handover down: signal to the release committed, to the new leader\'s write committed, to its onStartedLeading', () => {
    const broken = (mode: 'watch' | 'poll', samples: number[]): TrialSamples => ({
      ...trial(mode, samples),
      secondary: samples.map(() => 2),
      reactMs: samples.map((s) => s - 3),
      answerMs: samples.map(() => 1),
    });
    const r = { ...results(), handover: { watch: broken('watch', [6, 7, 9]), poll: broken('poll', [300, 500]) } };
    const watch = (toJson(r).details.handover as Record<string, Record<string, unknown>>).watch!;
    expect(watch).toMatchObject({ releaseCommittedMs: { p50: 2, n: 3 }, toTakeoverCommittedMs: { p50: 4, p95: 6, n: 3 }, toStartedLeadingMs: { p50: 1, n: 3 } });
    const lines = reportLines(r).map((l) => l.replace(/ +/g, ' '));
    expect(lines).toContain(" release committed -> new leader's write committed, ms: p50 / p95 / max 4.0 / 6.0 / 6.0 (n 3) 297.0 / 497.0 / 497.0 (n 2)");
    expect(lines.filter((l) => l.includes('that write committed -> its onStartedLeading'))).toHaveLength(2); // graceful and directed
    // Failover has no release to break down from.
    expect((toJson(r).details.failover as Record<string, Record<string, unknown>>).watch).not.toHaveProperty('toTakeoverCommittedMs');
  });

  it('reports each rollout variant and mode: changes per rollout and leaderless time', () => {
    const json = toJson(results()).rollout!;
    expect(json.rows.map((r) => [r.variant, r.mode, r.changes, r.leaderlessP50Ms])).toEqual([
      ['release', 'watch', [3], 60],
      ['release', 'poll', [2], 900],
      ['newest', 'watch', [1], 12],
      ['newest', 'poll', [4], 700],
    ]);
    const rows = reportLines(results()).filter((l) => l.startsWith('(a)') || l.startsWith('(b)'));
    expect(rows).toHaveLength(4);
    expect(rows[2]).toMatch(/^\(b\) SIGTERM, handoverOnShutdown: 'newest' +watch +1 +12\.0 \/ 12\.0 \(n 1\) +old-1 > new-1$/);
    expect(toJson({ ...results(), rollout: undefined }).rollout).toBeNull();
  });

  it('counts a failed rollout with handover on shutdown against its target', () => {
    const failed: RolloutResult = { ...rollout, runs: rollout.runs.filter((r) => r.mode === 'poll'), failureReasons: ['newest watch #1: timed out'] };
    const check = checkTargets({ ...results(), rollout: failed }).find((c) => c.target.startsWith('rollout') && c.target.endsWith('(watch)'))!;
    expect(check).toMatchObject({ measured: 'no rollout', met: false });
  });

  it('reports each sharding phase: time to balance, shards moved against the minimum, and the steady state against its target', () => {
    const json = toJson(results()).sharding!;
    expect(json.phases.map((p) => [p.name, p.balanceMs, p.moves, p.minimumMoves])).toEqual([
      ['start', 1200, 24, 0],
      ['join', 1200, 10, 10],
      ['crash', 7050, 13, 11],
      ['leave', 241, 13, 13],
    ]);
    // 64 shards renewed every 500 ms, 5 memberships refreshed every 2 s, one watch per replica.
    expect(json.steady!.targetPerMinute).toEqual({ renewals: 7680, memberships: 150, watches: 5, total: 7835 });
    const lines = reportLines(results());
    expect(lines.find((l) => l.startsWith('crash  '))).toMatch(/^crash +crash event +5 +7050 +13 \(11\) +13 13 13 13 12 +0 \/ 0$/);
    expect(lines.find((l) => l.startsWith('steady state'))).toContain('7545.0 API requests / minute (update 7545.0); target <= 7835');
    expect(toJson({ ...results(), shards: undefined }).sharding).toBeNull();
  });

  it('counts a phase that never balanced, and a missing steady state, as missed', () => {
    const failed: ShardsResult = { ...shards, phases: [{ ...shards.phases[0]!, balanceMs: NaN, failure: 'not balanced within 62 s' }], steady: undefined };
    const checks = checkTargets({ ...results(), shards: failed }).filter((c) => c.target.startsWith('sharding'));
    expect(checks.map((c) => [c.measured, c.met])).toEqual([
      ['start: not balanced within 62 s', false],
      ['not measured (the start never balanced)', false],
    ]);
    const json = JSON.parse(JSON.stringify(toJson({ ...results(), shards: failed }))) as { sharding: { phases: { balanceMs: unknown }[]; steady: unknown } };
    expect(json.sharding.phases[0]!.balanceMs).toBeNull();
    expect(json.sharding.steady).toBeNull();
  });
});
