import { describe, expect, it } from '@jest/globals';
import { membershipWorld, startMembership as start } from './__tests__/harness.js';
import { ApiError, ConfigError, makeStatus } from './errors.js';
import type { Lease, LeaseClient } from './lease.js';
import { silentLogger } from './logger.js';
import { MEMBER_OF_LABEL, Membership, memberOfLabelValue, membershipLeaseName, type MembershipConfig } from './membership.js';
import { formatMicroTime } from './record.js';
import { FakeClock } from './testing/fake-clock.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient, type Fault, type MemoryCall } from './testing/memory-lease-client.js';

const NS = 'default';
const ELECTION = 'my-controller';
const START_WALL = Date.UTC(2025, 0, 1);

const world = (fault?: (call: MemoryCall) => Fault | undefined) => membershipWorld(ELECTION, START_WALL, fault);

const unavailable = () => new ApiError(makeStatus(503, 'ServiceUnavailable', 'try later'));

describe('Membership: joining and refreshing', () => {
  it('creates one labelled Lease per replica holding its identity, join and renew times and the duration', async () => {
    const { clock, store, member } = world();
    const m = member('pod-a', { labels: { app: 'ctl' } });
    const r = start(m);
    await clock.advance(0);
    const name = membershipLeaseName(ELECTION, 'pod-a');
    expect(name).toMatch(/^my-controller-member-[0-9a-f]{10}$/);
    const lease = store.get(NS, name);
    expect(lease.metadata?.labels).toEqual({ app: 'ctl', [MEMBER_OF_LABEL]: ELECTION });
    expect(lease.metadata?.annotations).toEqual({ [MEMBER_OF_LABEL]: ELECTION });
    expect(lease.spec).toMatchObject({
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 60,
      acquireTime: formatMicroTime(START_WALL),
      renewTime: formatMicroTime(START_WALL),
    });
    r.stop();
    await r.run;
  });

  it('in steady state writes one update per renew interval, moving renewTime and keeping acquireTime', async () => {
    const { clock, store, client, member } = world();
    const r = start(member('pod-a'));
    await clock.advance(10 * 20_000);
    expect(client.verbs()).toEqual(['create', ...Array<string>(10).fill('update')]);
    const lease = store.get(NS, membershipLeaseName(ELECTION, 'pod-a'));
    expect(lease.spec?.acquireTime).toBe(formatMicroTime(START_WALL));
    expect(lease.spec?.renewTime).toBe(formatMicroTime(START_WALL + 200_000));
    r.stop();
    await r.run;
  });

  it('takes over its own stale Lease after a restart, with a fresh join time', async () => {
    const { clock, store, client, member } = world();
    // What a crashed earlier process of this replica left behind.
    const stale = formatMicroTime(START_WALL - 5_000);
    store.create(NS, { metadata: { name: membershipLeaseName(ELECTION, 'pod-a') }, spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 60, acquireTime: stale, renewTime: stale } });
    const r = start(member('pod-a'));
    await clock.advance(0);
    expect(client.verbs()).toEqual(['create', 'get', 'update']);
    const lease = store.get(NS, membershipLeaseName(ELECTION, 'pod-a'));
    expect(lease.spec?.acquireTime).toBe(formatMicroTime(START_WALL));
    expect(lease.spec?.renewTime).toBe(formatMicroTime(START_WALL));
    r.stop();
    await r.run;
  });

  it('joins again after its Lease was deleted under it, keeping its join time', async () => {
    const { clock, store, member } = world();
    const r = start(member('pod-a'));
    await clock.advance(0);
    const name = membershipLeaseName(ELECTION, 'pod-a');
    store.delete(NS, name);
    await clock.advance(20_000); // the refresh finds it gone
    expect(store.peek(NS, name)).toBeUndefined();
    await clock.advance(2_000); // one retry period later it is back
    expect(store.get(NS, name).spec?.acquireTime).toBe(formatMicroTime(START_WALL));
    r.stop();
    await r.run;
  });

  it('refuses to write over a membership Lease another identity holds, retrying at the failure pace', async () => {
    const { clock, store, client, member } = world();
    const name = membershipLeaseName(ELECTION, 'pod-a');
    store.create(NS, { metadata: { name }, spec: { holderIdentity: 'someone-else' } });
    const r = start(member('pod-a'));
    await clock.advance(3_000);
    expect(client.verbs()).toEqual(['create', 'get', 'create', 'get']);
    expect(store.get(NS, name).spec?.holderIdentity).toBe('someone-else');
    r.stop();
    await r.run;
  });
});

describe('Membership: failures', () => {
  it('never rejects run() and retries a failing API at the retry period, doubling up to the renew interval', async () => {
    const { clock, client, member } = world(() => ({ kind: 'error', error: unavailable() }));
    const r = start(member('pod-a'));
    await clock.advance(60_000);
    // 0, 2, 6, 14, 30 and 50 s: 2, 4, 8, 16 s apart, then the 20 s renew interval.
    expect(client.calls.map((c) => c.atMs)).toEqual([0, 2_000, 6_000, 14_000, 30_000, 50_000]);
    r.stop();
    await expect(r.run).resolves.toBe(true);
    expect(client.verbs()).not.toContain('delete'); // never joined: nothing to leave (the read on leaving fails too)
    expect(clock.pendingTimers).toBe(0);
  });

  it('bounds a hanging request by requestTimeoutMs and goes back to its normal pace once the API answers', async () => {
    let hang = true;
    const { clock, client, member } = world(() => (hang ? { kind: 'hang' } : undefined));
    const r = start(member('pod-a', { requestTimeoutMs: 5_000 }));
    await clock.advance(5_000);
    expect(client.calls).toHaveLength(1);
    hang = false;
    await clock.advance(2_000);
    expect(client.verbs()).toEqual(['create', 'create']);
    await clock.advance(20_000);
    expect(client.verbs()).toEqual(['create', 'create', 'update']);
    r.stop();
    await r.run;
  });
});

describe('Membership: leaving', () => {
  it('deletes its Lease with a uid precondition when the signal aborts, and leaves no timer behind', async () => {
    const { clock, store, client, member } = world();
    const r = start(member('pod-a'));
    await clock.advance(25_000);
    r.stop();
    await r.run;
    expect(client.verbs().at(-1)).toBe('delete');
    expect(store.peek(NS, membershipLeaseName(ELECTION, 'pod-a'))).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('does not delete a Lease that was replaced by another object of the same name (uid precondition)', async () => {
    const { clock, store, member } = world();
    const r = start(member('pod-a'));
    await clock.advance(0);
    const name = membershipLeaseName(ELECTION, 'pod-a');
    store.delete(NS, name);
    const replacement = store.create(NS, { metadata: { name }, spec: { holderIdentity: 'pod-a' } });
    r.stop();
    await r.run;
    expect(store.get(NS, name).metadata?.uid).toBe(replacement.metadata?.uid);
  });

  it('resolves within requestTimeoutMs when the delete hangs', async () => {
    let hangDeletes = false;
    const { clock, member } = world((call) => (hangDeletes && call.verb === 'delete' ? { kind: 'hang' } : undefined));
    const r = start(member('pod-a', { requestTimeoutMs: 3_000 }));
    await clock.advance(0);
    hangDeletes = true;
    r.stop();
    await clock.advance(2_999);
    expect(r.isDone()).toBe(false);
    await clock.advance(1);
    expect(r.isDone()).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('after a create whose answer was lost, reads its Lease by name on leaving and deletes it with its uid as precondition', async () => {
    let dropCreate = true;
    const { clock, store, client, member } = world((call) => (dropCreate && call.verb === 'create' ? ((dropCreate = false), { kind: 'drop-response' }) : undefined));
    const r = start(member('pod-a'));
    await clock.advance(1_000); // the create committed, but its answer was lost: in the 2 s retry wait
    const name = membershipLeaseName(ELECTION, 'pod-a');
    expect(store.peek(NS, name)?.spec?.holderIdentity).toBe('pod-a');
    r.stop();
    await clock.advance(0);
    expect(r.isDone()).toBe(true);
    expect(client.verbs()).toEqual(['create', 'get', 'delete']);
    expect(store.peek(NS, name)).toBeUndefined();
  });

  it('on leaving never deletes an object of its name held by another identity', async () => {
    const { clock, store, client, member } = world();
    const name = membershipLeaseName(ELECTION, 'pod-a');
    store.create(NS, { metadata: { name }, spec: { holderIdentity: 'someone-else' } });
    const r = start(member('pod-a'));
    await clock.advance(0);
    r.stop();
    await r.run;
    expect(client.verbs()).not.toContain('delete');
    expect(store.get(NS, name).spec?.holderIdentity).toBe('someone-else');
  });

  it('bounds the read and the delete on leaving together by one requestTimeoutMs, and deletes nothing once it passed', async () => {
    let dropCreate = true;
    let slowGet = false;
    const { clock, store, client, member } = world((call) => {
      if (dropCreate && call.verb === 'create') {
        dropCreate = false;
        return { kind: 'drop-response' };
      }
      return slowGet && call.verb === 'get' ? { kind: 'hang' } : undefined;
    });
    const r = start(member('pod-a', { requestTimeoutMs: 3_000 }));
    await clock.advance(1_000);
    slowGet = true;
    r.stop();
    await clock.advance(2_999);
    expect(r.isDone()).toBe(false);
    await clock.advance(1);
    expect(r.isDone()).toBe(true);
    expect(client.verbs()).toEqual(['create', 'get']);
    // Not deleted: it expires after its duration instead.
    expect(store.peek(NS, membershipLeaseName(ELECTION, 'pod-a'))).toBeDefined();
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses a second concurrent run', async () => {
    const { clock, member } = world();
    const m = member('pod-a');
    const r = start(m);
    await expect(m.run()).rejects.toMatchObject({ code: 'ALREADY_RUNNING' });
    r.stop();
    await clock.advance(0);
    await r.run;
  });
});

describe('Membership: members and newest', () => {
  it('lists the live members of its election only, sorted by join time, and picks the newest other than the one excluded', async () => {
    const { clock, store, client, member } = world();
    const a = start(member('pod-a'));
    await clock.advance(5_000);
    const c = start(member('pod-c'));
    await clock.advance(5_000);
    const b = start(member('pod-b'));
    const otherElection = start(new Membership({ identity: 'pod-z', leaseName: 'other', leaseNamespace: NS, clock }, client, silentLogger));
    await clock.advance(1_000);
    const view = member('observer');
    client.calls.length = 0;
    expect(await view.members()).toEqual([
      { identity: 'pod-a', joinedAtMs: START_WALL, renewedAtMs: START_WALL },
      { identity: 'pod-c', joinedAtMs: START_WALL + 5_000, renewedAtMs: START_WALL + 5_000 },
      { identity: 'pod-b', joinedAtMs: START_WALL + 10_000, renewedAtMs: START_WALL + 10_000 },
    ]);
    expect(client.verbs()).toEqual(['list']);
    expect((await view.newest())?.identity).toBe('pod-b');
    expect((await view.newest('pod-b'))?.identity).toBe('pod-c');
    expect(store.list(NS).items).toHaveLength(4);
    for (const r of [a, b, c, otherElection]) r.stop();
    await Promise.all([a.run, b.run, c.run, otherElection.run]);
    expect(await view.members()).toEqual([]);
  });

  it('skips a member whose renewTime plus its duration has passed (it stopped refreshing)', async () => {
    const { clock, client, member } = world();
    const a = start(member('pod-a'));
    await clock.advance(1_000);
    // pod-b joins later but then hangs: its refreshes stop reaching the API.
    const hangB = { on: false };
    const bClient = new MemoryLeaseClient(client.store, { clock, fault: () => (hangB.on ? { kind: 'hang' } : undefined) });
    const b = start(member('pod-b', { requestTimeoutMs: 1_000 }, bClient));
    await clock.advance(1_000);
    hangB.on = true;
    expect((await member('x').newest('pod-a'))?.identity).toBe('pod-b');
    await clock.advance(58_999); // pod-b's last refresh was at 1 s: live until 61 s
    expect((await member('x').newest('pod-a'))?.identity).toBe('pod-b');
    await clock.advance(1);
    expect(await member('x').newest('pod-a')).toBeUndefined();
    expect((await member('x').members()).map((m) => m.identity)).toEqual(['pod-a']);
    a.stop();
    b.stop();
    await clock.advance(1_000);
    await Promise.all([a.run, b.run]);
  });

  it('labels a long election name by a hash and tells two names with one prefix apart by the annotation', async () => {
    const long = `${'a'.repeat(70)}-one`;
    const { clock, store, client } = world();
    const mk = (identity: string, leaseName: string) => new Membership({ identity, leaseName, leaseNamespace: NS, clock }, client, silentLogger);
    const r = start(mk('pod-a', long));
    await clock.advance(0);
    const lease = store.get(NS, membershipLeaseName(long, 'pod-a'));
    const value = memberOfLabelValue(long);
    expect(value).toMatch(/^sha256-[0-9a-f]{48}$/);
    expect(lease.metadata?.labels?.[MEMBER_OF_LABEL]).toBe(value);
    expect(lease.metadata?.annotations?.[MEMBER_OF_LABEL]).toBe(long);
    // A forged object with our label but another election's annotation is not a member.
    const forged: Lease = {
      metadata: { name: 'forged', labels: { [MEMBER_OF_LABEL]: value }, annotations: { [MEMBER_OF_LABEL]: `${'a'.repeat(70)}-two` } },
      spec: { holderIdentity: 'pod-z', leaseDurationSeconds: 60, acquireTime: formatMicroTime(START_WALL), renewTime: formatMicroTime(START_WALL) },
    };
    store.create(NS, forged);
    expect((await mk('x', long).members()).map((m) => m.identity)).toEqual(['pod-a']);
    r.stop();
    await r.run;
  });

  it('rejects members() with the client error when the list fails', async () => {
    const { member } = world((call) => (call.verb === 'list' ? { kind: 'error', error: unavailable() } : undefined));
    await expect(member('x').members()).rejects.toMatchObject({ reason: 'ServiceUnavailable' });
  });
});

describe('Membership: configuration', () => {
  const base = { identity: 'a', leaseName: ELECTION, leaseNamespace: NS };
  const store = new LeaseStore();
  const client = new MemoryLeaseClient(store);
  const error = (config: Partial<MembershipConfig>, c: unknown = client): ConfigError => {
    try {
      new Membership({ ...base, ...config } as MembershipConfig, c);
    } catch (err) {
      if (err instanceof ConfigError) return err;
      throw err;
    }
    throw new Error('expected a ConfigError');
  };

  it.each([
    [{ renewIntervalMs: 60_000 }, 'OPTION_INVALID', 'renewIntervalMs'],
    [{ durationMs: 30_000, renewIntervalMs: 40_000 }, 'OPTION_INVALID', 'renewIntervalMs'],
    [{ renewIntervalMs: 0 }, 'OPTION_INVALID', 'renewIntervalMs'],
    [{ durationMs: -1 }, 'OPTION_INVALID', 'durationMs'],
    [{ durationMs: 500 }, 'OPTION_INVALID', 'durationMs'],
    [{ retryPeriodMs: Number.NaN }, 'DURATION_NOT_FINITE', 'retryPeriodMs'],
    [{ requestTimeoutMs: '1s' as unknown as number }, 'FIELD_TYPE', 'requestTimeoutMs'],
    [{ identity: '' }, 'IDENTITY_EMPTY', 'identity'],
    [{ leaseName: 'x'.repeat(236) }, 'LEASE_NAME_INVALID', 'leaseName'],
    [{ leaseNamespace: 'Bad_NS' }, 'LEASE_NAMESPACE_INVALID', 'leaseNamespace'],
    [{ labels: { 'bad key!': 'x' } }, 'LABELS_INVALID', 'labels'],
  ])('rejects %j with %s naming %s', (config, code, field) => {
    expect(error(config)).toMatchObject({ code, field });
  });

  it('accepts a 235-character election name and defaults the interval to a third of a short duration', async () => {
    const clock = new FakeClock();
    const c = new MemoryLeaseClient(new LeaseStore({ clock }), { clock });
    const m = new Membership({ ...base, leaseName: 'x'.repeat(235), durationMs: 30_000, clock }, c, silentLogger);
    expect(m.memberName).toHaveLength(253);
    const r = start(m);
    await clock.advance(30_000);
    expect(c.verbs()).toEqual(['create', 'update', 'update', 'update']);
    r.stop();
    await r.run;
  });

  it('needs a client with list and delete', () => {
    const { get, create, update } = client;
    const minimal: LeaseClient = { get: get.bind(client), create: create.bind(client), update: update.bind(client) };
    expect(error({}, minimal)).toMatchObject({ code: 'CLIENT_INVALID', field: 'client' });
  });
});
