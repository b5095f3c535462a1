/**
 * Probes of `Membership` by someone with no stake in the code: the "newest live member" rule
 * (restarts, expiry by each member's own duration, ties, other elections sharing a label value),
 * request cost against failing servers, leaving after a lost response, and bad input at
 * construction. Fake clock, in-memory store, injected faults; no sleeps.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { membershipWorld, startMembership as start } from './__tests__/harness.js';
import { ApiError, ConfigError, makeStatus } from './errors.js';
import type { Lease } from './lease.js';
import { silentLogger } from './logger.js';
import { MEMBER_OF_LABEL, Membership, memberOfLabelValue, membershipLeaseName, type MembershipConfig } from './membership.js';
import { MAX_INT32, formatMicroTime } from './record.js';
import { MAX_RETRY_AFTER_MS } from './schedule.js';
import { FakeClock } from './testing/fake-clock.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient, type Fault, type MemoryCall } from './testing/memory-lease-client.js';

const NS = 'default';
const ELECTION = 'ctl';
const START_WALL = Date.UTC(2025, 0, 1);

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

const world = (fault?: (call: MemoryCall) => Fault | undefined) => membershipWorld(ELECTION, START_WALL, fault);

/** A membership Lease as another replica (or an older version) would have written it. */
function memberObject(leaseName: string, identity: string, joinedAtMs: number, renewedAtMs: number, seconds = 60, annotate = true): Lease {
  return {
    metadata: {
      name: membershipLeaseName(leaseName, identity),
      labels: { [MEMBER_OF_LABEL]: memberOfLabelValue(leaseName) },
      ...(annotate ? { annotations: { [MEMBER_OF_LABEL]: leaseName } } : {}),
    },
    spec: { holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: formatMicroTime(joinedAtMs), renewTime: formatMicroTime(renewedAtMs) },
  };
}

const unavailable = () => new ApiError(makeStatus(503, 'ServiceUnavailable', 'try later'));

describe('Membership probes: the newest live member', () => {
  it('breaks a tie in join time by the greater identity, whatever order the list returns the objects in', async () => {
    const { store, member } = world();
    // Names are hashes of the identities, so the store's (name) order is not the identity order.
    const ids = ['pod-b', 'pod-c', 'pod-a', 'pod-d'];
    for (const id of ids) store.create(NS, memberObject(ELECTION, id, START_WALL - 1_000, START_WALL - 500));
    const listed = store.list(NS).items.map((l) => l.spec?.holderIdentity);
    expect(listed).not.toEqual([...ids].sort()); // the probe means something only if the orders differ
    const view = member('observer');
    expect((await view.members()).map((m) => m.identity)).toEqual(['pod-a', 'pod-b', 'pod-c', 'pod-d']);
    expect((await view.newest())?.identity).toBe('pod-d');
    expect((await view.newest('pod-d'))?.identity).toBe('pod-c');
  });

  it('counts a replica that restarted after a crash as newly joined, with one object for it', async () => {
    const { clock, store, client, member } = world();
    // pod-a's first process cannot delete on its way out (it "crashes": the object stays behind).
    const crashing = new MemoryLeaseClient(store, { clock, fault: (call) => (call.verb === 'delete' ? { kind: 'error', error: unavailable() } : undefined) });
    const a1 = start(member('pod-a', {}, crashing));
    await clock.advance(5_000);
    const b = start(member('pod-b'));
    await clock.advance(5_000);
    a1.stop();
    await a1.run;
    expect(store.peek(NS, membershipLeaseName(ELECTION, 'pod-a'))).toBeDefined();
    await clock.advance(5_000);
    const a2 = start(member('pod-a'));
    await clock.advance(1_000);
    const view = member('observer');
    expect(await view.members()).toEqual([
      { identity: 'pod-b', joinedAtMs: START_WALL + 5_000, renewedAtMs: START_WALL + 5_000 },
      { identity: 'pod-a', joinedAtMs: START_WALL + 15_000, renewedAtMs: START_WALL + 15_000 },
    ]);
    expect((await view.newest('pod-b'))?.identity).toBe('pod-a');
    for (const r of [a2, b]) r.stop();
    await Promise.all([a2.run, b.run]);
    expect(client.store.list(NS).items).toEqual([]);
  });

  it('counts the same Membership object run again (stop, then run) as newly joined', async () => {
    const { clock, member } = world();
    const a = member('pod-a');
    const b = member('pod-b');
    let ra = start(a);
    await clock.advance(1_000);
    const rb = start(b);
    await clock.advance(1_000);
    ra.stop();
    await ra.run;
    await clock.advance(1_000);
    ra = start(a);
    await clock.advance(0);
    expect((await member('x').newest())).toMatchObject({ identity: 'pod-a', joinedAtMs: START_WALL + 3_000 });
    ra.stop();
    rb.stop();
    await Promise.all([ra.run, rb.run]);
  });

  it("judges liveness by each member's own duration, not the reader's", async () => {
    const { clock, store, member } = world();
    await clock.advance(100_000);
    const now = clock.wallNow();
    // Joined last but with a 5 s duration, renewed 6 s ago: expired.
    store.create(NS, memberObject(ELECTION, 'short', now - 6_000, now - 6_000, 5));
    // Joined earlier, 300 s duration, renewed 200 s ago: still live for a reader whose own duration is 60 s.
    store.create(NS, memberObject(ELECTION, 'long', now - 250_000, now - 200_000, 300));
    // Joined earlier still, 60 s duration, renewed exactly 60 s ago: the cut-off itself is not live.
    store.create(NS, memberObject(ELECTION, 'edge', now - 300_000, now - 60_000, 60));
    const view = member('observer');
    expect((await view.members()).map((m) => m.identity)).toEqual(['long']);
    expect((await view.newest())?.identity).toBe('long');
  });

  it('skips malformed member objects instead of failing the list', async () => {
    const { store, member } = world();
    const good = memberObject(ELECTION, 'good', START_WALL - 10_000, START_WALL - 1_000);
    store.create(NS, good);
    const broken: Array<[string, Lease['spec']]> = [
      ['no-holder', { leaseDurationSeconds: 60, acquireTime: formatMicroTime(START_WALL), renewTime: formatMicroTime(START_WALL) }],
      ['empty-holder', { holderIdentity: '', leaseDurationSeconds: 60, acquireTime: formatMicroTime(START_WALL), renewTime: formatMicroTime(START_WALL) }],
      ['no-renew', { holderIdentity: 'x1', leaseDurationSeconds: 60, acquireTime: formatMicroTime(START_WALL) }],
      ['no-join', { holderIdentity: 'x2', leaseDurationSeconds: 60, renewTime: formatMicroTime(START_WALL) }],
      ['no-duration', { holderIdentity: 'x3', acquireTime: formatMicroTime(START_WALL), renewTime: formatMicroTime(START_WALL) }],
    ];
    for (const [name, spec] of broken) {
      store.create(NS, { metadata: { name, labels: { [MEMBER_OF_LABEL]: ELECTION }, annotations: { [MEMBER_OF_LABEL]: ELECTION } }, spec });
    }
    expect((await member('observer').members()).map((m) => m.identity)).toEqual(['good']);
  });

  it('never reports a member of an election whose short name equals the hash label of a long-named election, in either direction', async () => {
    const { clock, store, client } = world();
    const long = `${'l'.repeat(80)}.example`;
    const short = memberOfLabelValue(long); // 'sha256-<48 hex>': a valid, 55-character Lease name
    expect(short).toHaveLength(55);
    const mk = (identity: string, leaseName: string) => new Membership({ identity, leaseName, leaseNamespace: NS, clock }, client, silentLogger);
    const rl = start(mk('long-member', long));
    await clock.advance(1_000);
    const rs = start(mk('short-member', short));
    await clock.advance(1_000);
    // Both elections' objects carry the same label value.
    expect(store.list(NS, { labelSelector: `${MEMBER_OF_LABEL}=${short}` }).items).toHaveLength(2);
    expect((await mk('x', long).members()).map((m) => m.identity)).toEqual(['long-member']);
    expect((await mk('x', short).members()).map((m) => m.identity)).toEqual(['short-member']);
    expect((await mk('x', long).newest())?.identity).toBe('long-member');
    rl.stop();
    rs.stop();
    await Promise.all([rl.run, rs.run]);
  });

  it('reports a member written without the annotation (an older writer) only for the election its label names', async () => {
    const { store, member } = world();
    store.create(NS, memberObject(ELECTION, 'old-writer', START_WALL - 5_000, START_WALL - 1_000, 60, false));
    store.create(NS, memberObject('other', 'stranger', START_WALL - 1_000, START_WALL - 1_000, 60, false));
    expect((await member('observer').members()).map((m) => m.identity)).toEqual(['old-writer']);
  });

  it('never picks the excluded identity, even as the only live member or when its clock makes it the newest', async () => {
    const { store, member } = world();
    store.create(NS, memberObject(ELECTION, 'self', START_WALL + 3_600_000, START_WALL));
    expect(await member('self').newest('self')).toBeUndefined();
    store.create(NS, memberObject(ELECTION, 'other', START_WALL - 1_000, START_WALL));
    expect((await member('self').newest('self'))?.identity).toBe('other');
  });
});

describe('Membership probes: request cost', () => {
  it('in steady state with request latency still writes one update per renew interval and nothing else', async () => {
    const clock = new FakeClock({ startWallMs: START_WALL });
    const client = new MemoryLeaseClient(new LeaseStore({ clock }), { clock, latencyMs: 300 });
    const r = start(new Membership({ identity: 'pod-a', leaseName: ELECTION, leaseNamespace: NS, clock, renewIntervalMs: 10_000, durationMs: 30_000 }, client, silentLogger));
    await clock.advance(100_000);
    const verbs = client.verbs();
    expect(verbs[0]).toBe('create');
    expect(verbs.slice(1).every((v) => v === 'update')).toBe(true);
    // One write per interval (plus its latency): at most 10 in 100 s, at least 9.
    expect(verbs.length - 1).toBeGreaterThanOrEqual(9);
    expect(verbs.length - 1).toBeLessThanOrEqual(10);
    r.stop();
    await clock.advance(1_000);
    await r.run;
  });

  it.each([
    ['503 on every request', (): Fault => ({ kind: 'error', error: unavailable() })],
    ['429 with Retry-After on every request', (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(429, 'TooManyRequests', 'slow down'), { retryAfterSeconds: 1 }) })],
    ['a conflict on every update (someone keeps writing the object)', (call: MemoryCall): Fault | undefined => (call.verb === 'update' ? { kind: 'error', error: new ApiError(makeStatus(409, 'Conflict', 'the object has been modified')) } : undefined)],
    ['lost responses (every write commits, its answer times out)', (call: MemoryCall): Fault | undefined => (call.verb === 'get' ? undefined : { kind: 'drop-response' })],
  ])('against %s never starts attempts faster than the retry period, and backs off', async (_what, fault) => {
    const { clock, client, member } = world(fault);
    const r = start(member('pod-a', { retryPeriodMs: 2_000, renewIntervalMs: 20_000, durationMs: 60_000 }));
    await clock.advance(300_000);
    // An attempt is create/get/update of one refresh: at most 3 requests at one instant, attempts at least 2 s apart.
    const instants = [...new Set(client.calls.map((c) => c.atMs))];
    for (let i = 1; i < instants.length; i++) expect(instants[i]! - instants[i - 1]!).toBeGreaterThanOrEqual(2_000);
    for (const t of instants) expect(client.calls.filter((c) => c.atMs === t).length).toBeLessThanOrEqual(3);
    // Backing off: over 300 s at most the doubling schedule (2, 4, 8, 16 s) then one try per 20 s.
    expect(instants.length).toBeLessThanOrEqual(5 + 300 / 20);
    r.stop();
    await clock.advance(10_000);
    await expect(r.run).resolves.toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it.each([
    ['429 TooManyRequests', 429, 'TooManyRequests'],
    ['503 ServiceUnavailable', 503, 'ServiceUnavailable'],
  ] as const)('honours the Retry-After of a %s as the elector does: no request before it, and a longer one capped at MAX_RETRY_AFTER_MS', async (_what, code, reason) => {
    const throttled = (seconds: number) => new ApiError(makeStatus(code, reason, 'slow down'), { retryAfterSeconds: seconds });
    // Joining: every request answered with Retry-After 7 s (longer than the first backoff steps of 2 and 4 s).
    const joining = world(() => ({ kind: 'error', error: throttled(7) }));
    const r1 = start(joining.member('pod-a', { retryPeriodMs: 2_000, renewIntervalMs: 20_000, durationMs: 60_000 }));
    await joining.clock.advance(60_000);
    // max(backoff, 7 s): 7, 7, then the backoff's own 8, 16 and 20 s.
    expect(joining.client.calls.map((c) => c.atMs)).toEqual([0, 7_000, 14_000, 22_000, 38_000, 58_000]);
    r1.stop();
    await r1.run;
    // Joined: one refresh answered with Retry-After 30 s; the next refresh waits for it, not the 2 s retry period.
    let throttle = 0;
    const joined = world((call) => (call.verb === 'update' && throttle-- > 0 ? { kind: 'error', error: throttled(30) } : undefined));
    const r2 = start(joined.member('pod-a', { retryPeriodMs: 2_000, renewIntervalMs: 20_000, durationMs: 60_000 }));
    await joined.clock.advance(0);
    throttle = 1;
    await joined.clock.advance(60_000);
    expect(joined.client.calls.map((c) => [c.verb, c.atMs])).toEqual([['create', 0], ['update', 20_000], ['update', 50_000]]);
    r2.stop();
    await r2.run;
    // An hour's Retry-After: capped, so the replica tries again after MAX_RETRY_AFTER_MS, not an hour later.
    let once = true;
    const capped = world(() => (once ? ((once = false), { kind: 'error', error: throttled(3_600) }) : undefined));
    const r3 = start(capped.member('pod-a'));
    await capped.clock.advance(MAX_RETRY_AFTER_MS - 1);
    expect(capped.client.calls.map((c) => c.atMs)).toEqual([0]);
    await capped.clock.advance(1);
    expect(capped.client.calls.map((c) => [c.verb, c.atMs])).toEqual([['create', 0], ['create', MAX_RETRY_AFTER_MS]]);
    expect(capped.store.peek(NS, membershipLeaseName(ELECTION, 'pod-a'))).toBeDefined();
    r3.stop();
    await r3.run;
  });

  it('does not send a single request when run() is called with an already aborted signal', async () => {
    const { clock, client, member } = world();
    const controller = new AbortController();
    controller.abort();
    await member('pod-a').run(controller.signal);
    await clock.advance(60_000);
    expect(client.calls).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Membership probes: leaving', () => {
  it('a replica that stops while rejoining after a lost refresh response does not stay behind as a live member', async () => {
    let dropNextUpdate = false;
    const { clock, store, member } = world((call) => {
      if (dropNextUpdate && call.verb === 'update' && call.name === membershipLeaseName(ELECTION, 'pod-a')) {
        dropNextUpdate = false;
        return { kind: 'drop-response' };
      }
      return undefined;
    });
    const b = start(member('pod-b'));
    await clock.advance(1_000);
    const a = start(member('pod-a'));
    await clock.advance(0);
    dropNextUpdate = true;
    await clock.advance(20_000); // a's refresh at 21 s commits, but a sees a timeout
    await clock.advance(2_000); // a's retry at 23 s: a conflict with its own committed write
    a.stop(); // SIGTERM during the retry wait (before the rejoin)
    await clock.advance(1_000);
    await a.run;
    const left = store.peek(NS, membershipLeaseName(ELECTION, 'pod-a'));
    // What a leader shutting down would see: pod-a must not be a handover target any more.
    expect((await member('observer').newest('pod-b'))?.identity).toBeUndefined();
    expect(left).toBeUndefined();
    b.stop();
    await b.run;
  });

  it('resolves run() and logs when the delete on leaving fails, leaving no timer behind', async () => {
    let failDeletes = false;
    const { clock, member } = world((call) => (failDeletes && call.verb === 'delete' ? { kind: 'error', error: unavailable() } : undefined));
    const r = start(member('pod-a'));
    await clock.advance(1_000);
    failDeletes = true;
    r.stop();
    await clock.advance(0);
    expect(r.isDone()).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('stops at once when aborted while a refresh hangs: within the request timeout, plus the bounded delete', async () => {
    let hang = false;
    const { clock, member } = world(() => (hang ? { kind: 'hang' } : undefined));
    const r = start(member('pod-a', { requestTimeoutMs: 4_000 }));
    await clock.advance(1_000);
    hang = true;
    await clock.advance(20_000); // the refresh at 21 s hangs
    r.stop();
    const stoppedAt = clock.now();
    expect(await clock.advanceUntil(() => r.isDone(), 60_000, 100)).toBe(true);
    expect(clock.now() - stoppedAt).toBeLessThanOrEqual(2 * 4_000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('members() rejects promptly when its caller aborts, and within requestTimeoutMs when the list hangs', async () => {
    const { clock, member } = world((call) => (call.verb === 'list' ? { kind: 'hang' } : undefined));
    const m = member('x', { requestTimeoutMs: 3_000 });
    const caller = new AbortController();
    let first: unknown;
    void m.members(caller.signal).catch((err: unknown) => (first = err));
    await clock.advance(500);
    caller.abort();
    await clock.advance(0);
    expect(first).toBeInstanceOf(Error);
    let second: unknown;
    void m.newest().catch((err: unknown) => (second = err));
    await clock.advance(2_999);
    expect(second).toBeUndefined();
    await clock.advance(1);
    expect(second).toBeInstanceOf(Error);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('Membership probes: bad input at construction', () => {
  const store = new LeaseStore();
  const client = new MemoryLeaseClient(store);
  const base: MembershipConfig = { identity: 'a', leaseName: ELECTION, leaseNamespace: NS };
  const error = (config: unknown, c: unknown = client): ConfigError => {
    try {
      new Membership(config as MembershipConfig, c);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error('expected a ConfigError');
  };

  it.each([
    ['durationMs', 'a duration whose whole seconds overflow leaseDurationSeconds (int32)', { durationMs: (MAX_INT32 + 1) * 1_000, renewIntervalMs: 20_000 }],
    ['leaseName', 'an upper-case election name', { leaseName: 'My-Controller' }],
    ['identity', 'an identity that is not a string', { identity: 42 }],
    ['leaseNamespace', 'a namespace that is not a string', { leaseNamespace: null }],
    ['labels', 'a label value that is not a string', { labels: { app: 5 } }],
    ['labels', 'a label value too long', { labels: { app: 'v'.repeat(64) } }],
    ['renewIntervalMs', 'an Infinity renew interval', { renewIntervalMs: Number.POSITIVE_INFINITY }],
    ['requestTimeoutMs', 'a zero request timeout', { requestTimeoutMs: 0 }],
  ])('a ConfigError naming %s: %s', (field, _what, patch) => {
    expect(error({ ...base, ...patch })).toMatchObject({ field });
  });

  it('a membership whose duration is accepted can be joined (the store accepts what it writes)', async () => {
    const clock = new FakeClock({ startWallMs: START_WALL });
    const c = new MemoryLeaseClient(new LeaseStore({ clock }), { clock });
    const m = new Membership({ ...base, durationMs: MAX_INT32 * 1_000, renewIntervalMs: 20_000, clock }, c, silentLogger);
    const r = start(m);
    await clock.advance(0);
    expect(c.store.peek(NS, m.memberName)?.spec?.leaseDurationSeconds).toBe(MAX_INT32);
    r.stop();
    await r.run;
  });

  it.each([
    ['config', 'no config', undefined],
    ['client', 'no client', base],
  ])('a ConfigError naming %s: %s', (field, _what, config) => {
    expect(error(config, config === base ? null : client)).toMatchObject({ field });
  });

  it('rejects a client whose delete is not a function', () => {
    const partial = { get: client.get.bind(client), create: client.create.bind(client), update: client.update.bind(client), list: client.list.bind(client), delete: 'no' };
    expect(error(base, partial)).toMatchObject({ code: 'CLIENT_INVALID', field: 'client' });
  });
});
