/**
 * The demo's command line: flags, defaults, and validation that names the flag and the rule.
 * Timing flags are checked by the elector's own `resolveConfig`, so the demo accepts exactly
 * what a controller would.
 */
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, type FollowerStrategy } from '@leasekit/k8s-leaderelection';
import { resolveConfig } from '@leasekit/k8s-leaderelection/internal';
import { shardSetConfigError } from './shard-options.js';

/** Everything the demo run needs. */
export interface DemoOptions {
  /** Replica processes to start (one is killed, one is stopped, so at least 3). @default 3 */
  readonly replicas: number;
  /** @default 2000 */
  readonly leaseDurationMs: number;
  /** @default 1500 */
  readonly renewDeadlineMs: number;
  /** @default 500 */
  readonly retryPeriodMs: number;
  /** @default 'watch' */
  readonly followerStrategy: FollowerStrategy;
  /** A real cluster's kubeconfig; undefined (and not `inCluster`) runs the embedded server. */
  readonly kubeconfig: string | undefined;
  /** Use the in-cluster service account (the demo itself runs in a pod). @default false */
  readonly inCluster: boolean;
  /** @default 'default' */
  readonly namespace: string;
  /** @default 'leasekit-demo' */
  readonly leaseName: string;
  /** Where the timeline picture goes. @default <tmpdir>/leasekit-demo-timeline.svg */
  readonly svgPath: string;
  /** How long to let things run between the scenario's steps, so the timeline is readable. @default 3000 */
  readonly settleMs: number;
  /** Run a real Prometheus (the `prometheus` binary) scraping the replicas. @default false */
  readonly prometheus: boolean;
  /**
   * Instead of the failover and the handover: two rolling updates of every replica by SIGTERM,
   * (a) old replicas that release, (b) old replicas with `handoverOnShutdown: 'newest'`. @default false
   */
  readonly rollout: boolean;
  /**
   * Instead of the failover and the handover: coordinated leader election on the embedded server
   * with its coordinator, three candidates of emulation versions 1.33, 1.32 and (later) 1.31. @default false
   */
  readonly coordinated: boolean;
  /**
   * Instead of the failover and the handover: this many shard Leases shared by `replicas` (default
   * 4) replica processes of the sharded component; one is killed, one joins. Undefined: not this scene.
   */
  readonly shards: number | undefined;
  readonly help: boolean;
}

/** A command line the demo cannot run; the message names the flag. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Fewer replicas leave nobody to take over after the kill and the stop. */
export const MIN_REPLICAS = 3;
/** More would only crowd the timeline (and the machine). */
export const MAX_REPLICAS = 20;
/** `--shards` without a number. */
export const DEFAULT_SHARDS = 12;
/** More would not fit the grid line. */
export const MAX_DEMO_SHARDS = 100;
/** Replicas of the `--shards` scene without `--replicas`. */
export const DEFAULT_SHARD_REPLICAS = 4;

/** The `--help` text. */
export const USAGE = `Usage: pnpm demo [-- options]     (or: node packages/demo/dist/demo.js [options])

Starts replica processes of a small controller built on LeaderElectionComponent, lets them elect
a leader over a Lease, SIGKILLs the leader (failover), SIGTERMs the next one (graceful handover),
and prints a timeline, the measured times and a summary. Without --kubeconfig or --in-cluster it
runs its own embedded Lease API server on 127.0.0.1, so no cluster is needed.

Options:
  --replicas N              replica processes, ${MIN_REPLICAS}-${MAX_REPLICAS} (default 3)
  --lease-duration-ms MS    lease duration (default 2000)
  --renew-deadline-ms MS    renew deadline (default 1500)
  --retry-period-ms MS      retry period (default 500)
  --follower-strategy S     watch or poll (default watch)
  --settle-ms MS            pause between the scenario's steps (default 3000)
  --kubeconfig FILE         run against the cluster in this kubeconfig instead of the embedded server
  --in-cluster              run against the cluster this pod runs in (service account)
  --namespace NS            the Lease's namespace (default default)
  --lease-name NAME         the Lease's name (default leasekit-demo)
  --svg FILE                where to write the timeline picture (default <tmpdir>/leasekit-demo-timeline.svg)
  --prometheus              also run a real Prometheus (the prometheus binary, Debian package prometheus) on
                            127.0.0.1 scraping every replica; print and draw the is_leader series it scraped
  --rollout                 instead of the failover and handover: replace every replica one by one the way a
                            Deployment's RollingUpdate does (start a new one, wait until it follows, SIGTERM the
                            oldest), twice, by SIGTERM alone: (a) old replicas that release, (b) old replicas
                            with handoverOnShutdown: 'newest' (the leader hands over to the newest replica);
                            count leadership changes and leaderless time
  --coordinated             instead of the failover and handover: coordinated leader election (the embedded
                            server's coordinator picks the holder): candidates of emulation versions 1.33 and
                            1.32, then 1.31 joins and takes over; prints kubectl get leasecandidates and leases
                            (embedded server only; always 3 replicas)
  --shards [N]              instead of the failover and handover: N shard Leases (default ${DEFAULT_SHARDS}, 1-${MAX_DEMO_SHARDS}) shared
                            by --replicas replica processes of ShardedLeaderElectionComponent (default ${DEFAULT_SHARD_REPLICAS}): balance,
                            SIGKILL one (its shards taken after their leases expire), add one (directed handovers);
                            prints who holds what, the moves and the checks (embedded server only)
  -h, --help                show this help
`;

function integer(flag: string, raw: string | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new UsageError(`--${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** `--shards` with no number after it (last, or before another flag) means {@link DEFAULT_SHARDS}. */
function withShardsDefault(argv: readonly string[]): string[] {
  return argv.map((arg, i) => (arg === '--shards' && (i === argv.length - 1 || argv[i + 1]!.startsWith('-')) ? `--shards=${DEFAULT_SHARDS}` : arg));
}

/** Parses the command line (without `node` and the script). Throws {@link UsageError}. */
export function parseDemoArgs(argv: readonly string[]): DemoOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: withShardsDefault(argv),
      strict: true,
      allowPositionals: false,
      options: {
        replicas: { type: 'string' },
        'lease-duration-ms': { type: 'string' },
        'renew-deadline-ms': { type: 'string' },
        'retry-period-ms': { type: 'string' },
        'follower-strategy': { type: 'string' },
        'settle-ms': { type: 'string' },
        kubeconfig: { type: 'string' },
        'in-cluster': { type: 'boolean' },
        namespace: { type: 'string' },
        'lease-name': { type: 'string' },
        svg: { type: 'string' },
        prometheus: { type: 'boolean' },
        rollout: { type: 'boolean' },
        coordinated: { type: 'boolean' },
        shards: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }

  const shards = values.shards === undefined ? undefined : integer('shards', values.shards, DEFAULT_SHARDS, 1, MAX_DEMO_SHARDS);
  const replicas = integer('replicas', values.replicas, shards === undefined ? 3 : DEFAULT_SHARD_REPLICAS, MIN_REPLICAS, MAX_REPLICAS);
  const leaseDurationMs = integer('lease-duration-ms', values['lease-duration-ms'], 2000, 1);
  const renewDeadlineMs = integer('renew-deadline-ms', values['renew-deadline-ms'], 1500, 1);
  const retryPeriodMs = integer('retry-period-ms', values['retry-period-ms'], 500, 1);
  const settleMs = integer('settle-ms', values['settle-ms'], 3000, 0, 600_000);
  const strategy = values['follower-strategy'] ?? 'watch';
  if (strategy !== 'watch' && strategy !== 'poll') {
    throw new UsageError(`--follower-strategy: expected watch or poll, got ${JSON.stringify(strategy)}`);
  }
  if (values.kubeconfig !== undefined && values['in-cluster']) {
    throw new UsageError('--kubeconfig and --in-cluster exclude each other: pick the cluster one way');
  }
  if (values.rollout && values.prometheus) {
    throw new UsageError('--rollout and --prometheus exclude each other: Prometheus would scrape only the replicas started first');
  }
  if (values.coordinated && (values.rollout || values.prometheus)) {
    throw new UsageError('--coordinated excludes --rollout and --prometheus: pick one scene');
  }
  if (values.coordinated && (values.kubeconfig !== undefined || values['in-cluster'])) {
    throw new UsageError('--coordinated runs on the embedded server (its coordinator elects the holder); a cluster needs the CoordinatedLeaderElection feature gate: not with --kubeconfig or --in-cluster');
  }
  if (values.coordinated && values.replicas !== undefined) {
    throw new UsageError('--coordinated always runs 3 replicas (emulation versions 1.33, 1.32, 1.31): --replicas does not apply');
  }
  if (shards !== undefined) {
    if (values.rollout || values.coordinated || values.prometheus) throw new UsageError('--shards excludes --rollout, --coordinated and --prometheus: pick one scene');
    if (values.kubeconfig !== undefined || values['in-cluster']) throw new UsageError('--shards runs on the embedded server (it counts the requests there and creates the shard Leases): not with --kubeconfig or --in-cluster');
    if (values['follower-strategy'] !== undefined) throw new UsageError('--shards: shard electors always follow through the one set watch; --follower-strategy does not apply');
    if (values.svg !== undefined) throw new UsageError('--shards prints its picture as text; --svg does not apply');
  }
  if (values.kubeconfig === '') throw new UsageError('--kubeconfig: expected a file name');
  const namespace = values.namespace ?? 'default';
  const leaseName = values['lease-name'] ?? 'leasekit-demo';

  // The elector's own validation, so the rules and messages are the library's.
  try {
    resolveConfig({ identity: 'replica-1', leaseName, leaseNamespace: namespace, leaseDurationMs, renewDeadlineMs, retryPeriodMs, followerStrategy: strategy });
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
  // The sharded elector's own validation too (the set name, N), with its messages.
  const shardError = shards === undefined ? undefined : shardSetConfigError({ setName: leaseName, namespace, shards, leaseDurationMs, renewDeadlineMs, retryPeriodMs });
  if (shardError !== undefined) throw new UsageError(shardError);

  return {
    replicas,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    followerStrategy: strategy,
    kubeconfig: values.kubeconfig === undefined ? undefined : resolve(values.kubeconfig),
    inCluster: values['in-cluster'] ?? false,
    namespace,
    leaseName,
    svgPath: resolve(values.svg ?? join(tmpdir(), 'leasekit-demo-timeline.svg')),
    settleMs,
    prometheus: values.prometheus ?? false,
    rollout: values.rollout ?? false,
    coordinated: values.coordinated ?? false,
    shards,
    help: values.help ?? false,
  };
}
