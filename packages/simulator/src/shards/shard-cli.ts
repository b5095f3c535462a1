/** `pnpm sim --shards N`: one sharded seed (with its violations' traces, or every event with --trace), or a sweep over worker threads. */
import { writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { runShardSimulation } from './shard-simulation.js';
import { emptyShardSummary, formatShardSummary, formatShardViolation, mergeShardSummaries, shardSummaryJson, totalShardViolations, type ShardSweepSummary } from './shard-sweep.js';
import type { ShardVariantName } from './shard-variants.js';
import type { ShardWorkerTask } from './shard-worker.js';

export interface ShardCliArgs {
  readonly shards: number;
  readonly variant: ShardVariantName;
  readonly seed: number | undefined;
  readonly seeds: number;
  readonly firstSeed: number;
  readonly minutes: number;
  readonly workers: number;
  readonly json: string | undefined;
  readonly trace: boolean;
}

/** Runs what the arguments ask; returns the exit status (0: no violation). */
export async function runShardCli(args: ShardCliArgs): Promise<number> {
  return args.seed !== undefined ? runOne(args, args.seed) : runParallel(args);
}

async function runOne(args: ShardCliArgs, seed: number): Promise<number> {
  const started = performance.now();
  const r = await runShardSimulation({ seed, shards: args.shards, minutes: args.minutes, variant: args.variant, ...(args.trace ? { onTrace: (line: string) => console.log(line), verbose: true } : {}) });
  const t = r.timing;
  console.log(
    `seed ${seed} (${r.variant}): ${r.shards} shards, ${r.replicas} replicas, L=${t.leaseDurationMs} RD=${t.renewDeadlineMs} R=${t.retryPeriodMs} membership ${t.membershipDurationMs}/${t.membershipRenewIntervalMs} handover interval ${t.handoverIntervalMs}, ` +
      `${(r.virtualMs / 60_000).toFixed(1)} virtual minutes, ${r.terms} shard terms, digest ${r.digest}, ${((performance.now() - started) / 1000).toFixed(1)} s real`,
  );
  console.log(`faults: ${Object.entries(r.faults).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  console.log(`balance: ${r.balanceJudged} windows judged, longest ${(r.longestBalanceMs / 1000).toFixed(1)} s (T ${(r.balanceBoundMs / 1000).toFixed(1)} s); back-offs: ${r.backoffs}, longest ${(r.longestBackoffMs / 1000).toFixed(1)} s (bound ${(r.backoffBoundMs / 1000).toFixed(1)} s); unowned: ${r.orphansJudged} orphans judged, longest ${(r.longestUnownedMs / 1000).toFixed(1)} s (U ${(r.unownedBoundMs / 1000).toFixed(1)} s); busiest budget window ${r.budgetPeakPercent} %`);
  for (const v of r.violations) console.log(formatShardViolation(seed, v, r.shards));
  console.log(r.violations.length === 0 ? 'no violations' : `${r.violations.length} violation(s)`);
  return r.violations.length === 0 ? 0 : 1;
}

async function runParallel(args: ShardCliArgs): Promise<number> {
  const started = performance.now();
  const workers = Math.max(1, Math.min(args.workers, args.seeds));
  const buckets: number[][] = Array.from({ length: workers }, () => []);
  for (let i = 0; i < args.seeds; i++) buckets[i % workers]!.push(args.firstSeed + i);
  let done = 0;
  const summaries = await Promise.all(
    buckets.map(
      (seeds) =>
        new Promise<ShardSweepSummary>((resolve, reject) => {
          const task: ShardWorkerTask = { seeds, shards: args.shards, minutes: args.minutes, variant: args.variant };
          const worker = new Worker(new URL('./shard-worker.js', import.meta.url), { workerData: task });
          worker.on('message', (m: { type: string; summary?: ShardSweepSummary; message?: string; seed?: number; violations?: number; lines?: string[] }) => {
            if (m.type === 'progress') {
              done++;
              for (const line of m.lines ?? []) process.stderr.write(`seed ${m.seed}: ${line}\n`);
              process.stderr.write(`${done}/${args.seeds} seeds, ${((performance.now() - started) / 1000).toFixed(0)} s\n`);
            } else if (m.type === 'done' && m.summary) resolve(m.summary);
            else if (m.type === 'error') reject(new Error(m.message));
          });
          worker.on('error', reject);
        }),
    ),
  );
  const summary = summaries.reduce(mergeShardSummaries, emptyShardSummary());
  console.log(`pnpm sim --shards ${args.shards} --seeds ${args.seeds} --first-seed ${args.firstSeed} --minutes ${args.minutes}${args.variant === 'safe' ? '' : ` --variant ${args.variant}`}`);
  console.log(formatShardSummary(summary, { variant: args.variant, shards: args.shards, realMs: performance.now() - started }));
  for (const failed of summary.failedSeeds.slice(0, 5)) for (const v of failed.violations.slice(0, 1)) console.log(`\n${formatShardViolation(failed.seed, v, args.shards)}`);
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(shardSummaryJson(summary), null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
  return totalShardViolations(summary) === 0 ? 0 : 1;
}
