/**
 * The rollout scene: three replicas replaced one by one the way a Deployment's RollingUpdate does
 * it with one surge pod and none unavailable (start a new replica, wait until it follows the
 * Lease, and for a watching replica until its watch is open, then stop the oldest old one), twice
 * on the same fleet's Lease:
 *
 * - `release`: the replicas run the adapter (`LeaderElectionComponent`) without handover on
 *   shutdown; each old replica is stopped the way SIGTERM stops it (its run() signal aborts): a
 *   leader releases the Lease and any follower may take it.
 * - `newest`: every replica runs the adapter with `handoverOnShutdown: 'newest'` (a membership
 *   Lease each, timings from the demo's `membershipTimings`); each old replica is stopped the same
 *   way and nothing else: a leader hands the Lease to the most recently joined live replica.
 *
 * The replicas are the demo replica's component (`@leasekit/demo/replica-component`, the same
 * options as `pnpm demo --rollout`), in process rather than in child processes so every time is on
 * one monotonic clock. Counted from the first replacement's start to the moment the last old
 * replica's run() returned and a replica leads (see the demo's leadership.ts, shared with
 * `pnpm demo --rollout`): leadership changes and total leaderless time. Over real HTTP to the
 * embedded server as in the takeover trials.
 */
import { membershipLeaseName, type FollowerStrategy, type Logger } from '@leasekit/k8s-leaderelection';
import type { LeaseApiServer } from '@leasekit/lease-apiserver';
import { CountingLogger, sleep } from './candidates.js';
import { NAMESPACE } from './election-trials.js';
import type { Timings } from './options.js';
import { countLeadership, type LeaderTerm, type LeadershipCount } from '@leasekit/demo/leadership';
import { createReplicaComponent, membershipTimings } from '@leasekit/demo/replica-component';

/** How old replicas leave. */
export type RolloutVariant = 'release' | 'newest';
export const ROLLOUT_VARIANTS: readonly RolloutVariant[] = ['release', 'newest'];

/** One rollout of three replicas. */
export interface RolloutRun extends LeadershipCount {
  readonly variant: RolloutVariant;
  readonly mode: FollowerStrategy;
  /** From the first replacement's start to the end (see the file comment). */
  readonly durationMs: number;
}

/** Every rollout of the scenario. */
export interface RolloutResult {
  readonly runs: RolloutRun[];
  /** Rollouts that could not finish (a wait timed out), with the reason. */
  readonly failureReasons: string[];
  readonly log: CountingLogger;
}

interface Replica {
  readonly identity: string;
  readonly component: ReturnType<typeof createReplicaComponent>['component'];
  readonly stop: AbortController;
  done: Promise<void>;
}

/** Electors on one Lease, added and stopped one at a time, with every term they led. */
class Fleet {
  readonly terms: { identity: string; startAt: number; endAt: number | undefined }[] = [];

  constructor(
    private readonly server: LeaseApiServer,
    private readonly leaseName: string,
    private readonly mode: FollowerStrategy,
    private readonly timings: Timings,
    private readonly handoverOnShutdown: boolean,
    private readonly logger: Logger,
  ) {}

  /** Starts one more replica. */
  add(identity: string): Replica {
    const { component } = createReplicaComponent(
      {
        identity,
        leaseName: this.leaseName,
        leaseNamespace: NAMESPACE,
        ...this.timings,
        followerStrategy: this.mode,
        ...(this.handoverOnShutdown ? { handoverOnShutdown: membershipTimings(this.timings.leaseDurationMs) } : {}),
      },
      this.server.kubeConfig({ token: `${identity}-token`, namespace: NAMESPACE }),
      {
        onStartedLeading: (signal) => {
          const term = { identity, startAt: performance.now(), endAt: undefined as number | undefined };
          this.terms.push(term);
          // The term ends when the leadership signal aborts: the replica stopped acting as leader.
          signal.addEventListener('abort', () => (term.endAt = performance.now()), { once: true });
        },
      },
      this.logger,
    );
    const replica: Replica = { identity, component, stop: new AbortController(), done: Promise.resolve() };
    replica.done = component.run(replica.stop.signal);
    return replica;
  }

  /** The replica leading now, if any. */
  leader(): string | undefined {
    return this.terms.find((t) => t.endAt === undefined)?.identity;
  }

  /**
   * Waits until `predicate` holds, checking every 10 ms (the terms' times come from the electors'
   * own callbacks, so this only paces the scene); rejects after `timeoutMs`.
   */
  async until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!predicate()) {
      if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(10);
    }
  }
}

/** What one rollout needs. */
export interface RolloutOptions {
  readonly server: LeaseApiServer;
  readonly mode: FollowerStrategy;
  readonly variant: RolloutVariant;
  readonly timings: Timings;
  /** Distinguishes the Lease of this rollout from the others'. */
  readonly index: number;
  readonly log: CountingLogger;
}

/** Replicas per fleet, as in the scene. */
export const ROLLOUT_REPLICAS = 3;

/** Runs one rollout; rejects when a wait times out (everything is stopped either way). */
export async function runOneRollout(o: RolloutOptions): Promise<RolloutRun> {
  const { server, mode, variant, timings } = o;
  const leaseName = `rollout-${variant}-${mode}-${o.index}`;
  server.store.create(NAMESPACE, { metadata: { name: leaseName } });
  const handover = variant === 'newest';
  const fleet = new Fleet(server, leaseName, mode, timings, handover, o.log);
  /** With handover on shutdown, a replica counts once its membership Lease exists. */
  const joined = (identity: string): boolean => {
    if (!handover) return true;
    const name = membershipLeaseName(leaseName, identity);
    return server.store.list(NAMESPACE).items.some((lease) => lease.metadata?.name === name);
  };
  const replicas: Replica[] = [];
  const waitBound = timings.leaseDurationMs + 10_000;
  try {
    for (let i = 1; i <= ROLLOUT_REPLICAS; i++) replicas.push(fleet.add(`${leaseName}-old-${i}`));
    await fleet.until(() => fleet.leader() !== undefined, 10_000, 'the first leader');
    await fleet.until(() => replicas.every((r) => joined(r.identity)), waitBound, 'every replica to join the membership');
    await sleep(2 * timings.retryPeriodMs);
    const fromAt = performance.now();
    for (let i = 1; i <= ROLLOUT_REPLICAS; i++) {
      // Surge: a new replica, followed by the Lease (and, watching, with its watch open; with
      // handover on shutdown, a member).
      const watchesBefore = server.counters.get('watch');
      const added = fleet.add(`${leaseName}-new-${i}`);
      replicas.push(added);
      await fleet.until(
        () => added.component.snapshot().observedRecord !== undefined && (mode === 'poll' || server.counters.get('watch') > watchesBefore) && joined(added.identity),
        waitBound,
        `${added.identity} to follow the Lease`,
      );
      // Then one old replica goes, the oldest still running, the way SIGTERM stops it: nothing else.
      const old = replicas.find((r) => r.identity.includes('-old-') && !r.stop.signal.aborted)!;
      old.stop.abort();
      await old.done;
    }
    await fleet.until(() => fleet.leader() !== undefined, waitBound, 'a leader after the rollout');
    const toAt = performance.now();
    return { variant, mode, durationMs: toAt - fromAt, ...countLeadership(fleet.terms as LeaderTerm[], fromAt, toAt) };
  } finally {
    for (const r of replicas) r.stop.abort();
    await Promise.all(replicas.map((r) => r.done));
  }
}

/** Runs `runs` rollouts per variant and follower mode, one at a time. */
export async function runRollouts(options: {
  readonly server: LeaseApiServer;
  readonly runs: number;
  readonly timings: Timings;
  readonly onRun?: (run: RolloutRun) => void;
}): Promise<RolloutResult> {
  const result: RolloutResult = { runs: [], failureReasons: [], log: new CountingLogger() };
  let index = 0;
  for (const mode of ['watch', 'poll'] as const) {
    for (const variant of ROLLOUT_VARIANTS) {
      for (let i = 1; i <= options.runs; i++) {
        index++;
        try {
          const run = await runOneRollout({ server: options.server, mode, variant, timings: options.timings, index, log: result.log });
          result.runs.push(run);
          options.onRun?.(run);
        } catch (err) {
          result.failureReasons.push(`${variant} ${mode} #${i}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    }
  }
  return result;
}
