/**
 * Runs a simulation or a sweep and prints its result as JSON on stdout: lets the test suite run
 * sweeps in a separate process, at full speed (jest's --detectOpenHandles instruments every
 * promise of its own process, which slows a simulation several times over).
 *
 *   node dist/child.js '{"mode":"sweep","options":{"seeds":200,"minutes":2}}'
 */
import type { SimOptions, SimResult } from './simulation.js';
import { runSimulation } from './simulation.js';
import { runSweep, type SweepOptions, type SweepSummary } from './sweep.js';

export type ChildRequest =
  | { mode: 'simulation'; options: Omit<SimOptions, 'factory' | 'onTrace'> }
  | { mode: 'sweep'; options: Omit<SweepOptions, 'factory' | 'onResult'> };

export interface ChildResponse {
  summary?: SweepSummary;
  results: SimResult[];
  realMs: number;
  unhandledRejectionListeners: { before: number; after: number };
}

async function main(): Promise<void> {
  const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
  const before = process.listenerCount('unhandledRejection');
  const started = performance.now();
  const results: SimResult[] = [];
  let summary: SweepSummary | undefined;
  if (request.mode === 'simulation') results.push(await runSimulation(request.options));
  else summary = await runSweep({ ...request.options, onResult: (r) => results.push(r) });
  const response: ChildResponse = {
    ...(summary ? { summary } : {}),
    results,
    realMs: performance.now() - started,
    unhandledRejectionListeners: { before, after: process.listenerCount('unhandledRejection') },
  };
  process.stdout.write(JSON.stringify(response));
}

await main();
