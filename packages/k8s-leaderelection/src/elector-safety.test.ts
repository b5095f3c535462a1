/**
 * Regression tests for the defects an outside review found (issue 11): retry storms, two leaders
 * after a deletion or with mixed lease durations, a fencing token reset by recreation, a live
 * leadership signal after a pause, renewals a client-go follower cannot see, and a leader whose
 * work failed keeping the lease. Each test failed on the elector before the fix.
 */
import { describe, expect, it } from '@jest/globals';
import { freeLease, LEASE, NS, runChecked, tryTimes, world, type Replica, type World } from './__tests__/harness.js';
import { goFollower } from './__tests__/go-follower.js';
import { PausableClock } from './__tests__/pausable-clock.js';
import { CLAIM_ANNOTATION, FAILURE_LOG_INTERVAL_MS } from './elector.js';
import { ApiError, makeStatus } from './errors.js';
import type { FollowerStrategy } from './config.js';
import type { Fault, MemoryCall } from './testing/memory-lease-client.js';

const R = 2_000;
/** client-go's most tries in a window: one at once, then one per >= R. */
const clientGoTries = (windowMs: number): number => Math.floor(windowMs / R) + 1;

const internalError = (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(500, 'InternalError', 'Internal error occurred: etcd leader changed')) });
const unavailable = (retryAfterSeconds: number): Fault => ({
  kind: 'error',
  error: new ApiError(makeStatus(503, 'ServiceUnavailable', 'the server is currently unable to handle the request', { retryAfterSeconds })),
});
const forbidden = (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(403, 'Forbidden', 'admission webhook "deny.example.com" denied the request')) });
const isWrite = (call: MemoryCall): boolean => call.verb === 'update' || call.verb === 'create';


/** A released lease (its last holder gave it up at token 4), so every follower wants to take it. */
const expiredLease = (w: World): void => freeLease(w, 4);

describe('no retry storms: a follower whose writes fail sends no more than client-go would', () => {
  const kinds: [string, () => Fault][] = [
    ['500 InternalError', internalError],
    ['403 from a webhook or RBAC', forbidden],
    ['a write that times out', () => ({ kind: 'hang' })],
  ];
  for (const strategy of ['watch', 'poll'] as FollowerStrategy[]) {
    for (const [name, fault] of kinds) {
      it(`${strategy}: every write answered with ${name} for 60 s`, async () => {
        const w = world(11);
        expiredLease(w);
        const a = w.replica('a', { config: { followerStrategy: strategy }, client: { fault: (call) => (isWrite(call) ? fault() : undefined) } });
        a.start();
        await w.clock.advance(60_000);
        const gets = a.client.calls.filter((c) => c.verb === 'get').length;
        const writes = a.client.calls.filter(isWrite).length;
        const tries = tryTimes(a.client.calls);
        expect(writes).toBeGreaterThanOrEqual(3); // it keeps trying
        expect(tries.length).toBeLessThanOrEqual(clientGoTries(60_000));
        expect(gets).toBeLessThanOrEqual(clientGoTries(60_000));
        expect(writes).toBeLessThanOrEqual(clientGoTries(60_000));
        // Every gap between two tries is at least R (client-go's lower bound).
        for (let i = 1; i < tries.length; i++) expect(tries[i]! - tries[i - 1]!).toBeGreaterThanOrEqual(R);
        expect(a.elector.isLeader()).toBe(false);
        await a.stop();
      });
    }
  }

  it('backs off exponentially for repeated failures, up to a cap, and resets after a success', async () => {
    const w = world(12);
    expiredLease(w);
    let failing = true;
    const a = w.replica('a', { config: { followerStrategy: 'watch' }, client: { fault: (call) => (failing && isWrite(call) ? internalError() : undefined) } });
    a.start();
    await w.clock.advance(120_000);
    const tries = tryTimes(a.client.calls);
    const gaps = tries.slice(1).map((t, i) => t - tries[i]!);
    expect(gaps[0]).toBeLessThan(2.2 * R); // first retry: client-go's [R, 2.2R)
    // later gaps grow beyond 2.2R (exponential), but never beyond the cap: min(4R, L/2) x 2.2
    expect(Math.max(...gaps)).toBeGreaterThanOrEqual(2.2 * R);
    for (const gap of gaps) expect(gap).toBeLessThan(Math.min(4 * R, 7_500) * 2.2);
    failing = false;
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 20_000)).toBe(true);
    await a.stop();
  });

  it("honours the server's Retry-After", async () => {
    const w = world(13);
    expiredLease(w);
    const a = w.replica('a', { config: { followerStrategy: 'poll' }, client: { fault: (call) => (isWrite(call) ? unavailable(20) : undefined) } });
    a.start();
    await w.clock.advance(60_000);
    const tries = tryTimes(a.client.calls);
    for (let i = 1; i < tries.length; i++) expect(tries[i]! - tries[i - 1]!).toBeGreaterThanOrEqual(20_000);
    expect(tries.length).toBeGreaterThanOrEqual(2);
    await a.stop();
  });

  it('logs a repeated identical failure at warn level once per interval, with the number of repeats', async () => {
    const w = world(14);
    expiredLease(w);
    const warns: { message: string; fields: Record<string, unknown> | undefined }[] = [];
    const debugs: string[] = [];
    const a = w.replica('a', {
      config: { followerStrategy: 'poll' },
      client: { fault: (call) => (isWrite(call) ? internalError() : undefined) },
      logger: { warn: (message, fields) => warns.push({ message, fields }), debug: (message) => debugs.push(message) },
    });
    a.start();
    await w.clock.advance(3 * FAILURE_LOG_INTERVAL_MS + 5_000);
    const failures = warns.filter((w) => w.message.startsWith('Lease request'));
    expect(failures.length).toBeGreaterThanOrEqual(3);
    expect(failures.length).toBeLessThanOrEqual(4);
    expect(failures.slice(1).every((f) => typeof f.fields?.['repeatedSinceLastLog'] === 'number')).toBe(true);
    expect(debugs.filter((m) => m.includes('failed'))).toEqual([]);
    await a.stop();
  });
});

/** Starts `a` as leader (with token > 0) and `b` following; returns both. */
async function leaderAndFollower(w: ReturnType<typeof world>, options: { a?: Parameters<typeof w.replica>[1]; b?: Parameters<typeof w.replica>[1] } = {}): Promise<[Replica, Replica]> {
  expiredLease(w);
  const a = w.replica('a', options.a);
  const b = w.replica('b', options.b);
  a.start();
  await w.clock.advance(0);
  expect(a.elector.isLeader()).toBe(true);
  b.start();
  await w.clock.advance(100);
  return [a, b];
}

describe('no dual leadership after a deletion', () => {
  it('an actor deleting the Lease right before each of a follower’s reads, while the leader keeps recreating it', async () => {
    const w = world(21);
    let targeting = false;
    const [a, b] = await leaderAndFollower(w, {
      b: {
        client: {
          fault: (call) => {
            if (targeting && call.verb === 'get' && w.store.peek(NS, LEASE)) w.store.delete(NS, LEASE);
            return undefined;
          },
        },
      },
    });
    targeting = true;
    // Never two leaders, by isLeader() and by the leadership signals user code sees.
    await runSignalsChecked(w, [a, b], 120_000);
    targeting = false;
    await runSignalsChecked(w, [a, b], 60_000);
    expect([a, b].filter((r) => r.elector.isLeader())).toHaveLength(1);
    await a.stop();
    await b.stop();
  });

  it('a fresh replica with a 4 s lease finds the Lease deleted while a partitioned leader with a 15 s lease is guaranteed', async () => {
    const w = world(22);
    let partitioned = false;
    expiredLease(w);
    const a = w.replica('a', { client: { fault: () => (partitioned ? { kind: 'hang' } : undefined) } });
    a.start();
    await w.clock.advance(5_000);
    expect(a.elector.isLeader()).toBe(true);
    partitioned = true;
    w.store.delete(NS, LEASE);
    const b = w.replica('b', { config: { leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 } });
    b.start();
    await runSignalsChecked(w, [a, b], 40_000);
    expect(b.elector.isLeader()).toBe(true);
    // b led only after a's signal had aborted.
    expect(b.log.started[0]!.atMs).toBeGreaterThan(a.log.stopped[0]!.atMs);
    await b.stop();
    partitioned = false;
    await a.stop();
  });

  it('a rollout to a longer lease: a fresh replica configured with maxPeerLeaseDurationMs waits out the old leader', async () => {
    const w = world(23);
    let partitioned = false;
    expiredLease(w);
    const a = w.replica('a', { config: { leaseDurationMs: 30_000, renewDeadlineMs: 20_000 }, client: { fault: () => (partitioned ? { kind: 'hang' } : undefined) } });
    a.start();
    await w.clock.advance(3_000);
    partitioned = true;
    w.store.delete(NS, LEASE);
    const b = w.replica('b', { config: { maxPeerLeaseDurationMs: 30_000 } });
    b.start();
    await runSignalsChecked(w, [a, b], 60_000);
    expect(b.elector.isLeader()).toBe(true);
    expect(b.log.started[0]!.atMs).toBeGreaterThanOrEqual(3_000 + 30_000);
    await b.stop();
    partitioned = false;
    await a.stop();
  });

  it('a deletion under a live leader: the leader recreates the Lease and keeps leading, nobody claims it', async () => {
    const w = world(24);
    const [a, b] = await leaderAndFollower(w);
    w.store.delete(NS, LEASE);
    await runSignalsChecked(w, [a, b], 40_000);
    expect(a.log.stopped).toEqual([]);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.log.started).toEqual([]);
    expect(w.store.get(NS, LEASE).metadata?.annotations?.[CLAIM_ANNOTATION]).toBeUndefined();
    await a.stop();
    await b.stop();
  });
});

describe('fencing tokens never go backwards', () => {
  it('a leader recreating its deleted Lease writes its current token', async () => {
    const w = world(31);
    const [a, b] = await leaderAndFollower(w);
    const token = a.elector.getTerm()!.token;
    expect(token).toBe(5);
    w.store.delete(NS, LEASE);
    await w.clock.advance(R + 100);
    const lease = w.store.get(NS, LEASE);
    expect(lease.spec?.holderIdentity).toBe('a');
    expect(lease.spec?.leaseTransitions).toBe(token);
    expect(a.elector.getTerm()?.token).toBe(token);
    await a.stop();
    await b.stop();
  });

  it('a follower creating a deleted Lease continues above the highest token it saw', async () => {
    const w = world(32);
    let dead = false;
    const [a, b] = await leaderAndFollower(w, { a: { client: { fault: () => (dead ? { kind: 'hang' } : undefined) } } });
    expect(a.elector.getTerm()!.token).toBe(5);
    await w.clock.advance(R * 3); // b has read the lease with token 5
    dead = true;
    w.store.delete(NS, LEASE);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 60_000)).toBe(true);
    expect(b.elector.getTerm()!.token).toBeGreaterThan(5);
    await b.stop();
    dead = false;
    await a.stop();
  });
});

describe('the leadership signal is authoritative after a pause', () => {
  it('aborts the signal before sending any request, and never starts a renewal past the guarantee', async () => {
    const w = world(41);
    expiredLease(w);
    const pausable = new PausableClock(w.clock);
    const sentWithLiveSignal: number[] = [];
    const a: Replica = w.replica('a', {
      config: { clock: pausable },
      client: {
        fault: (call) => {
          const signal = a.log.started.at(-1)?.signal;
          if (signal && !signal.aborted && call.atMs >= guaranteedUntil) sentWithLiveSignal.push(call.atMs);
          return undefined;
        },
      },
    });
    let guaranteedUntil = Infinity;
    a.start();
    await w.clock.advance(5_000);
    expect(a.elector.isLeader()).toBe(true);
    guaranteedUntil = a.elector.snapshot().guaranteedUntilMs!;
    const term = a.elector.getTerm()!;
    // SIGSTOP, with a user timer (a reconcile loop) due before the elector's timers.
    pausable.paused = true;
    const seen: { aborted: boolean; valid: boolean }[] = [];
    pausable.setTimeout(() => seen.push({ aborted: a.log.started[0]!.signal.aborted, valid: term.isValid() }), 1);
    await w.clock.advance(30_000);
    expect(term.isValid()).toBe(false); // user code can rely on this at once
    await pausable.resumeSettling();
    await w.clock.advance(0);
    expect(seen).toEqual([{ aborted: false, valid: false }]); // the signal lags for earlier timers; isValid() does not
    expect(a.log.started[0]!.signal.aborted).toBe(true);
    expect(sentWithLiveSignal).toEqual([]);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['renew_failed']);
    await a.stop();
  });
});

describe('client-go followers sharing the Lease', () => {
  it('a renewal within the same wall-clock second does not extend the guarantee', async () => {
    const w = world(51);
    expiredLease(w);
    let partitioned = false;
    // Renewals every 300 ms: several per second, which a client-go follower cannot tell apart.
    const config = { leaseDurationMs: 2_000, renewDeadlineMs: 1_900, retryPeriodMs: 300 };
    const a = w.replica('a', { config, client: { fault: () => (partitioned ? { kind: 'hang' } : undefined) } });
    const go = goFollower(w);
    a.start();
    let violations = 0;
    for (let t = 0; t < 20_000; t += 10) {
      if (t === 7_950) partitioned = true; // stop renewing after renewals late in a second
      go.poll();
      // The Go follower would take over at observedAt + its lease duration (the record's 2 s).
      if (a.elector.isLeader() && w.clock.now() >= go.observedAtMs() + 2_000) violations++;
      await w.clock.advance(10);
    }
    expect(a.log.stopped.length).toBeGreaterThanOrEqual(1);
    expect(violations).toBe(0);
    partitioned = false;
    await a.stop();
  });
});

describe('leasekit-only replicas (clientGoFollowers: false)', () => {
  it('a leader whose wall clock stands still still writes renewals a follower sees as new', async () => {
    // Without care, each renewal writes the record it replaces byte for byte; a follower keeps
    // the time it first saw it and takes over one lease duration later, while the leader counts
    // a fresh guarantee from every renewal.
    const w = world(71);
    expiredLease(w);
    const frozenWallMs = w.clock.wallNow();
    const clock = { now: () => w.clock.now(), wallNow: () => frozenWallMs, setTimeout: w.clock.setTimeout.bind(w.clock), clearTimeout: w.clock.clearTimeout.bind(w.clock) };
    const a = w.replica('a', { config: { clientGoFollowers: false, clock } });
    const b = w.replica('b', { config: { clientGoFollowers: false } });
    a.start();
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 60_000)).toBe(true);
    b.start();
    await runChecked(w.clock, [a, b], 120_000);
    // a renewed all along: b never had a reason to lead.
    expect(a.elector.isLeader()).toBe(true);
    expect(b.log.started).toEqual([]);
    await a.stop();
    await b.stop();
  });
});

describe('a leader whose work failed to start does not keep the lease', () => {
  it('onStartedLeading throwing ends the term (work_failed), releases the lease, and another replica leads', async () => {
    const w = world(61);
    expiredLease(w);
    const a = w.replica('a', {
      callbacks: {
        onStartedLeading: () => {
          throw new Error('cannot connect to the database');
        },
      },
    });
    const b = w.replica('b');
    a.start();
    await w.clock.advance(0);
    b.start();
    await w.clock.advance(0);
    expect(a.log.started).toHaveLength(1);
    expect(a.log.started[0]!.signal.aborted).toBe(true);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['work_failed']);
    expect(a.elector.isLeader()).toBe(false);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).not.toBe('a');
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 5 * R)).toBe(true);
    await a.stop();
    await b.stop();
  });

  it('a rejection later in the term ends it too, and the replica contends again after a short cooldown', async () => {
    const w = world(62);
    expiredLease(w);
    const a = w.replica('a', {
      callbacks: {
        onStartedLeading: async (signal) => {
          await new Promise((resolve) => w.clock.setTimeout(() => resolve(undefined), 7_000));
          if (!signal.aborted) throw new Error('reconcile loop crashed');
        },
      },
    });
    a.start();
    await w.clock.advance(6_000);
    expect(a.elector.isLeader()).toBe(true);
    await w.clock.advance(2_000);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['work_failed']);
    expect(a.elector.isLeader()).toBe(false);
    // The short cooldown over, it contends again (it is the only replica) and leads again.
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 10 * R)).toBe(true);
    await a.stop();
  });

  it("keeps leading with onStartedLeadingFailure: 'keep'", async () => {
    const w = world(63);
    expiredLease(w);
    const a = w.replica('a', { config: { onStartedLeadingFailure: 'keep' }, callbacks: { onStartedLeading: () => Promise.reject(new Error('boom')) } });
    a.start();
    await w.clock.advance(30_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.log.stopped).toEqual([]);
    await a.stop();
  });
});

/** Like runChecked, but also counts a replica whose leadership signal is still live as a leader. */
async function runSignalsChecked(w: ReturnType<typeof world>, replicas: Replica[], ms: number): Promise<void> {
  const end = w.clock.now() + ms;
  while (w.clock.now() < end) {
    await w.clock.advance(Math.min(50, end - w.clock.now()));
    const live = replicas.filter((r) => r.elector.isLeader() || r.log.started.some((s) => !s.signal.aborted)).map((r) => r.id);
    if (live.length > 1) throw new Error(`two leaders (isLeader or live signal) at ${w.clock.now()} ms: ${live.join(', ')}`);
  }
}
