/**
 * The two takeover scenarios, one fresh Lease per trial, three in-process electors per trial on
 * the embedded server (in this process too, over loopback HTTP):
 *
 * - graceful handover: the leader's run() signal aborts (releaseOnCancel: it stops leading, then
 *   releases the Lease); measured from that abort to another elector's onStartedLeading.
 * - directed handover: the leader calls `resign({ to })` naming a follower (it stops leading, then
 *   writes the Lease naming that follower); measured from that call to the named follower's
 *   onStartedLeading. A takeover by anyone else is a failed trial.
 * Both handovers also count the Lease requests the server received per handover: from the abort
 *   (or resign call) until half a retry period after the takeover (the new leader's first renewal
 *   is one retry period after it; the losers' 409s, if any, land before).
 * - crash failover: the leader is cut off at the server (its connections reset, new ones refused)
 *   and stopped without release; measured from its last renewal *committed on the server* to
 *   another elector's onStartedLeading. The commit is the earliest moment anyone could know of the
 *   renewal, so this is the conservative anchor (the leader's own acknowledgement comes later).
 *
 * In-process electors share one monotonic clock, so no cross-process clock error enters the
 * figures; the price is that the electors and the server share one event loop: work that deployed
 * replicas and the API server do on their own CPUs (a losing follower's 409, the watch pushes, the
 * old leader's shutdown) queues ahead of the new leader's steps here, about 1 ms of a graceful
 * handover (see "Where the time goes" in docs/benchmarks.md). Separate processes measured slower
 * still on a two-vCPU machine (each stage wakes a sleeping process).
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
  /**
   * Handovers only, where the headline time goes: the release (or handover write) committed to
   * the new leader's own write committed (the followers' reaction and that write's request), and
   * that commit to its onStartedLeading (the answer reaching it). With `secondary`, the three add
   * up to the headline figure.
   */
  readonly reactMs: number[];
  readonly answerMs: number[];
  /** Handovers only: Lease API requests the server received per handover (see the file comment). */
  readonly requests: number[];
  /** Handovers only: the same requests summed over the successful trials, by verb. */
  readonly requestsByVerb: Record<string, number>;
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
  /** Handover only: the leader hands over with `resign({ to })` instead of aborting with release. */
  readonly directed?: boolean;
  /** Called after each trial (progress output). */
  readonly onTrial?: (index: number, sampleMs: number | undefined) => void;
}

/** Time for followers to settle (watch open, leader renewing) before the trial acts. */
function settleMs(timings: Timings): number {
  return 2 * timings.retryPeriodMs;
}

/** Bound on the first election of a trial: the Lease exists and is free, so it is immediate. */
const FIRST_LEADER_TIMEOUT_MS = 10_000;

/** A trial result with nothing in it yet. */
function emptySamples(mode: FollowerStrategy): TrialSamples {
  return { mode, samples: [], secondary: [], fromAck: [], reactMs: [], answerMs: [], requests: [], requestsByVerb: {}, failures: 0, failureReasons: [], log: new CountingLogger() };
}

/**
 * Runs `trials` handovers in one mode: graceful (the leader's signal aborts, it releases), or with
 * `directed`, `resign({ to })` naming the first follower.
 */
export async function runHandoverTrials(options: TrialOptions): Promise<TrialSamples> {
  const { server, mode, timings } = options;
  const directed = options.directed ?? false;
  const result = emptySamples(mode);
  for (let i = 1; i <= options.trials; i++) {
    const leaseName = `${directed ? 'directed' : 'handover'}-${mode}-${i}`;
    server.store.create(NAMESPACE, { metadata: { name: leaseName } });
    const group = new CandidateGroup({ server, namespace: NAMESPACE, leaseName, mode, timings, size: options.replicas, logger: result.log });
    let armedAt: number | undefined;
    let committedAt: number | undefined;
    // Graceful: the release (holder empty). Directed: the handover write (holder: the target).
    let handedTo = '';
    // Every commit after the release (or handover write): the first naming the new leader is its own write.
    const later: Array<{ at: number; holder: string }> = [];
    const watch = server.store.watch({ namespace: NAMESPACE, name: leaseName }, (event) => {
      const holder = (event.object as Lease).spec?.holderIdentity ?? '';
      if (armedAt === undefined) return;
      if (committedAt === undefined) {
        if (holder === handedTo) committedAt = performance.now();
      } else later.push({ at: performance.now(), holder });
    });
    let sample: number | undefined;
    let resigned: Promise<void> | undefined;
    group.start();
    try {
      const first = await group.nextTakeover(0, [], FIRST_LEADER_TIMEOUT_MS);
      const target = directed ? group.candidates.find((c) => c !== first.candidate)! : undefined;
      await sleep(settleMs(timings));
      const before = server.counters.snapshot('leases');
      handedTo = target?.identity ?? '';
      armedAt = performance.now();
      if (target) resigned = first.candidate.elector.resign({ to: target.identity });
      else first.candidate.stop.abort();
      const next = await group.nextTakeover(armedAt, [first.candidate], timings.leaseDurationMs + 10_000);
      if (target && next.candidate !== target) throw new Error(`${next.candidate.identity} took over, not the named ${target.identity}`);
      sample = next.at - armedAt;
      await sleep(timings.retryPeriodMs / 2);
      const after = server.counters.snapshot('leases');
      result.requests.push(after.total - before.total);
      for (const [verb, n] of Object.entries(after)) {
        if (verb !== 'total' && n > before[verb as keyof typeof before]) result.requestsByVerb[verb] = (result.requestsByVerb[verb] ?? 0) + n - before[verb as keyof typeof before];
      }
      result.samples.push(sample);
      if (committedAt !== undefined) {
        result.secondary.push(committedAt - armedAt);
        const own = later.find((c) => c.holder === next.candidate.identity);
        if (own) {
          result.reactMs.push(own.at - committedAt);
          result.answerMs.push(next.at - own.at);
        }
      }
    } catch (err) {
      sample = undefined;
      result.failures++;
      if (result.failureReasons.length < 5) result.failureReasons.push(`trial ${i}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      watch.stop();
      await resigned?.catch(() => undefined);
      await group.stopAll();
    }
    options.onTrial?.(i, sample);
  }
  return result;
}

/** Runs `trials` crash failovers in one mode. */
export async function runFailoverTrials(options: TrialOptions): Promise<TrialSamples> {
  const { server, mode, timings } = options;
  const result = emptySamples(mode);
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
