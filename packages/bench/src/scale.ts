/**
 * Scale: many electors, one Lease each, in this process for a fixed time, against the server in a
 * process of its own. Every elector is built as a controller would build it (a KubeConfig, so its
 * own client-node API client) and, being alone on its Lease, leads it and renews every retry
 * period. Measured over the window, after every elector leads:
 *
 * - memory per elector: median RSS during the window minus the RSS before the electors existed
 *   (after a full GC), divided by their number;
 * - CPU: this process's user + system time over the window, as a percentage of one core;
 * - event-loop delay p99: `perf_hooks.monitorEventLoopDelay` at a 10 ms resolution, less those
 *   10 ms. On Node 20 the histogram records the whole interval between its timer's ticks, so an
 *   idle loop reads about 10 ms; the delay is what the interval exceeds the resolution by (the
 *   same correction fastify's under-pressure applies). The raw figure is reported alongside.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Elector, createKubeLeaseClient } from '@leasekit/k8s-leaderelection';
import { kubeConfigFor } from '@leasekit/lease-apiserver';
import { CountingLogger, sleep } from './candidates.js';
import { NAMESPACE } from './election-trials.js';
import type { Timings } from './options.js';
import { startServerProcess } from './server-process.js';
import { percentile } from './stats.js';

/** The event-loop delay histogram's sampling interval. */
const ELD_RESOLUTION_MS = 10;

/** What the scale scenario measured. */
export interface ScaleResult {
  readonly electors: number;
  /** Starts spread over this long (0: all at once). */
  readonly staggerMs: number;
  readonly durationMs: number;
  readonly rssBytesPerElector: number;
  /** JS heap still reachable after a full GC at the end of the window, per elector. */
  readonly liveHeapBytesPerElector: number;
  readonly cpuPercent: number;
  readonly eventLoopDelayP99Ms: number;
  readonly eventLoopDelayMaxMs: number;
  /** The histogram's own p99 (the interval between ticks, resolution included). */
  readonly eventLoopIntervalP99Ms: number;
  /** The server process's CPU over the same window (Linux only). */
  readonly serverCpuPercent: number | undefined;
  /** Electors leading at the end of the window (all of them, unless renewals failed). */
  readonly leadingAtEnd: number;
  /** Terms that ended during the window (renewals that failed under load). */
  readonly termsLost: number;
  /** Lease renewals per second across all electors during the window. */
  readonly renewalsPerSecond: number;
  readonly baselineRssBytes: number;
  readonly log: CountingLogger;
}

/** Runs the scale scenario. `onProgress` gets short status lines. */
export async function runScale(
  electors: number,
  durationMs: number,
  timings: Timings,
  staggerMs: number,
  onProgress: (line: string) => void,
): Promise<ScaleResult> {
  const server = await startServerProcess();
  const log = new CountingLogger();
  const kubeConfig = kubeConfigFor(server.url, { namespace: NAMESPACE });
  const stops: AbortController[] = [];
  const runs: Promise<void>[] = [];
  try {
    // 1. The Leases exist (free) before the electors start, so each is acquired at once instead
    //    of after the wait for a Lease that never existed.
    await createLeases(kubeConfig, electors);

    // 2. Baseline memory, before any elector exists.
    collectGarbage();
    await sleep(200);
    const baseline = process.memoryUsage();

    // 3. Start them all and wait until every one leads.
    let leading = 0;
    let termsLost = 0;
    let renewals = 0;
    for (let i = 0; i < electors; i++) {
      const stop = new AbortController();
      const elector = new Elector(
        { identity: `scale-${i}`, leaseName: `scale-${i}`, leaseNamespace: NAMESPACE, ...timings, observer: { onRenewed: () => renewals++ } },
        kubeConfig,
        {
          onStartedLeading: () => leading++,
          onStoppedLeading: ({ reason }) => {
            leading--;
            if (reason !== 'released') termsLost++;
          },
        },
        log,
      );
      stops.push(stop);
      runs.push(startAfter((i * staggerMs) / electors, stop.signal).then(() => elector.run(stop.signal)));
    }
    const allLeadBy = performance.now() + 60_000 + electors * 20;
    while (leading < electors && performance.now() < allLeadBy) await sleep(100);
    onProgress(`${leading} of ${electors} electors lead their Lease; measuring for ${durationMs / 1000} s`);
    // One renewal period in steady state before the window opens.
    await sleep(timings.retryPeriodMs);

    // 4. The window.
    const histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
    const rssSamples: number[] = [];
    const lostBefore = termsLost;
    const renewalsBefore = renewals;
    const serverCpuBefore = server.cpuSeconds();
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    histogram.enable();
    while (performance.now() - startedAt < durationMs) {
      await sleep(Math.min(1000, durationMs - (performance.now() - startedAt)));
      rssSamples.push(process.memoryUsage().rss);
    }
    histogram.disable();
    const windowMs = performance.now() - startedAt;
    const cpu = process.cpuUsage(cpuBefore);
    const serverCpuAfter = server.cpuSeconds();
    collectGarbage();
    const liveHeap = process.memoryUsage().heapUsed;
    const delayMs = (ns: number): number => Math.max(0, ns / 1e6 - ELD_RESOLUTION_MS);

    return {
      electors,
      staggerMs,
      durationMs: windowMs,
      rssBytesPerElector: (percentile(rssSamples, 50) - baseline.rss) / electors,
      liveHeapBytesPerElector: (liveHeap - baseline.heapUsed) / electors,
      cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
      eventLoopDelayP99Ms: delayMs(histogram.percentile(99)),
      eventLoopDelayMaxMs: delayMs(histogram.max),
      eventLoopIntervalP99Ms: histogram.percentile(99) / 1e6,
      serverCpuPercent: serverCpuBefore === undefined || serverCpuAfter === undefined ? undefined : ((serverCpuAfter - serverCpuBefore) * 1000 / windowMs) * 100,
      leadingAtEnd: leading,
      termsLost: termsLost - lostBefore,
      renewalsPerSecond: ((renewals - renewalsBefore) * 1000) / windowMs,
      baselineRssBytes: baseline.rss,
      log,
    };
  } finally {
    // 5. Stop every elector (each releases its Lease), then the server.
    for (const stop of stops) stop.abort();
    await Promise.all(runs);
    await server.stop();
  }
}

/** Resolves after `ms` (at once for 0), or as soon as `signal` aborts. */
function startAfter(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Creates the Leases, free, a few dozen requests at a time. */
async function createLeases(kubeConfig: ReturnType<typeof kubeConfigFor>, count: number): Promise<void> {
  const client = createKubeLeaseClient(kubeConfig, { requestTimeoutMs: 10_000 });
  const batch = 50;
  for (let start = 0; start < count; start += batch) {
    const names = Array.from({ length: Math.min(batch, count - start) }, (_, k) => `scale-${start + k}`);
    await Promise.all(names.map((name) => client.create(NAMESPACE, { metadata: { name, namespace: NAMESPACE } })));
  }
}

/**
 * A full GC before the baseline, so it is not inflated by garbage from starting the server and
 * creating the Leases. `gc` is exposed on demand (V8 allows the flag at runtime; a fresh context
 * then has the function), so the benchmark needs no special node flags.
 */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  if (typeof gc === 'function') (gc as () => void)();
}
