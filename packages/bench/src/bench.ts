#!/usr/bin/env node
/**
 * `pnpm bench`: runs the scenarios one after another (so none disturbs another's timing), prints
 * progress and the report, and writes the JSON with `--json FILE`. Everything binds 127.0.0.1.
 * Exit code 0 whenever every figure was produced, also when a target is missed: targets are
 * findings to report, and the run's job is to measure.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { startLeaseApiServer } from '@leasekit/lease-apiserver';
import { runFailoverTrials, runHandoverTrials, type TrialSamples } from './election-trials.js';
import { machineInfo, recordEndLoad } from './machine.js';
import { USAGE, UsageError, parseBenchArgs, type BenchOptions } from './options.js';
import { reportLines, toJson, type BenchResults } from './report.js';
import { runRequestCost } from './request-cost.js';
import { runRollouts } from './rollout.js';
import { runScale } from './scale.js';
import { runShards, shardSettings } from './shards.js';
import { STORM_KIND_LABELS, runStorm } from './storm.js';

function progress(line: string): void {
  console.log(`  ${line}`);
}

/** Runs one kind of takeover trial in both modes, on one embedded server in this process. */
async function takeovers(
  kind: 'handover' | 'directed handover' | 'failover',
  options: BenchOptions,
): Promise<{ watch: TrialSamples; poll: TrialSamples }> {
  const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
  const run = kind === 'failover' ? runFailoverTrials : runHandoverTrials;
  const trials = kind === 'failover' ? options.failoverTrials : options.handoverTrials;
  try {
    const results: Partial<Record<'watch' | 'poll', TrialSamples>> = {};
    for (const mode of ['watch', 'poll'] as const) {
      const samples: string[] = [];
      results[mode] = await run({
        server,
        mode,
        trials,
        timings: options.trialTimings,
        replicas: options.replicas,
        directed: kind === 'directed handover',
        onTrial: (_i, ms) => samples.push(ms === undefined ? 'failed' : ms.toFixed(0)),
      });
      progress(`${kind} ${mode}: ${samples.join(' ')} ms`);
    }
    return { watch: results.watch!, poll: results.poll! };
  } finally {
    await server.close();
  }
}

async function main(): Promise<number> {
  let options: BenchOptions;
  try {
    options = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`bench: ${err.message}`);
    console.error('Run with --help for usage.');
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const machine = machineInfo();
  const startedAt = performance.now();
  const wants = (name: BenchOptions['only'][number]): boolean => options.only.includes(name);
  console.log(`leasekit bench: ${options.only.join(', ')}${options.smoke ? ' (smoke)' : ''}`);

  let handover: BenchResults['handover'];
  let directedHandover: BenchResults['directedHandover'];
  let rollout: BenchResults['rollout'];
  let failover: BenchResults['failover'];
  let cost: BenchResults['cost'];
  let scale: BenchResults['scale'];
  let storm: BenchResults['storm'];
  let shards: BenchResults['shards'];
  if (wants('handover')) {
    console.log(`graceful handover: ${options.handoverTrials} trials per mode`);
    handover = await takeovers('handover', options);
    console.log(`directed handover (resign({ to }) naming a follower): ${options.handoverTrials} trials per mode`);
    directedHandover = await takeovers('directed handover', options);
  }
  if (wants('failover')) {
    console.log(`crash failover: ${options.failoverTrials} trials per mode`);
    failover = await takeovers('failover', options);
  }
  if (wants('cost')) {
    console.log(`request cost: 3 replicas per mode for ${options.costDurationMs / 1000} s, both modes side by side`);
    cost = await runRequestCost(options.costDurationMs, options.costTimings, options.replicas);
  }
  if (wants('scale')) {
    console.log(
      `scale: ${options.scaleElectors} electors for ${options.scaleDurationMs / 1000} s, the server in another process` +
        (options.scaleStaggerMs > 0 ? `, starts spread over ${options.scaleStaggerMs} ms` : ', all started at once'),
    );
    scale = await runScale(options.scaleElectors, options.scaleDurationMs, options.scaleTimings, options.scaleStaggerMs, progress);
  }
  if (wants('storm')) {
    const t = options.stormTimings;
    console.log(
      `retry storm: 3 followers, every write failing (${options.stormKinds.join(', ')}), ${options.stormDurationMs / 1000} s per kind and strategy, ` +
        `lease ${t.leaseDurationMs} / renew deadline ${t.renewDeadlineMs} / retry ${t.retryPeriodMs} ms`,
    );
    storm = await runStorm({
      kinds: options.stormKinds,
      durationMs: options.stormDurationMs,
      timings: t,
      followers: options.replicas,
      onRun: (run) =>
        progress(`storm ${STORM_KIND_LABELS[run.kind]}, ${run.strategy}: GETs/writes/watches ${run.followers.map((f) => `${f.gets}/${f.writes}/${f.watches}`).join('  ')} (budget ${run.budget.tries}/${run.budget.tries}/-)`),
    });
  }

  if (wants('rollout')) {
    console.log(`rollout: 3 replicas replaced one by one, stopped as SIGTERM stops them, old leaders releasing vs handoverOnShutdown 'newest', ${options.rolloutRuns} per variant and mode`);
    const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
    try {
      rollout = await runRollouts({
        server,
        runs: options.rolloutRuns,
        timings: options.trialTimings,
        onRun: (run) => progress(`rollout ${run.variant} ${run.mode}: ${run.changes} leadership change(s), leaderless ${run.leaderlessMs.toFixed(0)} ms`),
      });
    } finally {
      await server.close();
    }
  }

  if (wants('shards')) {
    const t = options.shardTimings;
    console.log(
      `sharding: ${options.shards} shard Leases, ${options.shardReplicas} replica processes (a ShardedElector each), then a join, a crash and a leave; ` +
        `lease ${t.leaseDurationMs} / renew deadline ${t.renewDeadlineMs} / retry ${t.retryPeriodMs} ms; steady state counted for ${options.shardSteadyMs / 1000} s`,
    );
    shards = await runShards({
      shards: options.shards,
      replicas: options.shardReplicas,
      timings: t,
      ...shardSettings(t),
      steadyMs: options.shardSteadyMs,
      onPhase: (p) =>
        progress(`shards ${p.name} (${p.event}): ${p.failure ?? `balanced after ${p.balanceMs.toFixed(0)} ms`}, ${p.moves} moved (minimum ${p.minimumMoves}), held ${Object.values(p.held).join(' ')}`),
    });
  }

  recordEndLoad(machine);
  const results: BenchResults = { handover, directedHandover, rollout, failover, cost, scale, storm, shards, options, machine, durationMs: performance.now() - startedAt };
  console.log('');
  for (const line of reportLines(results)) console.log(line);
  if (options.jsonPath !== undefined) {
    await mkdir(dirname(options.jsonPath), { recursive: true });
    await writeFile(options.jsonPath, `${JSON.stringify(toJson(results), null, 2)}\n`);
    console.log(`JSON written to ${options.jsonPath}`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  },
);
