import { afterAll, describe, expect, it } from '@jest/globals';
import { Gauge, Registry, register } from 'prom-client';
import { ConfigError, type StopReason } from '@leasekit/k8s-leaderelection';
import { LeaseStore, MemoryLeaseClient, leaseErrors } from '@leasekit/k8s-leaderelection/testing';
import { LEASE, NS, START_WALL_S, scrape, world, type Exposition, type Replica, type World } from './__tests__/helpers.js';
import { LeaderElectionComponent } from './component.js';
import { createLeaderElectionBus } from './events.js';

const P = 'leasekit_leader_election';
const MASTER_HELP =
  "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.";
const SLOWPATH_HELP =
  "Total number of slow path exercised in renewing leader leases. 'name' is the string used to identify the lease. Please make sure to group by name.";

/** The per-lease series every component exposes (the histogram and errors get series as requests happen). */
function leaseSeries(m: Exposition, name = LEASE, prefix = P) {
  const l = { name };
  return {
    isLeader: m.value(`${prefix}_is_leader`, l),
    transitions: m.value(`${prefix}_transitions_total`, l),
    timeAsLeader: m.value(`${prefix}_time_as_leader_seconds_total`, l),
    lastRenew: m.value(`${prefix}_last_renew_timestamp_seconds`, l),
    leaderChanges: m.value(`${prefix}_leader_changes_total`, l),
    masterStatus: m.value('leader_election_master_status', l),
    slowPath: m.value('leader_election_slowpath_total', l),
  };
}

function requests(m: Exposition, purpose: string, name = LEASE): { count: number | undefined; sum: number | undefined } {
  return {
    count: m.value(`${P}_request_duration_seconds_count`, { name, purpose }),
    sum: m.value(`${P}_request_duration_seconds_sum`, { name, purpose }),
  };
}

function hasLost(r: Replica): boolean {
  return r.events().some(([n]) => n === 'leader.lost');
}

function lostAtWallMs(r: Replica): number {
  const lost = r.events().find(([n]) => n === 'leader.lost');
  return (lost![1].timestamp as Date).getTime();
}

interface Faults {
  failing: boolean;
  denyCreate: boolean;
  /** Makes the running leader work (the promise onStartedLeading returned) reject. */
  failWork?: (err: Error) => void;
}

function workFailures(m: Exposition, name = LEASE): number | undefined {
  return m.value(`${P}_work_failures_total`, { name });
}

async function leaderWithFaults(w: World, registry: Registry, faults: Faults): Promise<Replica> {
  w.createLease();
  const r = w.replica('a', {
    registry,
    client: {
      fault: (call) => {
        if (faults.failing) return { kind: 'error', error: leaseErrors.internal('etcd is unhappy') };
        if (faults.denyCreate && call.verb === 'create') return { kind: 'error', error: leaseErrors.internal('denied') };
        return undefined;
      },
    },
    callbacks: {
      // Leader work as applications write it: runs until the leadership signal aborts, or fails.
      onStartedLeading: (signal) =>
        new Promise<void>((resolve, reject) => {
          faults.failWork = reject;
          signal.addEventListener('abort', () => resolve(), { once: true });
        }),
    },
  });
  r.start();
  await w.clock.advance(0);
  expect(r.component.isLeader()).toBe(true);
  return r;
}

describe('metrics: series and help', () => {
  it('exposes every per-lease series at 0 before anything happened, with the right types', async () => {
    const w = world();
    const r = w.replica('a');
    const m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toEqual({ isLeader: 0, transitions: 0, timeAsLeader: 0, lastRenew: 0, leaderChanges: 0, masterStatus: 0, slowPath: 0 });
    expect(Object.fromEntries(m.type)).toEqual({
      [`${P}_is_leader`]: 'gauge',
      [`${P}_transitions_total`]: 'counter',
      [`${P}_time_as_leader_seconds_total`]: 'counter',
      [`${P}_request_duration_seconds`]: 'histogram',
      [`${P}_api_errors_total`]: 'counter',
      [`${P}_last_renew_timestamp_seconds`]: 'gauge',
      [`${P}_leader_changes_total`]: 'counter',
      [`${P}_work_failures_total`]: 'counter',
      leader_election_master_status: 'gauge',
      leader_election_slowpath_total: 'counter',
    });
    expect(workFailures(m)).toBe(0);
    expect(m.help.get('leader_election_master_status')).toBe(MASTER_HELP);
    expect(m.help.get('leader_election_slowpath_total')).toBe(SLOWPATH_HELP);
    expect(m.samples.filter((s) => s.name.startsWith(`${P}_request_duration`))).toEqual([]);
    // Every error reason starts at 0, so the first error of a reason is an increase rate() sees.
    const errorSeries = m.samples.filter((s) => s.name === `${P}_api_errors_total`);
    expect(errorSeries.map((s) => s.labels.reason).sort()).toEqual(
      ['AlreadyExists', 'BadRequest', 'Conflict', 'Expired', 'Forbidden', 'Gone', 'InternalError', 'Invalid', 'MethodNotAllowed', 'NetworkError',
        'NotFound', 'RequestEntityTooLarge', 'ServiceUnavailable', 'Timeout', 'TooManyRequests', 'Unauthorized', 'Unknown'],
    );
    expect(errorSeries.every((s) => s.value === 0 && s.labels.name === LEASE)).toBe(true);
  });

  it('uses a new registry of its own by default, never the global one', async () => {
    const w = world();
    const r = w.replica('a');
    expect(r.component.registry).toBeInstanceOf(Registry);
    expect(r.component.registry).not.toBe(register);
    expect(register.getSingleMetric('leader_election_master_status')).toBeUndefined();
    expect(register.getSingleMetric(`${P}_is_leader`)).toBeUndefined();
    expect(w.replica('b').component.registry).not.toBe(r.component.registry);
  });

  it('honours metricsPrefix and name, and never prefixes the client-go metrics', async () => {
    const w = world();
    const r = w.replica('a', { config: { metricsPrefix: 'myctl', name: 'shard-1' } });
    const m = await scrape(r.component.registry);
    expect(leaseSeries(m, 'shard-1', 'myctl_leader_election')).toEqual({
      isLeader: 0,
      transitions: 0,
      timeAsLeader: 0,
      lastRenew: 0,
      leaderChanges: 0,
      masterStatus: 0,
      slowPath: 0,
    });
    expect(m.samples.some((s) => s.name.startsWith('leasekit_'))).toBe(false);
  });

  it('refuses a registry on which something else registered one of its metric names', () => {
    const registry = new Registry();
    new Gauge({ name: `${P}_is_leader`, help: 'not ours', registers: [registry] });
    const bus = createLeaderElectionBus();
    const make = () => new LeaderElectionComponent({ identity: 'a', leaseName: LEASE, leaseNamespace: NS, registry }, new MemoryLeaseClient(new LeaseStore()), bus);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(/already registered/);
  });
});

describe('metrics: values after each transition', () => {
  it('reports acquisition, leader time growing at every scrape, renewals and a graceful release', async () => {
    const w = world();
    w.createLease();
    const r = w.replica('a');
    r.start();
    await w.clock.advance(0);

    let m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toEqual({ isLeader: 1, transitions: 1, timeAsLeader: 0, lastRenew: START_WALL_S, leaderChanges: 1, masterStatus: 1, slowPath: 0 });
    expect(requests(m, 'acquire')).toEqual({ count: 2, sum: 0 }); // GET + PUT
    expect(requests(m, 'renew').count).toBeUndefined();

    await w.clock.advance(5_000);
    m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toEqual({ isLeader: 1, transitions: 1, timeAsLeader: 5, lastRenew: START_WALL_S + 4, leaderChanges: 1, masterStatus: 1, slowPath: 0 });
    expect(requests(m, 'renew').count).toBe(2); // fast-path PUTs at 2 s and 4 s

    await w.clock.advance(2_500);
    m = await scrape(r.component.registry);
    expect(leaseSeries(m).timeAsLeader).toBe(7.5);

    await r.stop();
    m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toEqual({ isLeader: 0, transitions: 2, timeAsLeader: 7.5, lastRenew: 0, leaderChanges: 1, masterStatus: 0, slowPath: 0 });
    expect(requests(m, 'release').count).toBe(1); // one PUT of the empty holder over its own last write
    expect(m.value(`${P}_api_errors_total`, { name: LEASE, reason: 'InternalError' })).toBe(0);
  });

  it('observes request latency into the histogram buckets, in seconds', async () => {
    const w = world();
    w.createLease();
    const r = w.replica('a', { client: { latencyMs: 25 } });
    r.start();
    await w.clock.advance(50);
    expect(r.component.isLeader()).toBe(true);
    const m = await scrape(r.component.registry);
    expect(requests(m, 'acquire')).toEqual({ count: 2, sum: 0.05 });
    expect(m.value(`${P}_request_duration_seconds_bucket`, { name: LEASE, purpose: 'acquire', le: '0.01' })).toBe(0);
    expect(m.value(`${P}_request_duration_seconds_bucket`, { name: LEASE, purpose: 'acquire', le: '0.025' })).toBe(2);
    expect(m.value(`${P}_request_duration_seconds_bucket`, { name: LEASE, purpose: 'acquire', le: '+Inf' })).toBe(2);
    await r.stop();
  });

  it('reports a renewal failure: errors by reason, no slow path (every GET failed), leader time up to the loss, gauges at 0', async () => {
    const w = world();
    const registry = new Registry();
    const faults = { failing: false, denyCreate: false };
    const r = await leaderWithFaults(w, registry, faults);
    const before = r.client.calls.length;
    faults.failing = true;
    expect(await w.clock.advanceUntil(() => hasLost(r), 20_000)).toBe(true);

    const m = await scrape(registry);
    const failedCalls = r.client.calls.length - before;
    expect(failedCalls).toBeGreaterThan(2);
    expect(leaseSeries(m)).toEqual({
      isLeader: 0,
      transitions: 2,
      timeAsLeader: (lostAtWallMs(r) - START_WALL_S * 1000) / 1000,
      lastRenew: 0,
      leaderChanges: 1,
      masterStatus: 0,
      slowPath: 0, // client-go counts a slow path only when its GET succeeded and names us
    });
    expect(m.value(`${P}_api_errors_total`, { name: LEASE, reason: 'InternalError' })).toBe(failedCalls);
    // Failed requests are timed too.
    expect(requests(m, 'renew').count).toBeGreaterThan(0);
    await r.stop();
  });

  it('reports a takeover by another replica: a conflict, no slow path (the GET found b), two observed leaders, gauges at 0', async () => {
    const w = world();
    w.createLease();
    const r = w.replica('a');
    r.start();
    await w.clock.advance(0);
    const current = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...current, spec: { ...current.spec, holderIdentity: 'b' } });
    await w.clock.advance(2_000);
    expect(hasLost(r)).toBe(true);
    const m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toEqual({ isLeader: 0, transitions: 2, timeAsLeader: 2, lastRenew: 0, leaderChanges: 2, masterStatus: 0, slowPath: 0 });
    expect(m.value(`${P}_api_errors_total`, { name: LEASE, reason: 'Conflict' })).toBe(1);
    await r.stop();
  });

  it('counts no API error and times no request when stopping cuts a hanging request short', async () => {
    const w = world();
    w.createLease();
    const registry = new Registry();
    const r = w.replica('a', { registry, client: { fault: () => ({ kind: 'hang' }) } });
    r.start();
    await w.clock.advance(1_000); // its first read hangs
    expect(r.client.calls.map((c) => c.verb)).toEqual(['get']);
    await r.stop();
    const m = await scrape(registry);
    // Stopping is the caller's doing, not a failing API server.
    expect(m.value(`${P}_api_errors_total`, { name: LEASE, reason: 'Timeout' })).toBe(0);
    expect(requests(m, 'acquire').count ?? 0).toBe(0);
  });

  const exitPaths: Array<[StopReason, (w: World, r: Replica, faults: Faults) => Promise<void>]> = [
    ['released', (_w, r) => r.stop()],
    ['resigned', async (w, r) => {
      const done = r.component.resign();
      await w.clock.advance(0);
      await done;
    }],
    ['handed_over', async (w, r) => {
      const done = r.component.handoverTo('b');
      await w.clock.advance(0);
      await done;
    }],
    ['renew_failed', async (w, r, faults) => {
      faults.failing = true;
      await w.clock.advanceUntil(() => hasLost(r), 20_000);
    }],
    ['lease_taken', async (w, r) => {
      const current = w.store.get(NS, LEASE);
      w.store.update(NS, LEASE, { ...current, spec: { ...current.spec, holderIdentity: 'b' } });
      await w.clock.advanceUntil(() => hasLost(r), 20_000);
    }],
    ['lease_deleted', async (w, r, faults) => {
      faults.denyCreate = true;
      w.store.delete(NS, LEASE);
      await w.clock.advanceUntil(() => hasLost(r), 20_000);
    }],
    ['work_failed', async (w, r, faults) => {
      faults.failWork!(new Error('leader work crashed'));
      await w.clock.advanceUntil(() => hasLost(r), 20_000);
    }],
  ];

  it.each(exitPaths)('puts every gauge back at 0 when leadership ends with %s, and keeps it there after run() ends', async (reason, exit) => {
    const w = world();
    const registry = new Registry();
    const faults = { failing: false, denyCreate: false };
    const r = await leaderWithFaults(w, registry, faults);
    await w.clock.advance(3_000);
    expect(leaseSeries(await scrape(registry))).toMatchObject({ isLeader: 1, masterStatus: 1, lastRenew: START_WALL_S + 2, timeAsLeader: 3 });

    await exit(w, r, faults);
    // A handover is followed by leader.observed for the target.
    expect(r.events().filter(([name]) => name === 'leader.lost')).toEqual([['leader.lost', expect.objectContaining({ reason })]]);
    const heldS = (lostAtWallMs(r) - START_WALL_S * 1000) / 1000;
    let m = await scrape(registry);
    let series = leaseSeries(m);
    expect(series).toMatchObject({ isLeader: 0, masterStatus: 0, lastRenew: 0, transitions: 2, timeAsLeader: heldS });
    expect(workFailures(m)).toBe(reason === 'work_failed' ? 1 : 0);

    faults.failing = false;
    faults.denyCreate = false;
    await r.stop();
    m = await scrape(registry);
    series = leaseSeries(m);
    expect(series.isLeader).toBe(0);
    expect(series.masterStatus).toBe(0);
    expect(series.lastRenew).toBe(0);
    expect(workFailures(m)).toBe(reason === 'work_failed' ? 1 : 0);
  });

  it('counts each term ended by failed leader work once, and not work that rejects after its term ended', async () => {
    const w = world();
    w.createLease();
    let failWork: (err: Error) => void = () => {};
    const r = w.replica('a', {
      callbacks: {
        // Rejects when it fails, and also (as abortable work often does) when its signal aborts.
        onStartedLeading: (signal) =>
          new Promise<void>((_resolve, reject) => {
            failWork = reject;
            signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
          }),
      },
    });
    r.start();
    await w.clock.advance(3_000);
    failWork(new Error('leader work crashed'));
    await w.clock.advance(0);
    let m = await scrape(r.component.registry);
    expect(workFailures(m)).toBe(1);
    expect(leaseSeries(m)).toMatchObject({ isLeader: 0, masterStatus: 0, lastRenew: 0, transitions: 2 /* became + lost */, timeAsLeader: 3 });

    // Alone, it leads again after its cooldown; that term ends by shutdown, not by its work.
    expect(await w.clock.advanceUntil(() => r.component.isLeader(), 20_000)).toBe(true);
    await r.stop();
    m = await scrape(r.component.registry);
    expect(r.events().at(-1)).toEqual(['leader.lost', expect.objectContaining({ reason: 'released' })]);
    expect(leaseSeries(m)).toMatchObject({ isLeader: 0, masterStatus: 0, transitions: 4 /* two terms, each became + lost */ });
    expect(workFailures(m)).toBe(1);
  });

  it("puts every gauge back at 0 even when callbacks, listeners and observer hooks throw (onStartedLeadingFailure 'keep')", async () => {
    const w = world();
    w.createLease();
    const bus = createLeaderElectionBus();
    bus.on('leader.lost', () => {
      throw new Error('listener broken');
    });
    const boom = () => {
      throw new Error('hook broken');
    };
    const r = w.replica('a', {
      bus,
      callbacks: { onStartedLeading: boom, onStoppedLeading: boom, onNewLeader: boom },
      observer: { onAcquired: boom, onLeadershipEnded: boom, onRenewed: boom, onRequest: boom },
      // The old policy keeps the term despite the throwing onStartedLeading, so the gauges stay up.
      config: { onStartedLeadingFailure: 'keep' },
    });
    r.start();
    await w.clock.advance(4_000);
    expect(leaseSeries(await scrape(r.component.registry))).toMatchObject({ isLeader: 1, masterStatus: 1, transitions: 1, timeAsLeader: 4 });
    await r.stop();
    const m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toMatchObject({ isLeader: 0, masterStatus: 0, lastRenew: 0, timeAsLeader: 4 });
    expect(workFailures(m)).toBe(0); // 'keep' ends no term, so nothing is counted
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
  });

  it('reports standalone leadership when election is disabled, without any request', async () => {
    const w = world();
    const r = w.replica('a', { config: { enabled: false } });
    r.start();
    await w.clock.advance(3_000);
    let m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toEqual({ isLeader: 1, transitions: 1, timeAsLeader: 3, lastRenew: 0, leaderChanges: 0, masterStatus: 1, slowPath: 0 });
    expect(m.samples.some((s) => s.name.startsWith(`${P}_request_duration`))).toBe(false);
    await w.clock.advance(1_000);
    await r.stop();
    m = await scrape(r.component.registry);
    expect(leaseSeries(m)).toEqual({ isLeader: 0, transitions: 2, timeAsLeader: 4, lastRenew: 0, leaderChanges: 0, masterStatus: 0, slowPath: 0 });
  });
});

describe('metrics: sharing a registry', () => {
  it('lets two components for two leases share one registry, each series labelled by name', async () => {
    const w = world();
    const registry = new Registry();
    w.createLease('lease-a');
    w.createLease('lease-b');
    const a = w.replica('a', { registry, config: { leaseName: 'lease-a' } });
    const b = w.replica('b', { registry, config: { leaseName: 'lease-b' } });
    a.start();
    b.start();
    await w.clock.advance(2_000);

    let m = await scrape(registry);
    expect(leaseSeries(m, 'lease-a')).toEqual({ isLeader: 1, transitions: 1, timeAsLeader: 2, lastRenew: START_WALL_S + 2, leaderChanges: 1, masterStatus: 1, slowPath: 0 });
    expect(leaseSeries(m, 'lease-b')).toEqual({ isLeader: 1, transitions: 1, timeAsLeader: 2, lastRenew: START_WALL_S + 2, leaderChanges: 1, masterStatus: 1, slowPath: 0 });

    await a.stop();
    await w.clock.advance(1_000);
    m = await scrape(registry);
    expect(leaseSeries(m, 'lease-a')).toMatchObject({ isLeader: 0, masterStatus: 0, timeAsLeader: 2 });
    expect(leaseSeries(m, 'lease-b')).toMatchObject({ isLeader: 1, masterStatus: 1, timeAsLeader: 3 });
    expect(requests(m, 'release', 'lease-a').count).toBe(1);
    expect(requests(m, 'release', 'lease-b').count).toBeUndefined();
    await b.stop();
  });

  it('shares client-go metrics between components with different prefixes on one registry', async () => {
    const w = world();
    const registry = new Registry();
    const a = w.replica('a', { registry, config: { leaseName: 'lease-a' } });
    const c = w.replica('c', { registry, config: { leaseName: 'lease-c', metricsPrefix: 'other' } });
    const m = await scrape(registry);
    expect(leaseSeries(m, 'lease-a').masterStatus).toBe(0);
    expect(leaseSeries(m, 'lease-c', 'other_leader_election')).toMatchObject({ isLeader: 0, masterStatus: 0, slowPath: 0 });
    expect(m.samples.filter((s) => s.name === 'leader_election_master_status').map((s) => s.labels.name).sort()).toEqual(['lease-a', 'lease-c']);
    expect(a.component.registry).toBe(c.component.registry);
  });
});

describe('metrics: a cleared registry', () => {
  it('registers again on a registry that was cleared after an earlier component used it', async () => {
    const w = world();
    const registry = new Registry();
    w.replica('a', { registry });
    registry.clear();
    const b = w.replica('b', { registry, config: { leaseName: 'lease-b' } });
    const m = await scrape(registry);
    expect(leaseSeries(m, 'lease-b')).toMatchObject({ isLeader: 0, masterStatus: 0 });
    expect(b.component.registry).toBe(registry);
  });
});

describe('metrics: the global registry', () => {
  afterAll(() => register.clear());

  it('registers on prom-client\'s global registry only when passed explicitly', async () => {
    const w = world();
    const r = w.replica('a', { registry: register });
    expect(r.component.registry).toBe(register);
    expect(leaseSeries(await scrape(register))).toMatchObject({ isLeader: 0, masterStatus: 0 });
  });
});
