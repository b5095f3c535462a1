/**
 * The report: the JSON document (the four keys the issue fixes, the retry storm, plus details,
 * targets, machine and configuration alongside) and the printed table. The targets are checked and reported,
 * never enforced: a missed target is a finding, not a failed run.
 */
import type { CostResult } from './request-cost.js';
import type { TrialSamples } from './election-trials.js';
import type { MachineInfo } from './machine.js';
import type { BenchOptions } from './options.js';
import type { RolloutResult } from './rollout.js';
import { rolloutJson, rolloutLines, rolloutTargets, type RolloutJson } from './rollout-report.js';
import type { ScaleResult } from './scale.js';
import type { ShardsResult } from './shards.js';
import { shardsJson, shardsLines, shardsTargets, type ShardsJson } from './shards-report.js';
import { round, summarize, type LatencySummary } from './stats.js';
import type { StormResult } from './storm.js';
import { stormJson, stormLines, stormTargets, type StormJson } from './storm-report.js';
import { formatTable } from './table.js';

export { formatTable } from './table.js';

/** Everything one run measured; a scenario left out with `--only` is undefined. */
export interface BenchResults {
  readonly handover: { readonly watch: TrialSamples; readonly poll: TrialSamples } | undefined;
  /** Directed handover (`resign({ to })`), run with the graceful one (`--only handover`). */
  readonly directedHandover: { readonly watch: TrialSamples; readonly poll: TrialSamples } | undefined;
  readonly failover: { readonly watch: TrialSamples; readonly poll: TrialSamples } | undefined;
  readonly cost: { readonly watch: CostResult; readonly poll: CostResult } | undefined;
  readonly scale: ScaleResult | undefined;
  readonly storm: StormResult | undefined;
  readonly rollout: RolloutResult | undefined;
  /** Sharded leadership (issue 13): replica processes, a join, a crash and a leave. */
  readonly shards: ShardsResult | undefined;
  readonly options: BenchOptions;
  readonly machine: MachineInfo;
  readonly durationMs: number;
}

/** `{ p50, p95, n }`, as the JSON report fixes it. */
export interface Quantiles {
  readonly p50: number;
  readonly p95: number;
  readonly n: number;
}

/** One target, checked. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** undefined when the scenario did not run. */
  readonly met: boolean | undefined;
}

/** The JSON document `--json FILE` writes. NaN (nothing measured) serialises as null. */
export interface BenchJson {
  readonly handoverMs: { readonly watch: Quantiles; readonly poll: Quantiles } | null;
  /** resign({ to }) call -> the named follower's onStartedLeading. */
  readonly directedHandoverMs: { readonly watch: Quantiles; readonly poll: Quantiles } | null;
  readonly failoverMs: { readonly watch: Quantiles; readonly poll: Quantiles } | null;
  readonly requestsPerMinute: { readonly watch: number; readonly poll: number } | null;
  readonly scale: { readonly electors: number; readonly rssBytesPerElector: number; readonly cpuPercent: number; readonly eventLoopDelayP99Ms: number } | null;
  /** Per failure kind, strategy and follower: requests counted by the server, against client-go's budget. */
  readonly retryStorm: StormJson | null;
  /** Per variant and follower mode: leadership changes and leaderless time per rollout. */
  readonly rollout: RolloutJson | null;
  /** Per phase (start, join, crash, leave): time to balance and shards moved; steady-state requests per minute. */
  readonly sharding: ShardsJson | null;
  readonly details: Record<string, unknown>;
  readonly targets: readonly TargetCheck[];
  readonly machine: MachineInfo;
  readonly config: Record<string, unknown>;
}

/** Per-elector memory target, in bytes (100 KB, read as 100 000 bytes: the stricter reading). */
export const RSS_TARGET_BYTES = 100_000;

function quantiles(s: LatencySummary): Quantiles {
  return { p50: round(s.p50), p95: round(s.p95), n: s.n };
}

function extremes(s: LatencySummary): { min: number; max: number; mean: number } {
  return { min: round(s.min), max: round(s.max), mean: round(s.mean) };
}

function trialDetails(t: TrialSamples, secondaryName: string): Record<string, unknown> {
  return {
    ...extremes(summarize(t.samples)),
    [secondaryName]: quantiles(summarize(t.secondary)),
    ...(t.fromAck.length > 0 ? { fromLeaderAckMs: quantiles(summarize(t.fromAck)) } : {}),
    ...(t.reactMs.length > 0 ? { toTakeoverCommittedMs: quantiles(summarize(t.reactMs)), toStartedLeadingMs: quantiles(summarize(t.answerMs)) } : {}),
    ...(t.requests.length > 0
      ? {
          requestsPerHandover: { ...quantiles(summarize(t.requests)), max: summarize(t.requests).max },
          requestsPerHandoverByVerb: Object.fromEntries(Object.entries(t.requestsByVerb).map(([verb, n]) => [verb, round(n / t.requests.length, 2)])),
        }
      : {}),
    failedTrials: t.failures,
    ...(t.failureReasons.length > 0 ? { failureReasons: t.failureReasons } : {}),
    electorWarnings: t.log.warnings,
    electorErrors: t.log.errors,
    ...(t.log.samples.length > 0 ? { warningSamples: t.log.samples } : {}),
  };
}

/** The targets from the issues, checked against what was measured. */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const lease = r.options.trialTimings.leaseDurationMs;
  if (r.handover) {
    const median = summarize(r.handover.watch.samples).p50;
    checks.push({ target: 'graceful handover median < 100 ms (watch)', measured: `${round(median)} ms`, met: median < 100 });
    checks.push({ target: 'graceful handover median < 5 ms (watch; the limit, about three loopback round trips)', measured: `${round(median)} ms`, met: median < 5 });
  }
  if (r.failover) {
    for (const mode of ['watch', 'poll'] as const) {
      const s = summarize(r.failover[mode].samples);
      const ok = s.n > 0 && r.failover[mode].failures === 0 && s.max <= lease + 200;
      checks.push({ target: `crash failover <= lease ${lease} ms + 200 ms after the last renew, every trial (${mode})`, measured: `max ${round(s.max)} ms`, met: ok });
    }
  }
  if (r.cost) {
    const { watch, poll } = r.cost;
    checks.push({
      target: 'requests/minute with 3 replicas: watch <= half of poll',
      measured: `${round(watch.perMinute)} vs ${round(poll.perMinute)} (${round((watch.perMinute / poll.perMinute) * 100)} %)`,
      met: watch.perMinute <= poll.perMinute / 2,
    });
  }
  if (r.scale) {
    const s = r.scale;
    checks.push({ target: 'scale: event-loop delay p99 < 20 ms', measured: `${round(s.eventLoopDelayP99Ms)} ms`, met: s.eventLoopDelayP99Ms < 20 });
    checks.push({ target: 'scale: CPU < half a core', measured: `${round(s.cpuPercent)} % of one core`, met: s.cpuPercent < 50 });
    checks.push({
      target: 'scale: memory < 100 KB per elector',
      measured: `${round(s.rssBytesPerElector / 1000)} KB RSS`,
      met: s.rssBytesPerElector < RSS_TARGET_BYTES,
    });
  }
  if (r.storm) checks.push(...stormTargets(r.storm));
  if (r.rollout) checks.push(...rolloutTargets(r.rollout));
  if (r.shards) checks.push(...shardsTargets(r.shards));
  return checks;
}

/** Builds the JSON document. */
export function toJson(r: BenchResults): BenchJson {
  const o = r.options;
  const details: Record<string, unknown> = {};
  if (r.handover) details.handover = { watch: trialDetails(r.handover.watch, 'releaseCommittedMs'), poll: trialDetails(r.handover.poll, 'releaseCommittedMs') };
  if (r.directedHandover) details.directedHandover = { watch: trialDetails(r.directedHandover.watch, 'handoverCommittedMs'), poll: trialDetails(r.directedHandover.poll, 'handoverCommittedMs') };
  if (r.failover) details.failover = { watch: trialDetails(r.failover.watch, 'fromKillMs'), poll: trialDetails(r.failover.poll, 'fromKillMs') };
  if (r.cost) {
    const cost = (c: CostResult): Record<string, unknown> => ({
      perMinuteByVerb: Object.fromEntries(Object.entries(c.perMinuteByVerb).map(([verb, n]) => [verb, round(n)])),
      requests: c.requests,
      windowMs: round(c.windowMs, 0),
      openWatchesAtEnd: c.openWatches,
      electorWarnings: c.log.warnings,
      electorErrors: c.log.errors,
    });
    details.requestCost = { watch: cost(r.cost.watch), poll: cost(r.cost.poll) };
  }
  if (r.scale) {
    const s = r.scale;
    details.scale = {
      windowMs: round(s.durationMs, 0),
      startsSpreadOverMs: s.staggerMs,
      liveHeapBytesPerElectorAfterGc: round(s.liveHeapBytesPerElector, 0),
      baselineRssBytes: s.baselineRssBytes,
      eventLoopDelayMaxMs: round(s.eventLoopDelayMaxMs),
      eventLoopIntervalP99MsRaw: round(s.eventLoopIntervalP99Ms, 2),
      eventLoopDelayResolutionMs: 10,
      serverProcessCpuPercent: s.serverCpuPercent === undefined ? null : round(s.serverCpuPercent),
      renewalsPerSecond: round(s.renewalsPerSecond),
      leadingAtEnd: s.leadingAtEnd,
      termsLostDuringWindow: s.termsLost,
      electorWarnings: s.log.warnings,
      electorErrors: s.log.errors,
      ...(s.log.samples.length > 0 ? { warningSamples: s.log.samples } : {}),
    };
  }
  details.totalRunMs = round(r.durationMs, 0);
  return {
    handoverMs: r.handover ? { watch: quantiles(summarize(r.handover.watch.samples)), poll: quantiles(summarize(r.handover.poll.samples)) } : null,
    directedHandoverMs: r.directedHandover ? { watch: quantiles(summarize(r.directedHandover.watch.samples)), poll: quantiles(summarize(r.directedHandover.poll.samples)) } : null,
    failoverMs: r.failover ? { watch: quantiles(summarize(r.failover.watch.samples)), poll: quantiles(summarize(r.failover.poll.samples)) } : null,
    requestsPerMinute: r.cost ? { watch: round(r.cost.watch.perMinute), poll: round(r.cost.poll.perMinute) } : null,
    scale: r.scale
      ? {
          electors: r.scale.electors,
          rssBytesPerElector: round(r.scale.rssBytesPerElector, 0),
          cpuPercent: round(r.scale.cpuPercent),
          eventLoopDelayP99Ms: round(r.scale.eventLoopDelayP99Ms, 2),
        }
      : null,
    retryStorm: r.storm ? stormJson(r.storm) : null,
    rollout: r.rollout ? rolloutJson(r.rollout) : null,
    sharding: r.shards ? shardsJson(r.shards) : null,
    details,
    targets: checkTargets(r),
    machine: r.machine,
    config: {
      smoke: o.smoke,
      scenarios: o.only,
      replicas: o.replicas,
      handoverTrialsPerMode: o.handoverTrials,
      failoverTrialsPerMode: o.failoverTrials,
      trialTimings: o.trialTimings,
      costDurationMs: o.costDurationMs,
      costTimings: o.costTimings,
      scaleElectors: o.scaleElectors,
      scaleDurationMs: o.scaleDurationMs,
      scaleTimings: o.scaleTimings,
      stormDurationMs: o.stormDurationMs,
      stormTimings: o.stormTimings,
      stormKinds: o.stormKinds,
      rolloutRunsPerVariantAndMode: o.rolloutRuns,
      shards: o.shards,
      shardReplicas: o.shardReplicas,
      shardSteadyMs: o.shardSteadyMs,
      shardTimings: o.shardTimings,
      percentiles: 'nearest rank',
    },
  };
}


function ms(value: number): string {
  return Number.isFinite(value) ? value.toFixed(1) : 'n/a';
}

function pn(samples: readonly number[], failures: number): string {
  const s = summarize(samples);
  return `${ms(s.p50)} / ${ms(s.p95)} / ${ms(s.max)} (n ${s.n}${failures > 0 ? `, ${failures} failed` : ''})`;
}

/** Requests per handover: p50 / max, and the mean per verb. */
function requests(t: TrialSamples): string {
  const s = summarize(t.requests);
  if (s.n === 0) return 'n/a';
  const byVerb = Object.entries(t.requestsByVerb).map(([verb, n]) => `${verb} ${(n / s.n).toFixed(1)}`);
  return `${s.p50} / ${s.max}${byVerb.length > 0 ? ` (${byVerb.join(', ')})` : ''}`;
}

function verbs(c: CostResult): string {
  return Object.entries(c.perMinuteByVerb).map(([verb, n]) => `${verb} ${n.toFixed(1)}`).join(', ') || 'none';
}

/** The printed report. */
export function reportLines(r: BenchResults): string[] {
  const m = r.machine;
  const o = r.options;
  const t = o.trialTimings;
  const lines: string[] = [
    `leasekit bench${o.smoke ? ' (SMOKE: few trials, short durations; do not read the figures)' : ''}`,
    `machine: ${m.cpus} x ${m.cpuModel}, ${(m.memoryBytes / 2 ** 30).toFixed(1)} GiB, Node ${m.node}, ${m.os}; ${m.date}`,
    `load average (1 min) at start ${m.loadAverage.atStart.toFixed(2)}, at end ${m.loadAverage.atEnd?.toFixed(2) ?? 'n/a'} (the bench itself adds about 1; more means something else shared the ${m.cpus} CPUs)`,
    '',
  ];
  const rows: string[][] = [];
  if (r.handover) {
    rows.push(['graceful handover, ms: p50 / p95 / max', pn(r.handover.watch.samples, r.handover.watch.failures), pn(r.handover.poll.samples, r.handover.poll.failures)]);
    rows.push(['  signal -> release committed, ms: p50 / p95 / max', pn(r.handover.watch.secondary, 0), pn(r.handover.poll.secondary, 0)]);
    rows.push(['  release committed -> new leader\'s write committed, ms: p50 / p95 / max', pn(r.handover.watch.reactMs, 0), pn(r.handover.poll.reactMs, 0)]);
    rows.push(['  that write committed -> its onStartedLeading, ms: p50 / p95 / max', pn(r.handover.watch.answerMs, 0), pn(r.handover.poll.answerMs, 0)]);
    rows.push(['  Lease requests per handover: p50 / max (mean by verb)', requests(r.handover.watch), requests(r.handover.poll)]);
  }
  if (r.directedHandover) {
    const d = r.directedHandover;
    rows.push(['directed handover resign({ to }) -> target leads, ms: p50 / p95 / max', pn(d.watch.samples, d.watch.failures), pn(d.poll.samples, d.poll.failures)]);
    rows.push(['  resign call -> handover write committed, ms: p50 / p95 / max', pn(d.watch.secondary, 0), pn(d.poll.secondary, 0)]);
    rows.push(['  handover write committed -> target\'s write committed, ms: p50 / p95 / max', pn(d.watch.reactMs, 0), pn(d.poll.reactMs, 0)]);
    rows.push(['  that write committed -> its onStartedLeading, ms: p50 / p95 / max', pn(d.watch.answerMs, 0), pn(d.poll.answerMs, 0)]);
    rows.push(['  Lease requests per handover: p50 / max (mean by verb)', requests(d.watch), requests(d.poll)]);
  }
  if (r.failover) {
    rows.push(['crash failover from last renew, ms: p50 / p95 / max', pn(r.failover.watch.samples, r.failover.watch.failures), pn(r.failover.poll.samples, r.failover.poll.failures)]);
    rows.push(['  from the kill, ms: p50 / p95 / max', pn(r.failover.watch.secondary, 0), pn(r.failover.poll.secondary, 0)]);
  }
  if (r.cost) {
    rows.push([`API requests / minute, 3 replicas, ${(o.costDurationMs / 1000).toFixed(0)} s`, r.cost.watch.perMinute.toFixed(1), r.cost.poll.perMinute.toFixed(1)]);
    rows.push(['  by verb', verbs(r.cost.watch), verbs(r.cost.poll)]);
  }
  if (rows.length > 0) {
    lines.push(`takeovers: ${o.replicas} in-process electors per trial, one fresh Lease each, lease ${t.leaseDurationMs} / renew deadline ${t.renewDeadlineMs} / retry ${t.retryPeriodMs} ms`);
    if (r.cost) lines.push(`request cost: lease ${o.costTimings.leaseDurationMs} / renew deadline ${o.costTimings.renewDeadlineMs} / retry ${o.costTimings.retryPeriodMs} ms, counted by the server`);
    lines.push('', ...formatTable(['scenario', 'watch followers', 'poll followers'], rows), '');
  }
  if (r.scale) {
    const s = r.scale;
    lines.push(
      `scale: ${s.electors} electors on ${s.electors} Leases in this process for ${(s.durationMs / 1000).toFixed(0)} s, the server in another process (lease ${o.scaleTimings.leaseDurationMs} / ${o.scaleTimings.renewDeadlineMs} / ${o.scaleTimings.retryPeriodMs} ms; ${s.staggerMs > 0 ? `starts spread over ${s.staggerMs} ms` : 'all started at once'})`,
      '',
      ...formatTable(
        ['figure', 'measured'],
        [
          ['RSS per elector', `${(s.rssBytesPerElector / 1000).toFixed(1)} KB`],
          ['live JS heap per elector (after GC)', `${(s.liveHeapBytesPerElector / 1000).toFixed(1)} KB`],
          ['CPU (this process)', `${s.cpuPercent.toFixed(1)} % of one core`],
          ['CPU (server process)', s.serverCpuPercent === undefined ? 'n/a' : `${s.serverCpuPercent.toFixed(1)} % of one core`],
          ['event-loop delay p99 / max', `${s.eventLoopDelayP99Ms.toFixed(2)} / ${s.eventLoopDelayMaxMs.toFixed(2)} ms (histogram p99 ${s.eventLoopIntervalP99Ms.toFixed(2)} ms, less its 10 ms resolution)`],
          ['renewals per second', s.renewalsPerSecond.toFixed(1)],
          ['leading at the end / terms lost', `${s.leadingAtEnd} / ${s.termsLost}`],
        ],
      ),
      '',
    );
  }
  if (r.storm) lines.push(...stormLines(r.storm));
  if (r.rollout) lines.push(...rolloutLines(r.rollout, o.rolloutRuns));
  if (r.shards) lines.push(...shardsLines(r.shards));
  const targets = checkTargets(r);
  if (targets.length > 0) {
    lines.push(...formatTable(['target', 'measured', 'result'], targets.map((c) => [c.target, c.measured, c.met === undefined ? 'n/a' : c.met ? 'met' : 'MISSED'])), '');
  }
  lines.push(`total run time ${(r.durationMs / 1000).toFixed(1)} s`);
  return lines;
}
