#!/usr/bin/env node
/**
 * `pnpm sim`: run the deterministic simulator.
 *
 *   pnpm sim --seeds 1000 --minutes 60 [--json FILE] [--variant NAME] [--workers N]
 *   pnpm sim --seed 42 --trace
 *   pnpm sim --shards 8 --seeds 100 --minutes 60 [--variant NAME] [--workers N]   (sharded mode: src/shards/)
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DEFAULT_RATES, type FaultRates, type OutsideActor, type ScheduledFault } from './faults.js';
import { runSimulation, type SimOptions } from './simulation.js';
import { runShardCli } from './shards/shard-cli.js';
import { SHARD_VARIANTS, isShardVariantName, type ShardVariantName } from './shards/shard-variants.js';
import { emptySummary, formatSummary, formatViolation, mergeSummaries, summaryJson, totalViolations, type SweepSummary } from './sweep.js';
import { VARIANTS, isVariantName, type VariantName } from './variants.js';
import type { WorkerTask } from './worker.js';

const USAGE = `Usage:
  pnpm sim [--seeds N] [--first-seed S] [--minutes M] [--json FILE] [--variant NAME] [--actor MODE] [--client-go MODE] [--fleet MODE] [--rates LIST] [--workers K]
  pnpm sim --seed N [--minutes M] [--trace] [--variant NAME] [--actor MODE] [--client-go MODE] [--fleet MODE] [--rates LIST]
  pnpm sim --shards N [--seeds N | --seed N] [--first-seed S] [--minutes M] [--variant NAME] [--json FILE] [--workers K] [--trace]

  --seeds N        seeds to sweep (default 100), starting at --first-seed (default 1)
  --minutes M      virtual minutes per seed (default 10)
  --json FILE      also write { seeds, virtualHours, faults, violations, availabilityPercent, requestsPerReplicaMinute: { p50, max }, digests: { seed: digest } }
  --seed N         run one seed and print its violations with their traces
  --trace          with --seed: print every event, request and log line as it happens
  --variant NAME   ${Object.keys(VARIANTS).join(' | ')} (default safe)
  --actor MODE     kubectl | none | forge-live-holder | force-release (default kubectl)
  --client-go MODE a client-go replica beside the electors: auto (30 % of seeds) | none | record | configured (default auto)
  --fleet MODE     runs without client-go: auto (half leasekit-only, clientGoFollowers: false) | leasekit-only | default (default auto)
  --rates LIST     fault rates per virtual minute, e.g. pause-in-flight=0,crash=1 (kinds: ${Object.keys(DEFAULT_RATES).join(', ')})
  --workers K      worker threads for a sweep (default: available cores)
  --shards N       sharded mode: N shard Leases led by 2 to 8 ShardedElector replicas (docs/reliability.md, "Sharded runs");
                   --variant then is ${Object.keys(SHARD_VARIANTS).join(' | ')}; --actor, --client-go, --fleet, --rates do not apply

Exit status: 0 when no invariant was violated, 1 otherwise, 2 on bad arguments.`;

interface Args {
  seeds: number;
  firstSeed: number;
  minutes: number;
  json: string | undefined;
  seed: number | undefined;
  trace: boolean;
  variant: VariantName;
  actor: OutsideActor;
  clientGo: NonNullable<SimOptions['clientGo']>;
  fleet: NonNullable<SimOptions['fleet']>;
  workers: number;
  rates: FaultRates | undefined;
  shards: number | undefined;
  shardVariant: ShardVariantName;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { seeds: 100, firstSeed: 1, minutes: 10, json: undefined, seed: undefined, trace: false, variant: 'safe', actor: 'kubectl', clientGo: 'auto', fleet: 'auto', workers: availableParallelism(), rates: undefined, shards: undefined, shardVariant: 'safe' };
  let variantText: string | undefined;
  const number = (flag: string, value: string | undefined, min: number): number => {
    const n = Number(value);
    if (value === undefined || !Number.isFinite(n) || n < min) throw new UsageError(`${flag} needs a number >= ${min}, got ${value ?? 'nothing'}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case '--':
        break;
      case '--seeds':
        args.seeds = Math.floor(number(flag, value, 1));
        i++;
        break;
      case '--first-seed':
        args.firstSeed = Math.floor(number(flag, value, 0));
        i++;
        break;
      case '--minutes':
        args.minutes = number(flag, value, 0.01);
        i++;
        break;
      case '--seed':
        args.seed = Math.floor(number(flag, value, 0));
        i++;
        break;
      case '--workers':
        args.workers = Math.floor(number(flag, value, 1));
        i++;
        break;
      case '--json':
        if (value === undefined) throw new UsageError('--json needs a file name');
        args.json = value;
        i++;
        break;
      case '--variant':
        if (value === undefined) throw new UsageError('--variant needs a name');
        variantText = value;
        i++;
        break;
      case '--shards':
        args.shards = Math.floor(number(flag, value, 1));
        i++;
        break;
      case '--actor':
        if (value !== 'kubectl' && value !== 'none' && value !== 'forge-live-holder' && value !== 'force-release') {
          throw new UsageError('--actor must be kubectl, none, forge-live-holder or force-release');
        }
        args.actor = value;
        i++;
        break;
      case '--client-go':
        if (value !== 'auto' && value !== 'none' && value !== 'record' && value !== 'configured') {
          throw new UsageError('--client-go must be auto, none, record or configured');
        }
        args.clientGo = value;
        i++;
        break;
      case '--fleet':
        if (value !== 'auto' && value !== 'leasekit-only' && value !== 'default') throw new UsageError('--fleet must be auto, leasekit-only or default');
        args.fleet = value;
        i++;
        break;
      case '--rates': {
        if (value === undefined) throw new UsageError('--rates needs kind=rate pairs');
        const rates: Record<string, number> = {};
        for (const pair of value.split(',')) {
          const [kind = '', rate] = pair.split('=');
          if (!(kind in DEFAULT_RATES)) throw new UsageError(`--rates: unknown fault kind ${kind}`);
          rates[kind as ScheduledFault] = number(`--rates ${kind}`, rate, 0);
        }
        args.rates = rates;
        i++;
        break;
      }
      case '--trace':
        args.trace = true;
        break;
      case '--help':
      case '-h':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument ${flag}`);
    }
  }
  if (variantText !== undefined && args.shards !== undefined) {
    if (!isShardVariantName(variantText)) throw new UsageError(`with --shards, --variant must be one of ${Object.keys(SHARD_VARIANTS).join(', ')}`);
    args.shardVariant = variantText;
  } else if (variantText !== undefined) {
    if (!isVariantName(variantText)) throw new UsageError(`--variant must be one of ${Object.keys(VARIANTS).join(', ')}`);
    args.variant = variantText;
  }
  return args;
}

class UsageError extends Error {}

async function runOne(args: Args): Promise<number> {
  const seed = args.seed!;
  const result = await runSimulation({
    seed,
    minutes: args.minutes,
    variant: args.variant,
    outsideActor: args.actor,
    clientGo: args.clientGo,
    fleet: args.fleet,
    ...(args.rates ? { rates: args.rates } : {}),
    ...(args.trace ? { onTrace: (line: string) => console.log(line), verbose: true } : {}),
  });
  console.log(
    `seed ${seed} (${args.variant}): ${result.replicas} replicas${result.leasekitOnly ? ' (leasekit-only, clientGoFollowers: false)' : ''}, L=${result.timing.leaseDurationMs} RD=${result.timing.renewDeadlineMs} R=${result.timing.retryPeriodMs}, ` +
      `${(result.virtualMs / 60_000).toFixed(1)} virtual minutes, ${result.terms} terms, availability ${result.availabilityPercent.toFixed(3)} %, digest ${result.digest}`,
  );
  const injected = Object.entries(result.faults).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`);
  console.log(`faults: ${injected.join(', ') || 'none'}`);
  for (const violation of result.violations) console.log(formatViolation(seed, violation));
  console.log(result.violations.length === 0 ? 'no violations' : `${result.violations.length} violation(s)`);
  return result.violations.length === 0 ? 0 : 1;
}

async function runParallel(args: Args): Promise<number> {
  const started = performance.now();
  const workers = Math.max(1, Math.min(args.workers, args.seeds));
  const buckets: number[][] = Array.from({ length: workers }, () => []);
  for (let i = 0; i < args.seeds; i++) buckets[i % workers]!.push(args.firstSeed + i);
  let done = 0;
  let lastPrint = 0;
  const summaries = await Promise.all(
    buckets.map(
      (seeds) =>
        new Promise<SweepSummary>((resolve, reject) => {
          const task: WorkerTask = { seeds, minutes: args.minutes, variant: args.variant, outsideActor: args.actor, clientGo: args.clientGo, fleet: args.fleet, ...(args.rates ? { rates: args.rates } : {}) };
          const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: task });
          worker.on('message', (message: { type: string; summary?: SweepSummary; message?: string; seed?: number; violations?: number; other?: string[] }) => {
            if (message.type === 'progress') {
              done++;
              if (message.violations) process.stderr.write(`seed ${message.seed}: ${message.violations} violation(s)\n`);
              for (const line of message.other ?? []) process.stderr.write(`seed ${message.seed}: ${line}\n`);
              const now = performance.now();
              if (now - lastPrint > 5000 || done === args.seeds) {
                lastPrint = now;
                process.stderr.write(`${done}/${args.seeds} seeds, ${((now - started) / 1000).toFixed(0)} s\n`);
              }
            } else if (message.type === 'done' && message.summary) {
              resolve(message.summary);
            } else if (message.type === 'error') {
              reject(new Error(message.message));
            }
          });
          worker.on('error', reject);
        }),
    ),
  );
  const summary = summaries.reduce(mergeSummaries, emptySummary());
  const realMs = performance.now() - started;
  const ratesText = args.rates ? ` --rates ${Object.entries(args.rates).map(([k, v]) => `${k}=${v}`).join(',')}` : '';
  console.log(`pnpm sim --seeds ${args.seeds} --first-seed ${args.firstSeed} --minutes ${args.minutes}${args.variant === 'safe' ? '' : ` --variant ${args.variant}`}${args.actor === 'kubectl' ? '' : ` --actor ${args.actor}`}${args.clientGo === 'auto' ? '' : ` --client-go ${args.clientGo}`}${args.fleet === 'auto' ? '' : ` --fleet ${args.fleet}`}${ratesText}`);
  console.log(formatSummary(summary, { variant: args.variant, realMs }));
  for (const failed of summary.failedSeeds.slice(0, 5)) {
    for (const violation of failed.violations.slice(0, 1)) console.log(`\n${formatViolation(failed.seed, violation)}`);
  }
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify(summaryJson(summary), null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
  return totalViolations(summary) === 0 ? 0 : 1;
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`${err.message}\n\n${USAGE}`);
      process.exit(2);
    }
    throw err;
  }
  const code =
    args.shards !== undefined
      ? await runShardCli({ shards: args.shards, variant: args.shardVariant, seed: args.seed, seeds: args.seeds, firstSeed: args.firstSeed, minutes: args.minutes, workers: args.workers, json: args.json, trace: args.trace })
      : args.seed !== undefined
        ? await runOne(args)
        : await runParallel(args);
  process.exitCode = code;
}

await main();
