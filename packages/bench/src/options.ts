/**
 * The benchmark's command line and the configuration of every scenario. `--smoke` is the CI
 * configuration: every scenario runs, with few trials and short durations, so the benchmark
 * cannot rot; its figures are not meant to be read.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveConfig } from '@leasekit/k8s-leaderelection/internal';

/** Lease timings for one scenario (what an elector is configured with). */
export interface Timings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** The scenarios, by name (for `--only`). */
export const SCENARIOS = ['handover', 'failover', 'cost', 'scale', 'storm', 'rollout', 'shards'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** How every write fails in the retry-storm scenario (for `--storm-kinds`): see storm.ts. */
export const STORM_KINDS = ['500', '503', '403', 'hang'] as const;
export type StormKind = (typeof STORM_KINDS)[number];

/** Everything one benchmark run does. */
export interface BenchOptions {
  /** Write the JSON report here. */
  readonly jsonPath: string | undefined;
  readonly smoke: boolean;
  /** Scenarios to run (all by default). */
  readonly only: readonly ScenarioName[];
  /** Handover trials per follower mode, each of graceful and directed. @default 20 */
  readonly handoverTrials: number;
  /** Crash failover trials per follower mode. @default 10 */
  readonly failoverTrials: number;
  /** Timings for the handover and failover trials: short and valid. @default 2000 / 1500 / 500 */
  readonly trialTimings: Timings;
  /** Replicas per trial. @default 3 */
  readonly replicas: number;
  /** How long the request-cost scenario counts, per mode (both modes run side by side). @default 60 s */
  readonly costDurationMs: number;
  /** Timings of the request-cost replicas: client-go's defaults, what deployments run. @default 15000 / 10000 / 2000 */
  readonly costTimings: Timings;
  /** Electors (one Lease each) in the scale scenario. @default 1000 */
  readonly scaleElectors: number;
  /** How long the scale scenario measures. @default 60 s */
  readonly scaleDurationMs: number;
  /** Timings of the scale electors. @default client-go's 15000 / 10000 / 2000 */
  readonly scaleTimings: Timings;
  /**
   * Spread the scale electors' starts evenly over this long. 0 starts them all at once (a
   * process booting with all its Leases), which keeps their renewals in lockstep. @default 0
   */
  readonly scaleStaggerMs: number;
  /** How long the retry-storm scenario counts, per failure kind and strategy. @default 10 s */
  readonly stormDurationMs: number;
  /** Timings of the retry-storm followers. @default client-go's 15000 / 10000 / 2000 */
  readonly stormTimings: Timings;
  /** How writes fail in the retry-storm scenario, one run each. @default all of them */
  readonly stormKinds: readonly StormKind[];
  /** Rollouts per variant (release, newest) and follower mode; trial timings. @default 3 */
  readonly rolloutRuns: number;
  /** Shard Leases in the sharding scenario (N). @default 64 (smoke: 16) */
  readonly shards: number;
  /** Replica processes at the sharding scenario's start (M; one joins, one crashes, one leaves). @default 5 (smoke: 3) */
  readonly shardReplicas: number;
  /** How long the sharding scenario counts its steady state. @default 60 s (smoke: 2 s) */
  readonly shardSteadyMs: number;
  /** Shard timings: the trial timings (smoke: the smoke timings). */
  readonly shardTimings: Timings;
  readonly help: boolean;
}

const DEFAULT_TIMINGS: Timings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const TRIAL_TIMINGS: Timings = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 500 };
/** Smoke: about the shortest valid timings (client-go followers allowed), so the CI run stays short. */
const SMOKE_TIMINGS: Timings = { leaseDurationMs: 1_500, renewDeadlineMs: 1_000, retryPeriodMs: 250 };

/** A command line the benchmark cannot run. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The `--help` text. */
export const USAGE = `Usage: pnpm bench [-- options]     (or: node packages/bench/dist/bench.js [options])

Runs every performance scenario against the embedded Lease API server, watch-mode and poll-mode
followers side by side, and prints a table:
  handover  graceful handover: the leader aborts with release -> another replica's onStartedLeading;
            directed handover: the leader calls resign({ to }) naming a follower -> that follower's
            onStartedLeading; both with the Lease requests the server received per handover, and
            split at the server's commits: the leader's write, the new leader's own write, its callback
  failover  crash failover: the leader stops without release and is cut off -> another's onStartedLeading,
            measured from the dead leader's last renewal committed on the server
  cost      steady-state API requests per minute with three replicas, counted by the server
  scale     many electors on as many Leases in this process, the server in another: memory, CPU,
            event-loop delay
  storm     retry storm: 3 followers on a free Lease while every write fails (500, 503, 403, hang),
            each follower's requests counted by the server against client-go's budget
  rollout   3 replicas replaced one by one like a Deployment's RollingUpdate (new one follows, then the
            oldest stops, as SIGTERM stops it), old leaders releasing vs handoverOnShutdown 'newest':
            leadership changes and leaderless time per rollout
  shards    sharded leadership: 64 shard Leases, 5 replica processes (a ShardedElector each): time to
            balance and shards moved after the start, a join, a crash (SIGKILL) and a graceful leave
            (SIGTERM); steady-state API requests per minute, by verb, against the renewal budget

Options:
  --json FILE              also write the results as JSON
  --smoke                  few trials and short durations (the CI configuration)
  --trials N               handover and failover trials per mode (default 20 and 10)
  --handover-trials N      handover trials per mode, graceful and directed each (default 20)
  --failover-trials N      failover trials per mode (default 10)
  --cost-seconds S         request-cost duration per mode (default 60)
  --scale-electors N       electors in the scale scenario (default 1000)
  --scale-seconds S        scale measurement duration (default 60)
  --scale-stagger-ms MS    spread the scale electors' starts over MS (default 0: all at once)
  --storm-seconds S        retry-storm window per failure kind and strategy (default 10)
  --storm-timings L,D,R    retry-storm lease / renew deadline / retry period in ms (default 15000,10000,2000)
  --storm-kinds LIST       comma-separated subset of: ${STORM_KINDS.join(',')} (default all)
  --rollout-runs N         rollouts per variant and follower mode (default 3)
  --shards N               shard Leases in the sharding scenario (default 64)
  --shard-replicas M       replica processes at its start; one joins, one crashes, one leaves (default 5)
  --shard-seconds S        its steady-state window (default 60)
  --only LIST              comma-separated subset of: ${SCENARIOS.join(',')}
  -h, --help               show this help
`;

function count(flag: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return value;
}

/** A comma-separated subset of `all` (all of it when the flag is absent). */
function subset<T extends string>(flag: string, what: string, raw: string | undefined, all: readonly T[]): T[] {
  if (raw === undefined) return [...all];
  const names = raw.split(',').map((s) => s.trim());
  for (const name of names) {
    if (!(all as readonly string[]).includes(name)) throw new UsageError(`--${flag}: unknown ${what} ${JSON.stringify(name)}; expected some of ${all.join(',')}`);
  }
  return names as T[];
}

/** `LEASE,DEADLINE,RETRY` in ms, checked by the elector's own configuration rules. */
function timings(flag: string, raw: string): Timings {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length !== 3 || !parts.every((p) => /^\d+$/.test(p))) throw new UsageError(`--${flag}: expected LEASE,DEADLINE,RETRY in whole milliseconds, got ${JSON.stringify(raw)}`);
  const [leaseDurationMs, renewDeadlineMs, retryPeriodMs] = parts.map(Number) as [number, number, number];
  try {
    resolveConfig({ identity: 'bench', leaseName: 'bench', leaseNamespace: 'bench', leaseDurationMs, renewDeadlineMs, retryPeriodMs });
  } catch (err) {
    throw new UsageError(`--${flag}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { leaseDurationMs, renewDeadlineMs, retryPeriodMs };
}

/** Parses the command line (without `node` and the script). Throws {@link UsageError}. */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        json: { type: 'string' },
        smoke: { type: 'boolean' },
        trials: { type: 'string' },
        'handover-trials': { type: 'string' },
        'failover-trials': { type: 'string' },
        'cost-seconds': { type: 'string' },
        'scale-electors': { type: 'string' },
        'scale-seconds': { type: 'string' },
        'scale-stagger-ms': { type: 'string' },
        'storm-seconds': { type: 'string' },
        'storm-timings': { type: 'string' },
        'storm-kinds': { type: 'string' },
        'rollout-runs': { type: 'string' },
        shards: { type: 'string' },
        'shard-replicas': { type: 'string' },
        'shard-seconds': { type: 'string' },
        only: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const smoke = values.smoke ?? false;
  const trials = count('trials', values.trials, 0, 1, 1000);
  const only = subset('only', 'scenario', values.only, SCENARIOS);
  const stormKinds = subset('storm-kinds', 'failure kind', values['storm-kinds'], STORM_KINDS);
  if (values.json === '') throw new UsageError('--json: expected a file name');
  return {
    jsonPath: values.json === undefined ? undefined : resolve(values.json),
    smoke,
    only,
    handoverTrials: count('handover-trials', values['handover-trials'], trials || (smoke ? 3 : 20), 1, 1000),
    failoverTrials: count('failover-trials', values['failover-trials'], trials || (smoke ? 2 : 10), 1, 1000),
    trialTimings: smoke ? SMOKE_TIMINGS : TRIAL_TIMINGS,
    replicas: 3,
    costDurationMs: count('cost-seconds', values['cost-seconds'], smoke ? 5 : 60, 1, 3600) * 1000,
    costTimings: smoke ? SMOKE_TIMINGS : DEFAULT_TIMINGS,
    scaleElectors: count('scale-electors', values['scale-electors'], smoke ? 50 : 1000, 1, 100_000),
    scaleDurationMs: count('scale-seconds', values['scale-seconds'], smoke ? 5 : 60, 1, 3600) * 1000,
    scaleTimings: DEFAULT_TIMINGS,
    scaleStaggerMs: count('scale-stagger-ms', values['scale-stagger-ms'], 0, 0, 600_000),
    stormDurationMs: count('storm-seconds', values['storm-seconds'], smoke ? 1 : 10, 1, 3600) * 1000,
    stormTimings: values['storm-timings'] === undefined ? (smoke ? SMOKE_TIMINGS : DEFAULT_TIMINGS) : timings('storm-timings', values['storm-timings']),
    stormKinds,
    rolloutRuns: count('rollout-runs', values['rollout-runs'], smoke ? 1 : 3, 1, 1000),
    shards: count('shards', values.shards, smoke ? 16 : 64, 1, 1000),
    // At least 2: after the join, the crash and the leave, M - 1 remain (with 1, the leaver would have no one to hand to).
    shardReplicas: count('shard-replicas', values['shard-replicas'], smoke ? 3 : 5, 2, 50),
    shardSteadyMs: count('shard-seconds', values['shard-seconds'], smoke ? 2 : 60, 1, 3600) * 1000,
    shardTimings: smoke ? SMOKE_TIMINGS : TRIAL_TIMINGS,
    help: values.help ?? false,
  };
}
