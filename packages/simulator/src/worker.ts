/**
 * A sweep worker: runs every seed of the sweep whose index falls to it, and posts its summary.
 * Started by the CLI with worker_threads; the data it gets is plain JSON.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { FaultRates, OutsideActor } from './faults.js';
import { runSimulation, type SimOptions } from './simulation.js';
import { addResult, emptySummary } from './sweep.js';
import type { VariantName } from './variants.js';

export interface WorkerTask {
  readonly seeds: number[];
  readonly minutes: number;
  readonly variant: VariantName;
  readonly outsideActor: OutsideActor;
  readonly clientGo?: SimOptions['clientGo'];
  readonly fleet?: SimOptions['fleet'];
  readonly rates?: FaultRates;
}

async function work(task: WorkerTask): Promise<void> {
  let summary = emptySummary();
  for (const seed of task.seeds) {
    const result = await runSimulation({
      seed,
      minutes: task.minutes,
      variant: task.variant,
      outsideActor: task.outsideActor,
      ...(task.clientGo ? { clientGo: task.clientGo } : {}),
      ...(task.fleet ? { fleet: task.fleet } : {}),
      ...(task.rates ? { rates: task.rates } : {}),
    });
    summary = addResult(summary, result);
    const other = result.violations.filter((v) => !v.lateStart).map((v) => `${v.invariant} t=${(v.atMs / 1000).toFixed(3)}s ${v.message}`);
    parentPort?.postMessage({ type: 'progress', seed, violations: result.violations.length, other });
  }
  parentPort?.postMessage({ type: 'done', summary });
}

if (parentPort) {
  work(workerData as WorkerTask).catch((err: unknown) => {
    parentPort?.postMessage({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  });
}
