/**
 * Runs a simulation or a sweep and prints its result as JSON on stdout: lets the test suite run
 * sweeps in a separate process, at full speed (jest's --detectOpenHandles instruments every
 * promise of its own process, which slows a simulation several times over).
 *
 *   node dist/child.js '{"mode":"sweep","options":{"seeds":200,"minutes":2}}'
 */
import { answer, type ChildAnswer } from './child-answer.js';
import type { SimOptions, SimResult } from './simulation.js';
import { runSimulation } from './simulation.js';
import { runSweep, type SweepOptions, type SweepSummary } from './sweep.js';

export type ChildRequest =
  | { mode: 'simulation'; options: Omit<SimOptions, 'factory' | 'onTrace'> }
  | { mode: 'sweep'; options: Omit<SweepOptions, 'factory' | 'onResult'> };

export type ChildResponse = ChildAnswer<SweepSummary, SimResult>;

const request = JSON.parse(process.argv[2] ?? '{}') as ChildRequest;
await answer<SweepSummary, SimResult>(async (results) => {
  if (request.mode !== 'simulation') return runSweep({ ...request.options, onResult: (r) => results.push(r) });
  results.push(await runSimulation(request.options));
  return undefined;
});
