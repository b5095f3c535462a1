/**
 * The two takeover scenarios, one fresh Lease per trial, three in-process electors per trial on
 * the embedded server (in this process too, over loopback HTTP):
 *
 * - graceful handover: the leader's run() signal aborts (releaseOnCancel: it stops leading, then
 *   releases the Lease); measured from that abort to another elector's onStartedLeading.
 * - crash failover: the leader is cut off at the server (its connections reset, new ones refused)
 *   and stopped without release; measured from its last renewal *committed on the server* to
 *   another elector's onStartedLeading. The commit is the earliest moment anyone could know of the
 *   renewal, so this is the conservative anchor (the leader's own acknowledgement comes later).
 *
 * In-process electors share one monotonic clock, so no cross-process clock error enters the
 * figures; the price is that the electors and the server share one event loop, which, with three
 * mostly idle electors, costs well under a millisecond.
 */
import type { FollowerStrategy, Lease } from '@leasekit/k8s-leaderelection';
import type { LeaseApiServer } from '@leasekit/lease-apiserver';
import { CandidateGroup, CountingLogger, sleep } from './candidates.js';
import type { Timings } from './options.js';

/** Namespace of every benchmark Lease. */
export const NAMESPACE = 'bench';

/** Samples from one scenario in one follower mode. */
export interface TrialSamples {
  readonly mode: FollowerStrategy;
  /** The headline figure per successful trial (ms). */
  readonly samples: number[];
  /** Handover: signal to the release committed on the server. Failover: kill to takeover. */
  readonly secondary: number[];
  /** Failover only: the dead leader's own last renewal acknowledgement to takeover. */
  readonly fromAck: number[];
  /** Trials that produced no takeover in time. */
  failures: number;
  /** Why, for the first few failed trials. */
  readonly failureReasons: string[];
  readonly log: CountingLogger;
}

/** How a trial is set up. */
export interface TrialOptions {
  readonly server: LeaseApiServer;
  readonly mode: FollowerStrategy;
  readonly trials: number;
  readonly timings: Timings;
  readonly replicas: number;
  /** Called after each trial (progress output). */
  readonly onTrial?: (index: number, sampleMs: number | undefined) => void;
}

/** Time for followers to settle (watch open, leader renewing) before the trial acts. */
function settleMs(timings: Timings): number {
  return 2 * timings.retryPeriodMs;
}

/** Bound on the first election of a trial: the Lease exists and is free, so it is immediate. */
const FIRST_LEADER_TIMEOUT_MS = 10_000;

/** Runs `trials` graceful handovers in one mode. */
export async function runHandoverTrials(options: TrialOptions): Promise<TrialSamples> {
  const { server, mode, timings } = options;
  const result: TrialSamples = { mode, samples: [], secondary: [], fromAck: [], failures: 0, failureReasons: [], log: new CountingLogger() };
  for (let i = 1; i <= options.trials; i++) {
    const leaseName = `handover-${mode}-${i}`;
    server.store.create(NAMESPACE, { metadata: { name: leaseName } });
    const group = new CandidateGroup({ server, namespace: NAMESPACE, leaseName, mode, timings, size: options.replicas, logger: result.log });
    let armedAt: number | undefined;
    let releasedAt: number | undefined;
    const watch = server.store.watch({ namespace: NAMESPACE, name: leaseName }, (event) => {
      const holder = (event.object as Lease).spec?.holderIdentity ?? '';
      if (armedAt !== undefined && releasedAt === undefined && holder === '') releasedAt = performance.now();
    });
    let sample: number | undefined;
    group.start();
    try {
      const first = await group.nextTakeover(0, [], FIRST_LEADER_TIMEOUT_MS);
      await sleep(settleMs(timings));
      armedAt = performance.now();
      first.candidate.stop.abort();
      const next = await group.nextTakeover(armedAt, [first.candidate], timings.leaseDurationMs + 10_000);
      sample = next.at - armedAt;
      result.samples.push(sample);
      if (releasedAt !== undefined) result.secondary.push(releasedAt - armedAt);
    } catch (err) {
      result.failures++;
      if (result.failureReasons.length < 5) result.failureReasons.push(`trial ${i}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      watch.stop();
      await group.stopAll();
    }
    options.onTrial?.(i, sample);
  }
  return result;
}

/** Runs `trials` crash failovers in one mode. */
export async function runFailoverTrials(options: TrialOptions): Promise<TrialSamples> {
  const { server, mode, timings } = options;
  const result: TrialSamples = { mode, samples: [], secondary: [], fromAck: [], failures: 0, failureReasons: [], log: new CountingLogger() };
  for (let i = 1; i <= options.trials; i++) {
    const leaseName = `failover-${mode}-${i}`;
    server.store.create(NAMESPACE, { metadata: { name: leaseName } });
    const group = new CandidateGroup({
      server,
      namespace: NAMESPACE,
      leaseName,
      mode,
      timings,
      size: options.replicas,
      releaseOnCancel: false,
      logger: result.log,
    });
    // The server-side commit time of every write, by holder: the store notifies watchers in the
    // same task as the write, before the response is sent.
    const committedAt = new Map<string, number>();
    const watch = server.store.watch({ namespace: NAMESPACE, name: leaseName }, (event) => {
      const holder = (event.object as Lease).spec?.holderIdentity ?? '';
      if (holder !== '') committedAt.set(holder, performance.now());
    });
    let partition: { remove(): void } | undefined;
    let sample: number | undefined;
    group.start();
    try {
      const first = await group.nextTakeover(0, [], FIRST_LEADER_TIMEOUT_MS);
      const leader = first.candidate;
      await sleep(settleMs(timings));
      // The crash: cut the leader off first (so nothing more of it lands), then stop its loop
      // without a release. Its in-flight request, if any, is reset.
      partition = server.faults.partition({ client: { token: leader.token }, mode: 'reset' });
      const killedAt = performance.now();
      leader.stop.abort();
      const next = await group.nextTakeover(killedAt, [leader], timings.leaseDurationMs + 2 * timings.renewDeadlineMs + 5000);
      const lastCommit = committedAt.get(leader.identity);
      if (lastCommit === undefined) throw new Error('the leader never committed a write');
      sample = next.at - lastCommit;
      result.samples.push(sample);
      result.secondary.push(next.at - killedAt);
      if (leader.lastRenewAckAt !== undefined) result.fromAck.push(next.at - leader.lastRenewAckAt);
    } catch (err) {
      result.failures++;
      if (result.failureReasons.length < 5) result.failureReasons.push(`trial ${i}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      watch.stop();
      await group.stopAll();
      partition?.remove();
    }
    options.onTrial?.(i, sample);
  }
  return result;
}
