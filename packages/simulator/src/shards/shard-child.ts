/**
 * Runs a sharded simulation or sweep and prints its result as JSON on stdout, so the tests run
 * them at full speed outside jest's instrumented process (see ../child.ts).
 *
 *   node dist/shards/shard-child.js '{"mode":"sweep","options":{"seeds":3,"minutes":3}}'
 */
import { runShardSimulation } from './shard-simulation.js';
import { runShardSweep, type ShardSweepOptions, type ShardSweepSummary } from './shard-sweep.js';
import type { ShardSimOptions, ShardSimResult } from './shard-types.js';

export type ShardChildRequest = { mode: 'simulation'; options: Omit<ShardSimOptions, 'onTrace'> } | { mode: 'sweep'; options: Omit<ShardSweepOptions, 'onResult'> };

export interface ShardChildResponse {
  summary?: ShardSweepSummary;
  results: ShardSimResult[];
  realMs: number;
  unhandledRejectionListeners: { before: number; after: number };
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as ShardChildRequest;
  const before = process.listenerCount('unhandledRejection');
  const started = performance.now();
  const results: ShardSimResult[] = [];
  let summary: ShardSweepSummary | undefined;
  if (request.mode === 'simulation') results.push(await runShardSimulation(request.options));
  else summary = await runShardSweep({ ...request.options, onResult: (r) => results.push(r) });
  const response: ShardChildResponse = {
    ...(summary ? { summary } : {}),
    results,
    realMs: performance.now() - started,
    unhandledRejectionListeners: { before, after: process.listenerCount('unhandledRejection') },
  };
  process.stdout.write(JSON.stringify(response));
}

await main();
