/**
 * Runs a sharded simulation or sweep and prints its result as JSON on stdout, so the tests run
 * them at full speed outside jest's instrumented process (see ../child.ts).
 *
 *   node dist/shards/shard-child.js '{"mode":"sweep","options":{"seeds":3,"minutes":3}}'
 */
import { answer, type ChildAnswer } from '../child-answer.js';
import { runShardSimulation } from './shard-simulation.js';
import { runShardSweep, type ShardSweepOptions, type ShardSweepSummary } from './shard-sweep.js';
import type { ShardSimOptions, ShardSimResult } from './shard-types.js';

export type ShardChildRequest = { mode: 'simulation'; options: Omit<ShardSimOptions, 'onTrace'> } | { mode: 'sweep'; options: Omit<ShardSweepOptions, 'onResult'> };

export type ShardChildResponse = ChildAnswer<ShardSweepSummary, ShardSimResult>;

const request = JSON.parse(process.argv[2] ?? '{}') as ShardChildRequest;
await answer<ShardSweepSummary, ShardSimResult>(async (results) => {
  if (request.mode !== 'simulation') return runShardSweep({ ...request.options, onResult: (r) => results.push(r) });
  results.push(await runShardSimulation(request.options));
  return undefined;
});
