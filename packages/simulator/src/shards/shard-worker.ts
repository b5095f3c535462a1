/** A sharded sweep worker: runs the seeds it is given with `runShardSimulation` and posts its summary (worker_threads, plain JSON). */
import { parentPort, workerData } from 'node:worker_threads';
import { runShardSimulation } from './shard-simulation.js';
import { addShardResult, emptyShardSummary } from './shard-sweep.js';
import type { ShardVariantName } from './shard-variants.js';

export interface ShardWorkerTask {
  readonly seeds: number[];
  readonly shards: number;
  readonly minutes: number;
  readonly variant: ShardVariantName;
}

async function work(task: ShardWorkerTask): Promise<void> {
  let summary = emptyShardSummary();
  for (const seed of task.seeds) {
    const result = await runShardSimulation({ seed, shards: task.shards, minutes: task.minutes, variant: task.variant });
    summary = addShardResult(summary, result);
    const lines = result.violations.map((v) => `${v.invariant} t=${(v.atMs / 1000).toFixed(3)}s ${v.message}`);
    parentPort?.postMessage({ type: 'progress', seed, violations: result.violations.length, lines });
  }
  parentPort?.postMessage({ type: 'done', summary });
}

if (parentPort) {
  work(workerData as ShardWorkerTask).catch((err: unknown) => {
    parentPort?.postMessage({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  });
}
