/**
 * Probes of the shared abort reason (ABORT_ERROR) our own stops give a watch's signal: what a
 * custom LeaseClient sees, and that a client which rejects with `signal.reason` when its signal
 * aborts (as fetch-based clients do) is treated exactly like one that resolves: the follower, the
 * elector and the sharded set feed log, schedule and take over alike, on one seed and a FakeClock.
 */
import { describe, expect, it } from '@jest/globals';
import { resolveConfig } from './config.js';
import { makeStatus } from './errors.js';
import { LeaseFollower } from './follower.js';
import type { LeaseListResult, ListRequestOptions, SetWatchOptions, WatchOptions } from './lease.js';
import { toSafeLogger, type Logger } from './logger.js';
import { seededRandom } from './random.js';
import { formatMicroTime } from './record.js';
import { SetFeed } from './sharding/set-feed.js';
import { FakeClock } from './testing/fake-clock.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient } from './testing/memory-lease-client.js';
import { LEASE, NS, world } from './__tests__/harness.js';
import { PassThroughClient } from './__tests__/pass-through-client.js';

const R = 1000;
const SELECTOR = 'leasekit.io/shard-set=work';

/** How a watch that ends because its signal aborted settles: as KubeLeaseClient does, or as fetch does. */
type AbortStyle = 'resolves' | 'rejects with signal.reason';

/** Runs `watch`; when it ended because its signal aborted, settles the way `style` says. */
async function settle(style: AbortStyle, signal: AbortSignal | undefined, watch: () => Promise<void>): Promise<void> {
  await watch();
  if (style === 'rejects with signal.reason' && signal?.aborted) throw signal.reason;
}

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => void lines.push({ level, message, fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Lines at warn level or above. */
const warnings = (lines: LogLine[]): LogLine[] => lines.filter((l) => l.level === 'warn' || l.level === 'error');

/** A Lease client over a MemoryLeaseClient whose watches settle on abort as `style` says, and may open with a scripted ERROR event. */
class StyledClient extends PassThroughClient<MemoryLeaseClient> {
  /** The reason each watch's signal carried when it aborted, in order. */
  readonly reasons: unknown[] = [];
  /** Watch calls made, by fake time. */
  readonly opens: number[] = [];
  /** Watch calls (0-based) that deliver an ERROR event with this Status code first, then wait for their signal. */
  errorOnCall = new Map<number, number>();

  constructor(
    inner: MemoryLeaseClient,
    private readonly clock: FakeClock,
    private readonly style: AbortStyle,
  ) {
    super(inner);
  }

  list(namespace: string, options?: ListRequestOptions): Promise<LeaseListResult> {
    return this.inner.list(namespace, options);
  }

  watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    return this.styled(options, () => this.inner.watch(namespace, name, options));
  }

  watchSet(namespace: string, options: SetWatchOptions): Promise<void> {
    return this.styled(options, () => this.inner.watchSet(namespace, options));
  }

  private styled(options: WatchOptions, open: () => Promise<void>): Promise<void> {
    const call = this.opens.length;
    this.opens.push(this.clock.now());
    options.signal?.addEventListener('abort', () => this.reasons.push(options.signal?.reason), { once: true });
    const code = this.errorOnCall.get(call);
    const watch =
      code === undefined
        ? open
        : () =>
            new Promise<void>((resolve) => {
              options.onOpen?.();
              options.onEvent({ type: 'ERROR', object: makeStatus(code, 'InternalError', 'etcd went away') });
              if (options.signal?.aborted) resolve();
              else options.signal?.addEventListener('abort', () => resolve(), { once: true });
            });
    return settle(this.style, options.signal, watch);
  }
}

/** The reason a bare `abort()` gives, the one a LeaseClient saw before ABORT_ERROR. */
function bareAbortReason(): DOMException {
  const controller = new AbortController();
  controller.abort();
  return controller.signal.reason as DOMException;
}

function expectLikeBareAbort(reason: unknown): void {
  const bare = bareAbortReason();
  expect(reason).toBeInstanceOf(DOMException);
  const seen = reason as DOMException;
  // instanceof Error too, as a bare abort's reason is (under jest's vm realm neither is; in node both are).
  expect([seen.name, seen.code, seen.message, seen instanceof Error]).toEqual([bare.name, bare.code, bare.message, bare instanceof Error]);
}

// ---------------------------------------------------------------------------------------------

interface FollowerRun {
  lines: LogLine[];
  opens: number[];
  reasons: unknown[];
  seenRenewals: number;
  /** follower.healthy sampled every R/4. */
  healthy: boolean[];
}

/**
 * One follower over 30 R: a stream that delivers renewals, stop()/start() at 3 R (an intentional
 * stop), an ERROR 500 event on the second watch, healthy streams after, the stop signal at 25 R.
 */
async function followerRun(style: AbortStyle): Promise<FollowerRun> {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'leader', leaseDurationSeconds: 3, renewTime: formatMicroTime(clock.wallNow()) } });
  const client = new StyledClient(new MemoryLeaseClient(store, { clock }), clock, style);
  client.errorOnCall.set(1, 500);
  const lines: LogLine[] = [];
  let seenRenewals = 0;
  const follower = new LeaseFollower({
    client,
    config: resolveConfig({ identity: 'me', leaseName: LEASE, leaseNamespace: NS, leaseDurationMs: 3 * R, renewDeadlineMs: 2 * R, retryPeriodMs: R, clock, random: seededRandom(3) }),
    log: toSafeLogger(recordingLogger(lines)),
    onLease: () => seenRenewals++,
    onDeleted: () => undefined,
    currentResourceVersion: () => undefined,
  });
  let renewal = clock.setTimeout(function renew() {
    const current = store.get(NS, LEASE);
    store.update(NS, LEASE, { ...current, spec: { ...current.spec, renewTime: formatMicroTime(clock.wallNow()) } });
    renewal = clock.setTimeout(renew, R / 2);
  }, R / 2);
  const stop = new AbortController();
  const healthy: boolean[] = [];
  follower.start(stop.signal);
  for (let step = 1; step <= 120; step++) {
    await clock.advance(R / 4);
    if (step === 12) {
      follower.stop();
      follower.start(stop.signal);
    }
    if (step === 100) stop.abort();
    healthy.push(follower.healthy);
  }
  clock.clearTimeout(renewal);
  follower.stop();
  await clock.advance(0);
  expect(store.watcherCount).toBe(0);
  return { lines, opens: client.opens, reasons: client.reasons, seenRenewals, healthy };
}

describe('the follower with a client that rejects with signal.reason when its watch is stopped', () => {
  it('gives the client an AbortError like a bare abort() for every stop: stop(), a failed stream, the stop signal', async () => {
    const run = await followerRun('rejects with signal.reason');
    expect(run.reasons).toHaveLength(3);
    for (const reason of run.reasons) expectLikeBareAbort(reason);
  });

  it('logs, schedules and stays healthy exactly as with a client that resolves', async () => {
    const resolving = await followerRun('resolves');
    const rejecting = await followerRun('rejects with signal.reason');
    expect(rejecting).toEqual({ ...resolving, reasons: rejecting.reasons });
    // What both did: the one failure logged is the ERROR event's, not the abort that ended it.
    expect(warnings(rejecting.lines).map((l) => String(l.fields?.error))).toEqual([expect.stringContaining('(500)')]);
    expect(rejecting.opens.length).toBe(3); // stopped and started, failed, then healthy until the stop signal
    expect(rejecting.seenRenewals).toBeGreaterThan(20);
  });
});

// ---------------------------------------------------------------------------------------------

interface ElectorRun {
  followerLines: LogLine[];
  followerOpens: number[];
  leaders: string[];
}

/** a leads, b follows by watch; a resigns and b takes over (its watch stopped on acquisition); b resigns; both stop. */
async function electorRun(style: AbortStyle): Promise<ElectorRun> {
  const w = world(5);
  w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 } });
  const lines: LogLine[] = [];
  const bClient = new StyledClient(new MemoryLeaseClient(w.store, { clock: w.clock }), w.clock, style);
  const config = { followerStrategy: 'watch' as const, leaseDurationMs: 3 * R, renewDeadlineMs: 2 * R, retryPeriodMs: R };
  const a = w.replica('a', { config });
  const b = w.replica('b', { config, leaseClient: bClient, logger: recordingLogger(lines) });
  const leaders: string[] = [];
  const sample = (): void => void leaders.push([a, b].filter((r) => r.elector.isLeader()).map((r) => r.id).join('+'));
  a.start();
  await w.clock.advance(0);
  b.start();
  await w.clock.advance(5 * R);
  sample();
  await a.elector.resign({ cooldownMs: 2 * R });
  await w.clock.advance(5 * R);
  sample();
  await b.elector.resign({ cooldownMs: 20 * R });
  await w.clock.advance(5 * R);
  sample();
  await a.stop();
  await b.stop();
  expect(w.store.watcherCount).toBe(0);
  return { followerLines: lines, followerOpens: bClient.opens, leaders };
}

describe('an elector whose client rejects with signal.reason when its watch is stopped', () => {
  it('takes over, logs and watches exactly as with a client that resolves, and warns about nothing', async () => {
    const resolving = await electorRun('resolves');
    const rejecting = await electorRun('rejects with signal.reason');
    expect(rejecting).toEqual(resolving);
    expect(rejecting.leaders).toEqual(['a', 'b', 'a']);
    expect(warnings(rejecting.followerLines)).toEqual([]);
    expect(rejecting.followerOpens.length).toBeGreaterThanOrEqual(2);
  });
});

// ---------------------------------------------------------------------------------------------

interface FeedRun {
  lines: LogLine[];
  opens: number[];
  reasons: unknown[];
  changes: string[];
}

/** A set feed over 30 R: the first watch opens with an ERROR 500 event; Leases of the set come and go; stopped at 25 R. */
async function feedRun(style: AbortStyle): Promise<FeedRun> {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  const labels = { 'leasekit.io/shard-set': 'work' };
  store.create(NS, { metadata: { name: 'shard-0', labels }, spec: { holderIdentity: 'x' } });
  const client = new StyledClient(new MemoryLeaseClient(store, { clock }), clock, style);
  client.errorOnCall.set(0, 500);
  const lines: LogLine[] = [];
  const changes: string[] = [];
  const feed = new SetFeed({
    client,
    namespace: NS,
    labelSelector: SELECTOR,
    clock,
    random: seededRandom(2),
    retryPeriodMs: R,
    requestTimeoutMs: 5 * R,
    log: toSafeLogger(recordingLogger(lines)),
    onChange: (name, lease) => void changes.push(`${clock.now()} ${name} ${lease?.spec?.holderIdentity ?? '-'}`),
  });
  const stop = new AbortController();
  const done = feed.run(stop.signal);
  for (let step = 1; step <= 30; step++) {
    await clock.advance(R);
    if (step === 8) store.delete(NS, 'shard-0');
    if (step === 5) store.create(NS, { metadata: { name: 'shard-1', labels }, spec: { holderIdentity: 'y' } });
    if (step === 25) stop.abort();
  }
  await done;
  expect(store.watcherCount).toBe(0);
  return { lines, opens: client.opens, reasons: client.reasons, changes };
}

describe('the sharded set feed with a client that rejects with signal.reason when its watch is stopped', () => {
  it('logs, reconnects and reports changes exactly as with a client that resolves; the failure logged is the ERROR event', async () => {
    const resolving = await feedRun('resolves');
    const rejecting = await feedRun('rejects with signal.reason');
    expect(rejecting).toEqual({ ...resolving, reasons: rejecting.reasons });
    for (const reason of rejecting.reasons) expectLikeBareAbort(reason);
    expect(warnings(rejecting.lines).map((l) => String(l.fields?.error))).toEqual([expect.stringContaining('etcd went away')]);
    expect(rejecting.changes.length).toBeGreaterThanOrEqual(2);
  });
});
