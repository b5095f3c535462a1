/**
 * The retry-storm scenario: what followers send while every write fails. Three followers contend
 * for a free Lease (so each wants to acquire it at once) on an embedded server that answers every
 * write with a failure: 500, 503 with Retry-After, 403 (what a denying webhook or missing RBAC
 * answers), or no answer at all (the write hangs until the client gives up). For a fixed window
 * from the moment the followers start, the SERVER counts each follower's requests by verb; the
 * count is judged against client-go's budget for that window (see storm-budget.ts).
 *
 * Followers are told apart on the server by their bearer tokens: each elector's KubeConfig sends
 * its own (`Authorization: Bearer <identity>-token`, the same marker partition faults match), and
 * the server's `onRequest` record carries the request's headers and arrival time. A request counts
 * when it arrived inside the window, whatever became of it; a request is recorded once its
 * response is over (a hung write when its client gives up or the server closes), so the tally is
 * taken after the electors and the server have stopped, once the server's own counters agree.
 *
 * One run per failure kind and follower strategy, one after another (a storm is CPU work on a
 * shared machine; runs side by side would slow each other's storms down and hide part of them).
 */
import type { FollowerStrategy } from '@leasekit/k8s-leaderelection';
import { WRITE_VERBS, startLeaseApiServer, type Faults, type RequestRecord } from '@leasekit/lease-apiserver';
import { CandidateGroup, CountingLogger, sleep } from './candidates.js';
import { NAMESPACE } from './election-trials.js';
import type { StormKind, Timings } from './options.js';
import { clientGoBudget, emptyTally, judge, type Budget, type FollowerVerdict, type VerbTally } from './storm-budget.js';

/** Retry-After sent with the 503s, in seconds: what the API server sends when it sheds load. */
export const RETRY_AFTER_SECONDS = 1;

/** What each kind answers, for the report. */
export const STORM_KIND_LABELS: Record<StormKind, string> = {
  '500': '500 InternalError',
  '503': `503 + Retry-After ${RETRY_AFTER_SECONDS}`,
  '403': '403 Forbidden (webhook/RBAC)',
  hang: 'write hangs (client timeout)',
};

/** Installs the kind's rule: every write to Leases (and Events) fails that way. */
function installFault(faults: Faults, kind: StormKind): void {
  const scope = { verbs: WRITE_VERBS };
  switch (kind) {
    case '500':
      faults.addError({ ...scope, code: 500 });
      return;
    case '503':
      faults.addError({ ...scope, code: 503, retryAfterSeconds: RETRY_AFTER_SECONDS });
      return;
    case '403':
      faults.addError({ ...scope, code: 403, message: 'admission webhook "leases.policy.example.com" denied the request: injected fault' });
      return;
    case 'hang':
      faults.addHang(scope);
      return;
  }
}

/** One follower's requests in one run. */
export interface StormFollower extends FollowerVerdict {
  readonly identity: string;
  /** Lease API requests by verb. */
  readonly byVerb: VerbTally;
}

/** One failure kind with one follower strategy. */
export interface StormRun {
  readonly kind: StormKind;
  readonly strategy: FollowerStrategy;
  /** The window actually measured (the budget is computed from it). */
  readonly windowMs: number;
  readonly budget: Budget;
  readonly followers: readonly StormFollower[];
  /** Requests in the window that were not a follower's Lease request (Events, or no known token). */
  readonly otherRequests: number;
  /** Lease requests the server counted but never reported; anything but 0 means the tally is short. */
  readonly unreportedRequests: number;
  /** Followers that became leader (a write got through: the fault did not hold). */
  readonly leaders: number;
  readonly log: CountingLogger;
}

/** The whole scenario. */
export interface StormResult {
  /** The requested window per run. */
  readonly durationMs: number;
  readonly timings: Timings;
  readonly followers: number;
  readonly runs: readonly StormRun[];
}

/** What to run. */
export interface StormOptions {
  readonly kinds: readonly StormKind[];
  /** @default ['watch', 'poll'] */
  readonly strategies?: readonly FollowerStrategy[];
  readonly durationMs: number;
  readonly timings: Timings;
  /** Followers per run. @default 3 */
  readonly followers?: number;
  /** Called after each run (progress). */
  readonly onRun?: (run: StormRun) => void;
}

/** Runs every kind with every strategy, one after another. */
export async function runStorm(options: StormOptions): Promise<StormResult> {
  const followers = options.followers ?? 3;
  const runs: StormRun[] = [];
  for (const kind of options.kinds) {
    for (const strategy of options.strategies ?? (['watch', 'poll'] as const)) {
      const run = await measure(kind, strategy, options.durationMs, options.timings, followers);
      runs.push(run);
      options.onRun?.(run);
    }
  }
  return { durationMs: options.durationMs, timings: options.timings, followers, runs };
}

async function measure(kind: StormKind, strategy: FollowerStrategy, durationMs: number, timings: Timings, size: number): Promise<StormRun> {
  const records: RequestRecord[] = [];
  const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0, onRequest: (r) => records.push(r) });
  const log = new CountingLogger();
  const leaseName = `storm-${kind}-${strategy}`;
  let startedAt = 0;
  let endedAt = 0;
  let counted = 0;
  let group: CandidateGroup | undefined;
  try {
    // A free Lease (no holder): every follower wants it now, none has to wait out a lease duration.
    server.store.create(NAMESPACE, { metadata: { name: leaseName } });
    installFault(server.faults, kind);
    group = new CandidateGroup({ server, namespace: NAMESPACE, leaseName, mode: strategy, timings, size, logger: log });
    startedAt = performance.now();
    group.start();
    // At least the full window: a timer may fire a fraction of a millisecond early on this clock.
    for (let left = durationMs; left > 0; left = startedAt + durationMs - performance.now()) await sleep(Math.ceil(left));
    endedAt = performance.now();
  } finally {
    await group?.stopAll();
    await server.close();
    counted = server.counters.snapshot('leases').total;
  }
  // Requests cut off by stop or close() (a hung write, an open watch) report from their sockets'
  // close events, which can come a few event-loop turns later: wait for them, boundedly.
  const reported = (): number => records.filter((r) => r.resource === 'leases').length;
  for (let waited = 0; reported() < counted && waited < 2000; waited += 10) await sleep(10);

  const byToken = new Map(group.candidates.map((c) => [`Bearer ${c.token}`, c.identity]));
  const tallies = new Map(group.candidates.map((c) => [c.identity, emptyTally()]));
  let otherRequests = 0;
  for (const r of records) {
    if (r.startedAtMs < startedAt || r.startedAtMs > endedAt) continue;
    const identity = byToken.get(String(r.headers.authorization ?? ''));
    const tally = identity === undefined ? undefined : tallies.get(identity);
    if (tally && r.resource === 'leases' && r.verb !== undefined) tally[r.verb]++;
    else otherRequests++;
  }
  const windowMs = endedAt - startedAt;
  const budget = clientGoBudget(windowMs, timings.retryPeriodMs);
  const followers = group.candidates.map((c): StormFollower => {
    const byVerb = tallies.get(c.identity)!;
    return { identity: c.identity, byVerb, ...judge(byVerb, budget) };
  });
  return {
    kind,
    strategy,
    windowMs,
    budget,
    followers,
    otherRequests,
    unreportedRequests: counted - reported(),
    leaders: group.candidates.filter((c) => c.startedLeadingAt.length > 0).length,
    log,
  };
}
