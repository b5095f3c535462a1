/**
 * Probes of `handoverOnShutdown: 'newest'` by someone with no stake in the code: the order of
 * what every replica says (isLeader, is_leader gauge, callbacks, bus events) across a handover,
 * request cost, shutdown bounds under failures, a dead or foreign target, restarts, runs aborted
 * early, and bad input. Fake clock, in-memory store with injected faults; no sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiError, MEMBER_OF_LABEL, memberOfLabelValue, membershipLeaseName, type ConfigError, type LeaderCallbacks } from '@leasekit/k8s-leaderelection';
import { LeaseStore, MemoryLeaseClient, type Fault, type MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { formatMicroTime, makeStatus } from '@leasekit/k8s-leaderelection/internal';
import { configErrorOf } from './__tests__/config-error.js';
import { isLeaderGauge, joinedApart, LEASE, NS, world, type Replica, type ReplicaOptions, type World } from './__tests__/helpers.js';

const HANDOVER = { handoverOnShutdown: 'newest' as const };
const MAX_INT32 = 2 ** 31 - 1;

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

const unavailable = () => new ApiError(makeStatus(503, 'ServiceUnavailable', 'try later'));

/** One log for all replicas, in the order things happened (fake time alone cannot order one instant). */
type Log = string[];

/** A replica whose callbacks and bus events go to the shared log, as `<id>:<what>`. */
function replica(w: World, log: Log, id: string, options: ReplicaOptions = {}): Replica {
  const user = options.callbacks ?? {};
  const callbacks: LeaderCallbacks = {
    onStartedLeading: (signal, term) => {
      log.push(`${id}:onStartedLeading`);
      signal.addEventListener('abort', () => log.push(`${id}:signal.aborted`), { once: true });
      return user.onStartedLeading?.(signal, term);
    },
    onStoppedLeading: (info) => {
      log.push(`${id}:onStoppedLeading:${info.reason}`);
      return user.onStoppedLeading?.(info);
    },
  };
  const r = w.replica(id, { ...options, callbacks, config: { ...HANDOVER, ...options.config } });
  r.bus.on('leader.became', () => void log.push(`${id}:leader.became`));
  r.bus.on('leader.lost', (payload) => void log.push(`${id}:leader.lost:${payload.reason}`));
  return r;
}

/** Advances in steps; at every step at most one replica says isLeader() and at most one gauge is 1. */
async function runChecked(w: World, replicas: readonly Replica[], ms: number, until?: () => boolean, stepMs = 50): Promise<void> {
  const end = w.clock.now() + ms;
  while (w.clock.now() < end && !until?.()) {
    await w.clock.advance(Math.min(stepMs, end - w.clock.now()));
    const leaders = replicas.filter((r) => r.component.isLeader()).map((r) => r.id);
    if (leaders.length > 1) throw new Error(`two leaders (isLeader) at ${w.clock.now()} ms: ${leaders.join(', ')}`);
    const gauges = await Promise.all(replicas.map(isLeaderGauge));
    const ones = replicas.filter((_, i) => gauges[i] === 1).map((r) => r.id);
    if (ones.length > 1) throw new Error(`two is_leader gauges at 1 at ${w.clock.now()} ms: ${ones.join(', ')}`);
  }
}

/** Aborts `r` and runs checked until its run() resolved; returns the fake time it took. */
async function stopChecked(w: World, replicas: readonly Replica[], r: Replica, maxMs = 120_000): Promise<number> {
  let finished = false;
  void r.done?.then(() => (finished = true));
  const from = w.clock.now();
  r.controller.abort();
  await runChecked(w, replicas, maxMs, () => finished);
  expect(finished).toBe(true);
  await r.done;
  return w.clock.now() - from;
}

/** Runs `r` with a signal aborted before the call; asserts that run() resolves. */
async function runAborted(w: World, r: Replica): Promise<void> {
  const controller = new AbortController();
  controller.abort();
  let done = false;
  void r.component.run(controller.signal).then(() => (done = true));
  expect(await w.clock.advanceUntil(() => done, 30_000)).toBe(true);
}

async function stopAll(...rs: Replica[]): Promise<void> {
  for (const r of rs) await r.stop();
}

const kinds = (r: Replica, from: number) =>
  r.client.calls.slice(from).map((c) => `${c.verb}:${c.name === LEASE ? 'election' : c.name === '' ? '' : c.name.startsWith(`${LEASE}-member-`) ? 'member' : c.name}`);

/** Leader `a`, then `b` and `c` joined 5 s apart (c is the newest). */
async function threeJoined(w: World, log: Log, opts: Partial<Record<'a' | 'b' | 'c', ReplicaOptions>> = {}) {
  w.createLease();
  const a = replica(w, log, 'a', opts.a);
  const b = replica(w, log, 'b', opts.b);
  const c = replica(w, log, 'c', opts.c);
  await joinedApart(w, a, [b, c]);
  return { a, b, c };
}

describe('shutdown handover probes: one leader, in order (M1)', () => {
  it.each(['poll', 'watch'] as const)(
    'with %s followers: the old leader stops (signal aborted, onStoppedLeading, leader.lost handed_over) before the newest replica starts; never two leaders by isLeader or gauge',
    async (followerStrategy) => {
      const w = world(201);
      const log: Log = [];
      const config = { followerStrategy } as const;
      const { a, b, c } = await threeJoined(w, log, { a: { config }, b: { config }, c: { config } });
      log.length = 0;
      await stopChecked(w, [a, b, c], a);
      await runChecked(w, [a, b, c], 30_000, () => c.component.isLeader());
      await runChecked(w, [a, b, c], 5_000);
      expect(c.component.isLeader()).toBe(true);
      expect(log).toEqual([
        'a:signal.aborted',
        'a:leader.lost:handed_over',
        'a:onStoppedLeading:handed_over',
        'c:onStartedLeading',
        'c:leader.became',
      ]);
      expect(await isLeaderGauge(a)).toBe(0);
      expect(await isLeaderGauge(c)).toBe(1);
      await stopAll(b, c);
    },
  );

  it.each(['poll', 'watch'] as const)(
    'with %s followers and a leader whose cleanup takes 3 s: the newest replica starts only after that cleanup finished',
    async (followerStrategy) => {
      const w = world(204);
      const log: Log = [];
      const config = { followerStrategy } as const;
      const slowCleanup = {
        config,
        callbacks: {
          onStoppedLeading: () =>
            new Promise<void>((resolve) => {
              w.clock.setTimeout(() => {
                log.push('a:cleanup.done');
                resolve();
              }, 3_000);
            }),
        },
      };
      const { a, b, c } = await threeJoined(w, log, { a: slowCleanup, b: { config }, c: { config } });
      log.length = 0;
      await stopChecked(w, [a, b, c], a);
      await runChecked(w, [a, b, c], 30_000, () => c.component.isLeader());
      expect(c.component.isLeader()).toBe(true);
      expect(log).toEqual(['a:signal.aborted', 'a:leader.lost:handed_over', 'a:onStoppedLeading:handed_over', 'a:cleanup.done', 'c:onStartedLeading', 'c:leader.became']);
      await stopAll(b, c);
    },
  );

  it('skips the leftover membership of a replica that crashed minutes ago (expired) and hands over to the live one', async () => {
    const w = world(205);
    const log: Log = [];
    const { a, b, c } = await threeJoined(w, log);
    await c.stop();
    // A replica that crashed long ago, joined "last" by its acquireTime, renewed 2 minutes ago (60 s duration).
    const joined = formatMicroTime(w.clock.wallNow() - 1_000);
    const renewed = formatMicroTime(w.clock.wallNow() - 120_000);
    w.store.create(NS, { metadata: { name: membershipLeaseName(LEASE, 'crashed'), labels: { [MEMBER_OF_LABEL]: LEASE }, annotations: { [MEMBER_OF_LABEL]: LEASE } }, spec: { holderIdentity: 'crashed', leaseDurationSeconds: 60, acquireTime: joined, renewTime: renewed } });
    await stopChecked(w, [a, b, c], a);
    await runChecked(w, [a, b, c], 10_000, () => b.component.isLeader());
    expect(b.component.isLeader()).toBe(true);
    expect(log.filter((e) => e.startsWith('a:leader.lost'))).toEqual(['a:leader.lost:handed_over']);
    await stopAll(b);
  });

  it('never changes who leads when membership Leases are deleted, forged or their API fails while everyone runs', async () => {
    const w = world(202);
    const log: Log = [];
    const memberFault = { on: false };
    const fault = (call: MemoryCall): Fault | undefined => (memberFault.on && call.name !== LEASE ? { kind: 'error', error: unavailable() } : undefined);
    const { a, b, c } = await threeJoined(w, log, { a: { client: { fault } }, b: { client: { fault } }, c: { client: { fault } } });
    log.length = 0;
    memberFault.on = true;
    for (let round = 0; round < 4; round++) {
      for (const id of ['a', 'b', 'c']) if (w.store.peek(NS, membershipLeaseName(LEASE, id))) w.store.delete(NS, membershipLeaseName(LEASE, id));
      // A forged member claiming b joined in the future.
      const forged = membershipLeaseName(LEASE, 'b');
      if (!w.store.peek(NS, forged)) {
        const t = formatMicroTime(w.clock.wallNow() + 3_600_000);
        w.store.create(NS, { metadata: { name: forged, labels: { [MEMBER_OF_LABEL]: LEASE }, annotations: { [MEMBER_OF_LABEL]: LEASE } }, spec: { holderIdentity: 'b', leaseDurationSeconds: 60, acquireTime: t, renewTime: t } });
      }
      await runChecked(w, [a, b, c], 30_000, undefined, 250);
    }
    expect(a.component.isLeader()).toBe(true);
    expect(log).toEqual([]);
    memberFault.on = false;
    await stopAll(a, b, c);
  });

  it('a handoverTo() in flight when the signal aborts: one leader.lost (handed_over), to the target the user named, one leader', async () => {
    const w = world(203);
    const log: Log = [];
    const { a, b, c } = await threeJoined(w, log);
    log.length = 0;
    const call = a.component.handoverTo('b');
    await stopChecked(w, [a, b, c], a);
    await call;
    await runChecked(w, [a, b, c], 30_000, () => b.component.isLeader() || c.component.isLeader());
    expect(b.component.isLeader()).toBe(true);
    expect(log.filter((e) => e.includes('leader.lost') || e.includes('leader.became'))).toEqual(['a:leader.lost:handed_over', 'b:leader.became']);
    await stopAll(b, c);
  });
});

describe('shutdown handover probes: cost (M4)', () => {
  it('a handover on shutdown costs the old leader one list, one write and one delete, and the watching target one write', async () => {
    const w = world(211);
    const log: Log = [];
    const config = { followerStrategy: 'watch' } as const;
    const { a, b, c } = await threeJoined(w, log, { a: { config }, b: { config }, c: { config } });
    const fromA = a.client.calls.length;
    const fromC = c.client.calls.length;
    await stopChecked(w, [a, b, c], a);
    await runChecked(w, [a, b, c], 10_000, () => c.component.isLeader());
    expect(c.component.isLeader()).toBe(true);
    expect(kinds(a, fromA)).toEqual(['list:', 'update:election', 'delete:member']);
    expect(kinds(c, fromC).filter((k) => k.endsWith(':election'))).toEqual(['update:election']);
    await stopAll(b, c);
  });

  it('when the list fails the shutdown costs the list, the release and the delete, and is not retried', async () => {
    const w = world(212);
    const log: Log = [];
    const fault = (call: MemoryCall): Fault | undefined => (call.verb === 'list' ? { kind: 'error', error: new ApiError(makeStatus(429, 'TooManyRequests', 'slow down'), { retryAfterSeconds: 1 }) } : undefined);
    const { a, b, c } = await threeJoined(w, log, { a: { client: { fault } } });
    const from = a.client.calls.length;
    await stopChecked(w, [a, b, c], a);
    expect(kinds(a, from)).toEqual(['list:', 'update:election', 'delete:member']);
    expect(log.filter((e) => e.startsWith('a:leader.lost'))).toEqual(['a:leader.lost:released']);
    await stopAll(b, c);
  });
});

describe('shutdown handover probes: bounded and clean (M2)', () => {
  const timings = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, onStoppedLeadingTimeoutMs: 5_000 };
  // list + onStoppedLeading + the handover or release write + the membership delete, and one in-flight renewal.
  const bound = 4 * timings.renewDeadlineMs + timings.onStoppedLeadingTimeoutMs;

  it('resolves within the bound when the list hangs, every election write fails with 503 and the delete fails; then another replica leads', async () => {
    const w = world(221);
    const log: Log = [];
    const broken = { on: false };
    const fault = (call: MemoryCall): Fault | undefined => {
      if (!broken.on) return undefined;
      if (call.verb === 'list') return { kind: 'hang' };
      if (call.verb === 'delete') return { kind: 'error', error: unavailable() };
      if (call.name === LEASE && call.verb === 'update') return { kind: 'error', error: unavailable() };
      return undefined;
    };
    const { a, b, c } = await threeJoined(w, log, { a: { config: timings, client: { fault } }, b: { config: timings }, c: { config: timings } });
    broken.on = true;
    const took = await stopChecked(w, [a, b, c], a);
    expect(took).toBeLessThanOrEqual(bound);
    expect(a.component.isLeader()).toBe(false);
    expect(await isLeaderGauge(a)).toBe(0);
    await runChecked(w, [a, b, c], 60_000, () => b.component.isLeader() || c.component.isLeader());
    expect(b.component.isLeader() || c.component.isLeader()).toBe(true);
    await stopAll(b, c);
    expect(w.clock.pendingTimers).toBe(0);
  });

  it('hands over to a target that is gone (its membership not yet expired): bounded shutdown, then a live replica leads after the lease expires, never two', async () => {
    const w = world(222);
    const log: Log = [];
    w.createLease();
    const a = replica(w, log, 'a', { config: timings });
    const b = replica(w, log, 'b', { config: timings });
    a.start();
    await w.clock.advance(0);
    b.start();
    await w.clock.advance(5_000);
    // A replica that was SIGKILLed a moment ago: its membership object is fresh.
    const t = formatMicroTime(w.clock.wallNow());
    w.store.create(NS, { metadata: { name: membershipLeaseName(LEASE, 'ghost'), labels: { [MEMBER_OF_LABEL]: LEASE }, annotations: { [MEMBER_OF_LABEL]: LEASE } }, spec: { holderIdentity: 'ghost', leaseDurationSeconds: 60, acquireTime: t, renewTime: t } });
    const took = await stopChecked(w, [a, b], a);
    expect(took).toBeLessThanOrEqual(bound);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('ghost');
    const handedAt = w.clock.now();
    await runChecked(w, [a, b], 60_000, () => b.component.isLeader());
    expect(b.component.isLeader()).toBe(true);
    expect(w.clock.now() - handedAt).toBeGreaterThanOrEqual(timings.leaseDurationMs * 0.9);
    await stopAll(b);
  });

  it('a leader.lost listener that never settles: no handover write while work may still run, shutdown bounded, the next leader only after expiry', async () => {
    const w = world(223);
    const log: Log = [];
    const { a, b, c } = await threeJoined(w, log, { a: { config: timings }, b: { config: timings }, c: { config: timings } });
    a.bus.on('leader.lost', () => new Promise<void>(() => undefined));
    const fromA = a.client.calls.length;
    const took = await stopChecked(w, [a, b, c], a);
    expect(took).toBeLessThanOrEqual(bound);
    expect(kinds(a, fromA).filter((k) => k.endsWith(':election'))).toEqual([]);
    await runChecked(w, [a, b, c], 60_000, () => b.component.isLeader() || c.component.isLeader());
    expect(b.component.isLeader() || c.component.isLeader()).toBe(true);
    await stopAll(b, c);
  });

  it('a run() whose signal is already aborted: resolves, never leads, leaves no membership Lease, no election write, no timer', async () => {
    const w = world(224);
    w.createLease();
    const a = replica(w, [], 'a');
    await runAborted(w, a);
    await w.clock.advance(60_000);
    expect(a.events().map(([name]) => name)).not.toContain('leader.became');
    expect(w.store.peek(NS, membershipLeaseName(LEASE, 'a'))).toBeUndefined();
    expect(kinds(a, 0).filter((k) => k !== 'get:election' && !k.endsWith(':member'))).toEqual([]);
    expect(w.clock.pendingTimers).toBe(0);
  });

  it('a run() whose signal is already aborted writes no membership either (it would briefly be a live member, a handover target, while going away)', async () => {
    const w = world(228);
    w.createLease();
    const a = replica(w, [], 'a');
    await runAborted(w, a);
    // As Membership.run() itself does with an aborted signal: not a single request.
    expect(kinds(a, 0).filter((k) => k.endsWith(':member'))).toEqual([]);
  });

  it('the leader and the newest replica aborted at the same instant: both resolve within the bound, never two leaders, the remaining replica leads', async () => {
    const w = world(229);
    const log: Log = [];
    const { a, b, c } = await threeJoined(w, log, { a: { config: timings }, b: { config: timings }, c: { config: timings } });
    let finished = 0;
    for (const r of [a, c]) void r.done?.then(() => finished++);
    a.controller.abort();
    c.controller.abort();
    const from = w.clock.now();
    await runChecked(w, [a, b, c], 2 * bound, () => finished === 2);
    expect(finished).toBe(2);
    expect(w.clock.now() - from).toBeLessThanOrEqual(bound);
    await runChecked(w, [a, b, c], 60_000, () => b.component.isLeader());
    expect(b.component.isLeader()).toBe(true);
    expect(log.filter((e) => e.startsWith('c:'))).toEqual([]);
    await stopAll(b);
  });

  it('aborted while its acquiring write hangs: resolves within the bound, never leads, leaves no membership Lease', async () => {
    const w = world(225);
    w.createLease();
    const a = replica(w, [], 'a', { config: timings, client: { fault: (call) => (call.name === LEASE && call.verb === 'update' ? { kind: 'hang' } : undefined) } });
    a.start();
    await w.clock.advance(100);
    expect(a.component.isLeader()).toBe(false);
    const took = await stopChecked(w, [a], a);
    expect(took).toBeLessThanOrEqual(bound);
    expect(a.events().map(([name]) => name)).not.toContain('leader.became');
    expect(w.store.peek(NS, membershipLeaseName(LEASE, 'a'))).toBeUndefined();
    expect(w.clock.pendingTimers).toBe(0);
  });

  it('run, abort, run again, abort again (and abort twice): each shutdown hands over, and the restarted replica counts as newly joined', async () => {
    const w = world(226);
    const log: Log = [];
    const { a, b, c } = await threeJoined(w, log);
    await stopChecked(w, [a, b, c], a);
    a.controller.abort(); // a second abort of the same signal changes nothing
    await runChecked(w, [a, b, c], 10_000, () => c.component.isLeader());
    expect(c.component.isLeader()).toBe(true);
    a.start(); // a's second run: it joins again, now the newest
    await runChecked(w, [a, b, c], 5_000);
    await stopChecked(w, [a, b, c], c);
    await runChecked(w, [a, b, c], 10_000, () => a.component.isLeader());
    expect(a.component.isLeader()).toBe(true);
    await stopChecked(w, [a, b, c], a);
    await runChecked(w, [a, b, c], 10_000, () => b.component.isLeader());
    expect(b.component.isLeader()).toBe(true);
    expect(log.filter((e) => e.includes(':leader.lost:'))).toEqual(['a:leader.lost:handed_over', 'c:leader.lost:handed_over', 'a:leader.lost:handed_over']);
    await stopAll(b);
  });

  it('when the lease is taken from the leader while its list hangs, it writes nothing over the new holder', async () => {
    const w = world(227);
    const log: Log = [];
    const fault = (call: MemoryCall): Fault | undefined => (call.verb === 'list' ? { kind: 'hang' } : undefined);
    const { a, b, c } = await threeJoined(w, log, { a: { config: timings, client: { fault } } });
    let finished = false;
    void a.done?.then(() => (finished = true));
    a.controller.abort();
    await w.clock.advance(100);
    // Someone else now holds the Lease (e.g. an operator's write): a's next renewal finds it taken.
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: 'x', leaseDurationSeconds: 600, renewTime: formatMicroTime(w.clock.wallNow()) } });
    const taken = w.store.get(NS, LEASE).metadata?.resourceVersion;
    await runChecked(w, [a, b, c], bound, () => finished);
    expect(finished).toBe(true);
    // a's renewal may try its compare-and-swap (and fail); nothing may commit over x's record.
    expect(w.store.get(NS, LEASE).metadata?.resourceVersion).toBe(taken);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('x');
    expect(log.filter((e) => e.startsWith('a:leader.lost'))).toEqual(['a:leader.lost:lease_taken']);
    await stopAll(b, c);
  });
});

describe('shutdown handover probes: the newest live member of this election (M3)', () => {
  it('a replica restarted after the newest one joined is picked', async () => {
    const w = world(231);
    const log: Log = [];
    const { a, b, c } = await threeJoined(w, log);
    await b.stop();
    await w.clock.advance(1_000);
    b.start();
    await w.clock.advance(1_000);
    await stopChecked(w, [a, b, c], a);
    await runChecked(w, [a, b, c], 10_000, () => b.component.isLeader());
    expect(b.component.isLeader()).toBe(true);
    await stopAll(b, c);
  });

  it.each([
    ['short names', 'my-lease-2'],
    ['long names that share the hash label form', `${'x'.repeat(70)}-two`],
  ])('never hands over to a replica of another election (%s), and releases when its own election has no other member', async (_what, otherName) => {
    const w = world(232);
    const log: Log = [];
    const ownName = otherName.startsWith('x') ? `${'x'.repeat(70)}-one` : LEASE;
    w.createLease(ownName);
    w.createLease(otherName);
    const a = replica(w, log, 'a', { config: { leaseName: ownName } });
    a.start();
    await w.clock.advance(1_000);
    expect(a.component.isLeader()).toBe(true);
    // Two replicas of the other election, joined later.
    const x = replica(w, log, 'x', { config: { leaseName: otherName } });
    const y = replica(w, log, 'y', { config: { leaseName: otherName } });
    x.start();
    await w.clock.advance(1_000);
    y.start();
    await w.clock.advance(1_000);
    expect(memberOfLabelValue(ownName).startsWith('sha256-')).toBe(ownName !== LEASE);
    await a.stop();
    expect(log.filter((e) => e.startsWith('a:leader.lost'))).toEqual(['a:leader.lost:released']);
    expect(w.store.get(NS, ownName).spec?.holderIdentity).toBe('');
    await stopAll(x, y);
  });
});

describe('shutdown handover probes: bad input at construction (M5)', () => {
  const client = new MemoryLeaseClient(new LeaseStore());
  const base = { identity: 'a', leaseName: LEASE, leaseNamespace: NS, ...HANDOVER };
  const error = (config: Record<string, unknown>): ConfigError => configErrorOf({ ...base, ...config }, client);

  it.each([
    ['leaseName', 'an election name too long for member names (240 characters)', { leaseName: 'l'.repeat(240) }],
    ['membership.durationMs', 'a membership duration whose seconds overflow int32', { membership: { durationMs: (MAX_INT32 + 1) * 1_000 } }],
    ['membership.renewIntervalMs', 'a renew interval that is a string', { membership: { renewIntervalMs: '20s' } }],
    ['membership.labels', 'labels that are not an object', { membership: { labels: 'app=x' } }],
    ['membership', 'membership options that are an array', { membership: [] }],
  ])('a ConfigError naming %s: %s', (field, _what, patch) => {
    expect(error(patch)).toMatchObject({ field });
  });
});
