import { describe, expect, it, jest } from '@jest/globals';
import { EventEmitter } from 'eventemitter3';
import { ConfigError, type LeadershipTerm, type StoppedLeadingInfo } from '@leasekit/k8s-leaderelection';
import { LeaseStore, MemoryLeaseClient, leaseErrors } from '@leasekit/k8s-leaderelection/testing';
import { LEASE, NS, START_WALL_S, world, type World } from './__tests__/helpers.js';
import { LeaderElectionComponent } from './component.js';
import { createLeaderElectionBus, type BecameLeaderEvent, type LeaderElectionEvents, type LostLeadershipEvent } from './events.js';

/** Every API call fails with this once `failing` is set. */
function failingWhen(isFailing: () => boolean, error: Error = leaseErrors.internal('etcd is unhappy')) {
  return { fault: () => (isFailing() ? { kind: 'error' as const, error } : undefined) };
}

/** Starts one replica on a pre-created Lease and lets it acquire. */
async function leader(w: World, id = 'a', options: Parameters<World['replica']>[1] = {}) {
  w.createLease();
  const r = w.replica(id, options);
  r.start();
  await w.clock.advance(0);
  expect(r.component.isLeader()).toBe(true);
  return r;
}

const wallAt = (ms: number) => new Date((START_WALL_S * 1000) + ms);

describe('LeaderElectionComponent: construction', () => {
  const bus = createLeaderElectionBus();
  const client = new MemoryLeaseClient(new LeaseStore());
  const valid = { identity: 'a', leaseName: LEASE, leaseNamespace: NS };

  it('refuses a missing config, like the original\'s "config cannot be nil"', () => {
    const make = () => new LeaderElectionComponent(undefined as never, client, bus);
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(/config cannot be nil/);
  });

  it('refuses a missing bus, like the original\'s "event bus cannot be nil"', () => {
    const make = () => new LeaderElectionComponent(valid, client, null as never);
    expect(make).toThrow(/event bus cannot be nil/);
    try {
      make();
    } catch (err) {
      expect((err as ConfigError).field).toBe('bus');
    }
  });

  it('reports the bus before any elector check', () => {
    expect(() => new LeaderElectionComponent({ ...valid, identity: '' }, undefined, undefined as never)).toThrow(/event bus cannot be nil/);
  });

  it('refuses a bus that is not an event emitter', () => {
    expect(() => new LeaderElectionComponent(valid, client, {} as never)).toThrow(/eventemitter3/);
  });

  it("wraps the elector's config errors, keeping their code, field and cause", () => {
    let caught: unknown;
    try {
      new LeaderElectionComponent({ ...valid, identity: '' }, client, bus);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    const error = caught as ConfigError;
    expect(error.code).toBe('IDENTITY_EMPTY');
    expect(error.field).toBe('identity');
    expect(error.message).toMatch(/^failed to create leader elector: identity cannot be empty/);
    expect(error.cause).toBeInstanceOf(ConfigError);
  });

  it("rejects the elector's new options with the elector's own message, wrapped", () => {
    expect(() => new LeaderElectionComponent({ ...valid, onStartedLeadingFailure: 'ignore' as never }, client, bus)).toThrow(
      expect.objectContaining({ code: 'OPTION_INVALID', field: 'onStartedLeadingFailure', message: expect.stringMatching(/^failed to create leader elector: /) }) as never,
    );
    expect(() => new LeaderElectionComponent({ ...valid, leaseDurationMs: 20_000, maxPeerLeaseDurationMs: 15_000 }, client, bus)).toThrow(
      expect.objectContaining({ code: 'OPTION_INVALID', field: 'maxPeerLeaseDurationMs' }) as never,
    );
  });

  it('refuses a missing client when election is enabled', () => {
    expect(() => new LeaderElectionComponent(valid, undefined, bus)).toThrow(expect.objectContaining({ code: 'CLIENT_MISSING' }) as never);
  });

  it('refuses an invalid metricsPrefix and a registry that is not one', () => {
    expect(() => new LeaderElectionComponent({ ...valid, metricsPrefix: '1bad-prefix' }, client, bus)).toThrow(
      expect.objectContaining({ code: 'OPTION_INVALID', field: 'metricsPrefix' }) as never,
    );
    expect(() => new LeaderElectionComponent({ ...valid, registry: {} as never }, client, bus)).toThrow(
      expect.objectContaining({ code: 'OPTION_INVALID', field: 'registry' }) as never,
    );
  });

  it('needs neither identity, lease nor client when election is disabled', () => {
    const component = new LeaderElectionComponent({ enabled: false } as never, undefined, bus);
    expect(component.identity).toBe('standalone');
    expect(component.name).toBe('standalone');
    expect(component.isLeader()).toBe(false);
  });

  it("accepts an application's own emitter whose event map includes the leader-election events", () => {
    interface AppEvents extends LeaderElectionEvents {
      'app.ready': (event: { at: number }) => void;
    }
    const appBus = new EventEmitter<AppEvents>();
    const component = new LeaderElectionComponent(valid, client, appBus);
    expect(component.bus).toBe(appBus);
  });

  it('makes no API call before run()', () => {
    const w = world();
    const r = w.replica('a');
    expect(r.client.calls).toEqual([]);
    expect(r.component.getLeader()).toBe('');
    expect(r.component.snapshot()).toMatchObject({ enabled: true, isLeader: false, running: false, leaseName: LEASE, leaseNamespace: NS });
  });
});

describe('LeaderElectionComponent: events', () => {
  it('announces start, the observed leader and leadership, in that order, around the callbacks', async () => {
    const w = world();
    const r = await leader(w);
    expect(r.names()).toEqual([
      'event:leader.election.started',
      'event:leader.observed',
      'callback:onNewLeader',
      'callback:onStartedLeading',
      'event:leader.became',
    ]);
    expect(r.events()).toEqual([
      ['leader.election.started', { identity: 'a', leaseName: LEASE, leaseNamespace: NS, timestamp: wallAt(0) }],
      ['leader.observed', { newLeaderIdentity: 'a', isSelf: true, timestamp: wallAt(0) }],
      ['leader.became', { identity: 'a', token: 1, timestamp: wallAt(0) }],
    ]);
    expect(r.component.getLeader()).toBe('a');
    expect(r.component.getTerm()?.token).toBe(1);
    await r.stop();
  });

  it('lets a leader.became listener see isLeader() true, and a leader.lost listener see it false', async () => {
    const w = world();
    const seen: Array<[string, boolean]> = [];
    const bus = createLeaderElectionBus();
    const holder: { component?: LeaderElectionComponent } = {};
    bus.on('leader.became', () => seen.push(['became', holder.component!.isLeader()]));
    bus.on('leader.lost', () => void seen.push(['lost', holder.component!.isLeader()]));
    w.createLease();
    const r = w.replica('a', { bus });
    holder.component = r.component;
    r.start();
    await w.clock.advance(0);
    await r.stop();
    expect(seen).toEqual([
      ['became', true],
      ['lost', false],
    ]);
  });

  it('publishes leader.election.started first even when the signal is already aborted, and nothing else', async () => {
    const w = world();
    w.createLease();
    const r = w.replica('a');
    const controller = new AbortController();
    controller.abort();
    await r.component.run(controller.signal);
    expect(r.events()).toEqual([['leader.election.started', { identity: 'a', leaseName: LEASE, leaseNamespace: NS, timestamp: wallAt(0) }]]);
    expect(r.client.calls).toEqual([]);
  });

  it('announces leader.lost with reason renew_failed when renewals fail until the deadline', async () => {
    const w = world();
    let failing = false;
    let leadership: AbortSignal | undefined;
    const r = await leader(w, 'a', {
      client: failingWhen(() => failing),
      callbacks: { onStartedLeading: (signal) => void (leadership = signal) },
    });
    failing = true;
    const lost = await w.clock.advanceUntil(() => !r.component.isLeader() && r.events().some(([n]) => n === 'leader.lost'), 20_000);
    expect(lost).toBe(true);
    const [name, payload] = r.events().at(-1)!;
    expect(name).toBe('leader.lost');
    expect(payload).toMatchObject({ identity: 'a', reason: 'renew_failed', token: 1 });
    expect((payload.timestamp as Date).getTime()).toBe(w.clock.wallNow());
    expect(leadership?.aborted).toBe(true);
    expect(r.names().slice(-2)).toEqual(['event:leader.lost', 'callback:onStoppedLeading']);
    await r.stop();
    // Stopping a replica that no longer leads announces nothing more.
    expect(r.events().filter(([n]) => n === 'leader.lost')).toHaveLength(1);
  });

  it('announces the new holder, then leader.lost with reason lease_taken, when another replica takes the lease', async () => {
    const w = world();
    const r = await leader(w);
    const current = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...current, spec: { ...current.spec, holderIdentity: 'b', leaseTransitions: 2 } });
    await w.clock.advance(2_000);
    expect(r.component.isLeader()).toBe(false);
    expect(r.events().slice(3)).toEqual([
      ['leader.observed', { newLeaderIdentity: 'b', isSelf: false, timestamp: wallAt(2_000) }],
      ['leader.lost', { identity: 'a', reason: 'lease_taken', token: 1, timestamp: wallAt(2_000) }],
    ]);
    expect(r.component.getLeader()).toBe('b');
    await r.stop();
  });

  it('announces leader.lost with reason lease_deleted when the lease is deleted and cannot be recreated', async () => {
    const w = world();
    let denyCreate = false;
    const r = await leader(w, 'a', {
      client: { fault: (call) => (denyCreate && call.verb === 'create' ? { kind: 'error', error: leaseErrors.internal('admission webhook denied') } : undefined) },
    });
    denyCreate = true;
    w.store.delete(NS, LEASE);
    const lost = await w.clock.advanceUntil(() => r.events().some(([n]) => n === 'leader.lost'), 20_000);
    expect(lost).toBe(true);
    expect(r.events().at(-1)).toEqual(['leader.lost', expect.objectContaining({ identity: 'a', reason: 'lease_deleted', token: 1 })]);
    await r.stop();
  });

  it('announces leader.lost with reason released on shutdown, after which the lease is free', async () => {
    const w = world();
    const r = await leader(w);
    await w.clock.advance(3_000);
    await r.stop();
    expect(r.events().at(-1)).toEqual(['leader.lost', { identity: 'a', reason: 'released', token: 1, timestamp: wallAt(3_000) }]);
    expect(r.names().slice(-2)).toEqual(['event:leader.lost', 'callback:onStoppedLeading']);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
    expect(r.component.snapshot().running).toBe(false);
  });

  it('announces leader.lost with reason resigned on resign(), and keeps running as a follower', async () => {
    const w = world();
    const r = await leader(w);
    const resigned = r.component.resign();
    await w.clock.advance(0);
    await resigned;
    expect(r.events().at(-1)).toEqual(['leader.lost', expect.objectContaining({ reason: 'resigned', token: 1 })]);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
    expect(r.component.snapshot().running).toBe(true);
    await r.stop();
  });

  it("announces every observed leader change on a follower, then its own leadership after the leader's release", async () => {
    const w = world();
    const a = await leader(w, 'a');
    const b = w.replica('b');
    b.start();
    await w.clock.advance(0);
    expect(b.events()).toEqual([
      ['leader.election.started', { identity: 'b', leaseName: LEASE, leaseNamespace: NS, timestamp: wallAt(0) }],
      ['leader.observed', { newLeaderIdentity: 'a', isSelf: false, timestamp: wallAt(0) }],
    ]);
    await a.stop();
    const took = await w.clock.advanceUntil(() => b.component.isLeader(), 10_000);
    expect(took).toBe(true);
    expect(b.events().slice(2).map(([n, p]) => [n, { ...p, timestamp: undefined }])).toEqual([
      ['leader.observed', { newLeaderIdentity: 'b', isSelf: true, timestamp: undefined }],
      ['leader.became', { identity: 'b', token: 2, timestamp: undefined }],
    ]);
    expect(b.timeline.filter((e) => e.kind === 'callback' && e.name === 'onNewLeader').map((e) => (e.kind === 'callback' ? e.args[0] : ''))).toEqual(['a', 'b']);
    await b.stop();
  });

  it('delivers a leader.became to a component that subscribes from inside onStartedLeading, exactly once', async () => {
    const w = world();
    const became = jest.fn<(e: BecameLeaderEvent) => void>();
    const lost = jest.fn<(e: LostLeadershipEvent) => void>();
    const holder: { bus?: ReturnType<typeof createLeaderElectionBus> } = {};
    const bus = createLeaderElectionBus();
    holder.bus = bus;
    const r = await leader(w, 'a', {
      bus,
      callbacks: {
        // A leader-only component starting up and subscribing to the bus, as the Go original's users do.
        onStartedLeading: () => {
          holder.bus!.on('leader.became', became);
          holder.bus!.once('leader.lost', lost);
        },
      },
    });
    await w.clock.advance(5_000);
    expect(became).toHaveBeenCalledTimes(1);
    expect(became.mock.calls[0]![0]).toMatchObject({ identity: 'a', token: 1 });
    await r.stop();
    expect(lost).toHaveBeenCalledTimes(1);
    expect(lost.mock.calls[0]![0]).toMatchObject({ identity: 'a', reason: 'released' });
  });

  it('calls once-listeners once and keeps the others, across two terms', async () => {
    const w = world();
    const bus = createLeaderElectionBus();
    const once = jest.fn();
    const every = jest.fn();
    bus.once('leader.became', once);
    bus.on('leader.became', every);
    const r = await leader(w, 'a', { bus });
    await r.component.resign({ cooldownMs: 0 });
    const again = await w.clock.advanceUntil(() => r.component.isLeader(), 10_000);
    expect(again).toBe(true);
    expect(once).toHaveBeenCalledTimes(1);
    expect(every).toHaveBeenCalledTimes(2);
    expect(every.mock.calls.map((c) => (c[0] as BecameLeaderEvent).token)).toEqual([1, 2]);
    expect(bus.listenerCount('leader.became')).toBe(2); // the recorder and `every`
    await r.stop();
  });

  it('keeps electing, and keeps every other listener informed, when listeners throw or reject', async () => {
    const w = world();
    const bus = createLeaderElectionBus();
    // Registered before the recorder, so an emit that stopped at the first throw would starve it.
    for (const name of ['leader.election.started', 'leader.observed', 'leader.became'] as const) {
      bus.on(name, () => {
        throw new Error(`listener of ${name} is broken`);
      });
    }
    bus.on('leader.lost', () => Promise.reject(new Error('async listener of leader.lost is broken')));
    const r = await leader(w, 'a', { bus });
    expect(r.events().map(([n]) => n)).toEqual(['leader.election.started', 'leader.observed', 'leader.became']);
    const renewTime = w.store.get(NS, LEASE).spec?.renewTime;
    await w.clock.advance(10_000);
    expect(r.component.isLeader()).toBe(true);
    expect(w.store.get(NS, LEASE).spec?.renewTime).not.toBe(renewTime);
    await r.stop();
    expect(r.events().at(-1)).toEqual(['leader.lost', expect.objectContaining({ reason: 'released' })]);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
    const failures = r.log.entries.filter((e) => e.level === 'error' && /listener failed/.test(e.message));
    expect(failures.map((e) => e.message)).toEqual([
      'A "leader.election.started" listener failed',
      'A "leader.observed" listener failed',
      'A "leader.became" listener failed',
      'A "leader.lost" listener failed',
    ]);
  });

  it("with onStartedLeadingFailure 'keep', still announces leadership and stays leader when onStartedLeading throws", async () => {
    const w = world();
    const r = await leader(w, 'a', {
      config: { onStartedLeadingFailure: 'keep' },
      callbacks: {
        onStartedLeading: () => {
          throw new Error('leader-only work failed to start');
        },
      },
    });
    expect(r.events().map(([n]) => n)).toContain('leader.became');
    await w.clock.advance(4_000);
    expect(r.component.isLeader()).toBe(true);
    expect(r.events().filter(([n]) => n === 'leader.lost')).toEqual([]);
    await r.stop();
    expect(r.log.entries.some((e) => e.level === 'error' && /onStartedLeading callback failed/.test(e.message))).toBe(true);
    expect(r.events().at(-1)).toEqual(['leader.lost', expect.objectContaining({ reason: 'released' })]);
  });

  it('by default announces leader.lost with reason work_failed right after leader.became when onStartedLeading throws, and frees the lease for another replica', async () => {
    const w = world();
    w.createLease();
    const a = w.replica('a', {
      callbacks: {
        onStartedLeading: () => {
          throw new Error('leader-only work failed to start');
        },
      },
    });
    a.start();
    await w.clock.advance(0);
    expect(a.component.isLeader()).toBe(false);
    expect(a.names().slice(3)).toEqual(['callback:onStartedLeading', 'event:leader.became', 'event:leader.lost', 'callback:onStoppedLeading']);
    expect(a.events().slice(2)).toEqual([
      ['leader.became', { identity: 'a', token: 1, timestamp: wallAt(0) }],
      ['leader.lost', { identity: 'a', reason: 'work_failed', token: 1, timestamp: wallAt(0) }],
    ]);
    const stopped = a.timeline.find((e) => e.kind === 'callback' && e.name === 'onStoppedLeading');
    expect(stopped?.kind === 'callback' && stopped.args[0]).toMatchObject({ reason: 'work_failed', term: { token: 1, identity: 'a' } });
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
    expect(a.log.entries.some((e) => e.level === 'error' && /onStartedLeading callback failed/.test(e.message))).toBe(true);

    const b = w.replica('b');
    b.start();
    expect(await w.clock.advanceUntil(() => b.component.isLeader(), 10_000)).toBe(true);
    expect(b.events().at(-1)).toEqual(['leader.became', expect.objectContaining({ identity: 'b', token: 2 })]);
    await w.clock.advance(10_000);
    expect(b.component.isLeader()).toBe(true);
    expect(a.component.getLeader()).toBe('b');
    await a.stop();
    await b.stop();
  });

  it('by default ends a running term when the promise of onStartedLeading rejects, aborting its signal, then contends again', async () => {
    const w = world();
    let failWork: (err: Error) => void = () => {};
    const signals: AbortSignal[] = [];
    const r = await leader(w, 'a', {
      callbacks: {
        onStartedLeading: (signal) => {
          signals.push(signal);
          return new Promise<void>((resolve, reject) => {
            failWork = reject;
            signal.addEventListener('abort', () => resolve(), { once: true });
          });
        },
      },
    });
    await w.clock.advance(5_000);
    expect(r.component.isLeader()).toBe(true);
    failWork(new Error('reconcile loop crashed'));
    await w.clock.advance(0);
    expect(r.component.isLeader()).toBe(false);
    expect(signals[0]!.aborted).toBe(true);
    expect(r.events().at(-1)).toEqual(['leader.lost', { identity: 'a', reason: 'work_failed', token: 1, timestamp: wallAt(5_000) }]);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');

    // Nobody else wants it: after a short cooldown the replica leads again, in a new term.
    expect(await w.clock.advanceUntil(() => r.component.isLeader(), 20_000)).toBe(true);
    expect(r.events().at(-1)).toEqual(['leader.became', expect.objectContaining({ identity: 'a', token: 2 })]);
    expect(signals).toHaveLength(2);
    expect(signals[1]!.aborted).toBe(false);
    await r.stop();
    expect(r.events().at(-1)).toEqual(['leader.lost', expect.objectContaining({ reason: 'released', token: 2 })]);
  });

  it('waits for a leader.lost listener that returns a promise before releasing the lease', async () => {
    const w = world();
    const bus = createLeaderElectionBus();
    let finishStopping: () => void = () => {};
    bus.on('leader.lost', () => new Promise<void>((resolve) => (finishStopping = resolve)));
    const r = await leader(w, 'a', { bus });
    r.controller.abort();
    await w.clock.advance(1_000);
    expect(r.component.isLeader()).toBe(false);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('a'); // work still stopping: not released
    finishStopping();
    await r.stop();
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
  });

  it("passes the user's callbacks their usual arguments and chains the user's observer", async () => {
    const w = world();
    const terms: LeadershipTerm[] = [];
    const stops: StoppedLeadingInfo[] = [];
    const requests = jest.fn();
    const r = await leader(w, 'a', {
      callbacks: { onStartedLeading: (_signal, term) => void terms.push(term), onStoppedLeading: (info) => void stops.push(info) },
      observer: { onRequest: requests },
    });
    await r.stop();
    expect(terms).toEqual([{ token: 1, acquireTimeMs: START_WALL_S * 1000, identity: 'a' }]);
    expect(stops).toEqual([{ reason: 'released', term: terms[0] }]);
    expect(requests).toHaveBeenCalledWith(expect.objectContaining({ purpose: 'acquire', verb: 'get' }));
    expect(requests).toHaveBeenCalledWith(expect.objectContaining({ purpose: 'release', verb: 'update' }));
  });

  it('refuses to run twice at once', async () => {
    const w = world();
    const r = await leader(w);
    await expect(r.component.run(new AbortController().signal)).rejects.toMatchObject({ code: 'ALREADY_RUNNING' });
    expect(r.events().filter(([n]) => n === 'leader.election.started')).toHaveLength(1);
    await r.stop();
  });
});

describe("LeaderElectionComponent: the elector's options", () => {
  // Every replica on one 4 s lease; the Lease does not exist yet.
  const timings = { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };

  it('passes maxPeerLeaseDurationMs through: with it set to the shared lease duration, a missing Lease is led well before 15 s', async () => {
    const w = world();
    const r = w.replica('a', { config: { ...timings, maxPeerLeaseDurationMs: 4_000 } });
    r.start();
    expect(await w.clock.advanceUntil(() => r.component.isLeader(), 10_000)).toBe(true);
    expect(r.events().at(-1)).toEqual(['leader.became', expect.objectContaining({ identity: 'a' })]);
    await r.stop();
  });

  it('without maxPeerLeaseDurationMs, waits out the 15 s default before leading a Lease it created', async () => {
    const w = world();
    const r = w.replica('a', { config: timings });
    r.start();
    await w.clock.advance(10_000);
    expect(r.component.isLeader()).toBe(false);
    expect(r.events().some(([n]) => n === 'leader.became')).toBe(false);
    expect(await w.clock.advanceUntil(() => r.component.isLeader(), 20_000)).toBe(true);
    await r.stop();
  });
});

describe('LeaderElectionComponent: election disabled', () => {
  it('announces standalone leadership without touching the API, and releases it on abort', async () => {
    const w = world();
    let leadership: AbortSignal | undefined;
    const stops: StoppedLeadingInfo[] = [];
    const r = w.replica('a', {
      config: { enabled: false },
      callbacks: { onStartedLeading: (signal) => void (leadership = signal), onStoppedLeading: (info) => void stops.push(info) },
    });
    r.start();
    await w.clock.advance(0);
    expect(r.names()).toEqual(['event:leader.election.started', 'callback:onStartedLeading', 'event:leader.became']);
    expect(r.events()).toEqual([
      ['leader.election.started', { identity: 'standalone', leaseName: LEASE, leaseNamespace: NS, timestamp: wallAt(0) }],
      ['leader.became', { identity: 'standalone', token: 0, timestamp: wallAt(0) }],
    ]);
    expect(r.component.isLeader()).toBe(true);
    expect(r.component.getLeader()).toBe('standalone');
    expect(r.component.snapshot()).toMatchObject({ enabled: false, isLeader: true, running: true, identity: 'standalone' });
    expect(leadership?.aborted).toBe(false);

    await w.clock.advance(60_000);
    await r.stop();
    expect(r.names().slice(3)).toEqual(['event:leader.lost', 'callback:onStoppedLeading']);
    expect(r.events().at(-1)).toEqual(['leader.lost', { identity: 'standalone', reason: 'released', token: 0, timestamp: wallAt(60_000) }]);
    expect(stops).toEqual([{ reason: 'released', term: { token: 0, acquireTimeMs: START_WALL_S * 1000, identity: 'standalone' } }]);
    expect(leadership?.aborted).toBe(true);
    expect(r.component.isLeader()).toBe(false);
    expect(r.client.calls).toEqual([]);
  });

  it('announces only leader.election.started when the signal is already aborted', async () => {
    const w = world();
    const r = w.replica('a', { config: { enabled: false } });
    const controller = new AbortController();
    controller.abort();
    await r.component.run(controller.signal);
    expect(r.names()).toEqual(['event:leader.election.started']);
  });

  it('delivers leader.became to a component subscribing from inside onStartedLeading', async () => {
    const w = world();
    const bus = createLeaderElectionBus();
    const became = jest.fn();
    const r = w.replica('a', { bus, config: { enabled: false }, callbacks: { onStartedLeading: () => void bus.on('leader.became', became) } });
    r.start();
    await w.clock.advance(0);
    expect(became).toHaveBeenCalledTimes(1);
    await r.stop();
  });

  it('does not wait forever for an onStoppedLeading that never settles', async () => {
    const w = world();
    const r = w.replica('a', { config: { enabled: false, onStoppedLeadingTimeoutMs: 5_000 }, callbacks: { onStoppedLeading: () => new Promise(() => {}) } });
    r.start();
    await w.clock.advance(0);
    r.controller.abort();
    let finished = false;
    void r.done!.then(() => (finished = true));
    await w.clock.advance(4_999);
    expect(finished).toBe(false);
    await w.clock.advance(1);
    expect(finished).toBe(true);
    expect(r.log.entries.some((e) => e.level === 'warn' && /did not settle/.test(e.message))).toBe(true);
  });

  it('hands onStartedLeading a term that is valid until the signal aborts', async () => {
    const w = world();
    const seen: { term?: LeadershipTerm; validAtAbort?: boolean } = {};
    const r = w.replica('a', {
      config: { enabled: false },
      callbacks: {
        onStartedLeading: (signal, term) => {
          seen.term = term;
          signal.addEventListener('abort', () => (seen.validAtAbort = term.isValid()), { once: true });
        },
      },
    });
    r.start();
    await w.clock.advance(1_000);
    expect(seen.term?.isValid()).toBe(true);
    expect(r.component.getTerm()).toBe(seen.term);
    expect(seen.term).toEqual({ token: 0, acquireTimeMs: START_WALL_S * 1000, identity: 'standalone' });
    await r.stop();
    expect(seen.validAtAbort).toBe(false);
    expect(seen.term?.isValid()).toBe(false);
  });

  it('keeps leading when onStartedLeading throws: there is no other replica to hand over to', async () => {
    const w = world();
    const r = w.replica('a', {
      config: { enabled: false },
      callbacks: {
        onStartedLeading: () => {
          throw new Error('leader-only work failed to start');
        },
      },
    });
    r.start();
    await w.clock.advance(10_000);
    expect(r.component.isLeader()).toBe(true);
    expect(r.events().map(([n]) => n)).toEqual(['leader.election.started', 'leader.became']);
    expect(r.log.entries.some((e) => e.level === 'error' && /onStartedLeading callback failed/.test(e.message))).toBe(true);
    await r.stop();
    expect(r.events().at(-1)).toEqual(['leader.lost', expect.objectContaining({ reason: 'released' })]);
  });

  it('resign() is a no-op and check() always healthy', async () => {
    const w = world();
    const r = w.replica('a', { config: { enabled: false } });
    r.start();
    await w.clock.advance(0);
    await r.component.resign();
    expect(r.component.isLeader()).toBe(true);
    expect(r.component.check(0)).toBeUndefined();
    await r.stop();
  });
});

describe('LeaderElectionComponent: with the system clock', () => {
  it('leaves nothing running after its signal aborts (jest runs with --detectOpenHandles)', async () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: LEASE } });
    const bus = createLeaderElectionBus();
    const component = new LeaderElectionComponent({ identity: 'a', leaseName: LEASE, leaseNamespace: NS, followerStrategy: 'watch' }, new MemoryLeaseClient(store), bus, {}, {});
    const controller = new AbortController();
    // Aborted on the next microtask: an abort from inside the event itself would make the pure
    // elector sleep one retry period before noticing (its pause() does not check signal.aborted).
    bus.on('leader.became', () => queueMicrotask(() => controller.abort()));
    await component.run(controller.signal);
    expect(component.isLeader()).toBe(false);
    expect(store.get(NS, LEASE).spec?.holderIdentity).toBe('');
    expect(store.watcherCount).toBe(0);
  });

  it('leaves nothing running in disabled mode either', async () => {
    const bus = createLeaderElectionBus();
    const component = new LeaderElectionComponent({ enabled: false } as never, undefined, bus, {}, {});
    const controller = new AbortController();
    bus.on('leader.became', () => controller.abort());
    await component.run(controller.signal);
    expect(component.isLeader()).toBe(false);
  });
});

