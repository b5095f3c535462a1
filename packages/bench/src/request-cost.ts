/**
 * Steady-state API cost: three replicas on one Lease for a fixed time, counted by the server
 * (every request counts when it arrives; an open watch stream counts once, when it was opened).
 * The two modes run side by side, each on its own embedded server, so the same minute is measured
 * for both and neither server's counters see the other's requests.
 */
import type { FollowerStrategy } from '@leasekit/k8s-leaderelection';
import { startLeaseApiServer, type VerbCounts } from '@leasekit/lease-apiserver';
import { CandidateGroup, CountingLogger, sleep } from './candidates.js';
import { NAMESPACE } from './election-trials.js';
import type { Timings } from './options.js';

/** Requests per minute in one mode. */
export interface CostResult {
  readonly mode: FollowerStrategy;
  readonly perMinute: number;
  /** Per verb, per minute (only verbs that were used). */
  readonly perMinuteByVerb: Record<string, number>;
  /** Raw request count over the window. */
  readonly requests: number;
  readonly windowMs: number;
  /** Watch streams open at the end of the window. */
  readonly openWatches: number;
  readonly log: CountingLogger;
}

/** Measures both modes at once for `durationMs` after a warm-up. */
export async function runRequestCost(durationMs: number, timings: Timings, replicas: number): Promise<{ watch: CostResult; poll: CostResult }> {
  const [watch, poll] = await Promise.all((['watch', 'poll'] as const).map((mode) => measure(mode, durationMs, timings, replicas)));
  return { watch: watch!, poll: poll! };
}

async function measure(mode: FollowerStrategy, durationMs: number, timings: Timings, replicas: number): Promise<CostResult> {
  const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
  const log = new CountingLogger();
  const leaseName = `cost-${mode}`;
  server.store.create(NAMESPACE, { metadata: { name: leaseName } });
  const group = new CandidateGroup({ server, namespace: NAMESPACE, leaseName, mode, timings, size: replicas, logger: log });
  group.start();
  try {
    await group.nextTakeover(0, [], 10_000);
    // Warm-up: every follower has made its first attempt and (watch mode) opened its stream.
    await sleep(2 * timings.retryPeriodMs);
    const before = server.counters.snapshot('leases');
    const startedAt = performance.now();
    await sleep(durationMs);
    const after = server.counters.snapshot('leases');
    const windowMs = performance.now() - startedAt;
    const perMinute = (n: number): number => (n * 60_000) / windowMs;
    const perMinuteByVerb: Record<string, number> = {};
    for (const verb of Object.keys(after) as (keyof VerbCounts)[]) {
      const delta = after[verb] - before[verb];
      if (verb !== 'total' && delta > 0) perMinuteByVerb[verb] = perMinute(delta);
    }
    const requests = after.total - before.total;
    return { mode, perMinute: perMinute(requests), perMinuteByVerb, requests, windowMs, openWatches: server.openWatchCount, log };
  } finally {
    await group.stopAll();
    await server.close();
  }
}
