/**
 * The watching follower on a fake clock, against a LeaseClient whose watch is scripted per call:
 * how many watches it opens under persistent failures, how fast it reconnects after a healthy
 * stream, Retry-After, 403 and 410 handling, logging of repeated failures, stop()/start() churn,
 * and that throwing hooks never escape.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { resolveConfig } from './config.js';
import { ApiError, NetworkError, makeStatus } from './errors.js';
import { LeaseFollower, WATCH_BACKOFF_MAX_RETRY_PERIODS, WATCH_FAILURE_LOG_INTERVAL_MS, WATCH_QUICK_RECONNECT_MAX_MS } from './follower.js';
import type { Lease, WatchOptions } from './lease.js';
import { toSafeLogger } from './logger.js';
import { seededRandom } from './random.js';
import { formatMicroTime } from './record.js';
import { FakeClock } from './testing/fake-clock.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient } from './testing/memory-lease-client.js';
import { PassThroughClient } from './__tests__/pass-through-client.js';

const NS = 'default';
const NAME = 'my-lease';
/** The retry period R every test uses. */
const R = 1000;

interface WatchCall {
  atMs: number;
  resourceVersion: string | undefined;
  endedAtMs?: number;
}

/** How one watch call behaves; `serve` runs a real (in-memory) stream, ended after `endAfterMs` if given. */
type Behaviour = (call: WatchCall, options: WatchOptions, serve: (endAfterMs?: number) => Promise<void>) => Promise<void>;

/** A LeaseClient whose get/create/update are the in-memory ones and whose watch follows a script. */
class ScriptedWatchClient extends PassThroughClient<MemoryLeaseClient> {
  readonly calls: WatchCall[] = [];
  active = 0;
  maxActive = 0;
  behaviour: Behaviour = (_call, _options, serve) => serve();

  constructor(
    inner: MemoryLeaseClient,
    private readonly clock: FakeClock,
  ) {
    super(inner);
  }

  async watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    const call: WatchCall = { atMs: this.clock.now(), resourceVersion: options.resourceVersion };
    this.calls.push(call);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await this.behaviour(call, options, (endAfterMs) => this.serve(namespace, name, options, endAfterMs));
    } finally {
      this.active--;
      call.endedAtMs = this.clock.now();
    }
  }

  /** A normal stream; the "server" ends it after `endAfterMs` (0: right after what it had to deliver). */
  private async serve(namespace: string, name: string, options: WatchOptions, endAfterMs?: number): Promise<void> {
    const stream = new AbortController();
    const onAbort = (): void => stream.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = endAfterMs === undefined ? undefined : this.clock.setTimeout(() => stream.abort(), endAfterMs);
    try {
      await this.inner.watch(namespace, name, { ...options, signal: stream.signal });
    } finally {
      if (timer !== undefined) this.clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }
}

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

interface Fixture {
  clock: FakeClock;
  store: LeaseStore;
  client: ScriptedWatchClient;
  follower: LeaseFollower;
  stop: AbortController;
  lines: LogLine[];
  seen: Lease[];
  deleted: number;
  /** The resourceVersion the follower is told it observed last (undefined: start from "now"). */
  observedRv: string | undefined;
  /** Lets the leader renew every R/2 until stopped, so streams deliver MODIFIED events. */
  renewing(): () => void;
}

const fixtures: Fixture[] = [];

afterEach(async () => {
  for (const f of fixtures.splice(0)) {
    f.stop.abort();
    f.follower.stop();
    await f.clock.advance(0);
  }
});

function setup(seed = 7): Fixture {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  store.create(NS, {
    metadata: { name: NAME },
    spec: { holderIdentity: 'leader', leaseDurationSeconds: 3, renewTime: formatMicroTime(clock.wallNow()), leaseTransitions: 0 },
  });
  const client = new ScriptedWatchClient(new MemoryLeaseClient(store, { clock }), clock);
  const lines: LogLine[] = [];
  const logger = {
    debug: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'debug', message, fields }),
    info: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'info', message, fields }),
    warn: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'warn', message, fields }),
    error: (message: string, fields?: Record<string, unknown>) => lines.push({ level: 'error', message, fields }),
  };
  const config = resolveConfig({
    identity: 'me',
    leaseName: NAME,
    leaseNamespace: NS,
    leaseDurationMs: 3 * R,
    renewDeadlineMs: 2 * R,
    retryPeriodMs: R,
    clock,
    random: seededRandom(seed),
  });
  const f: Fixture = {
    clock,
    store,
    client,
    lines,
    seen: [],
    deleted: 0,
    observedRv: undefined,
    stop: new AbortController(),
    follower: undefined as unknown as LeaseFollower,
    renewing() {
      let timer = clock.setTimeout(function renew() {
        const current = store.get(NS, NAME);
        store.update(NS, NAME, { ...current, spec: { ...current.spec, renewTime: formatMicroTime(clock.wallNow()) } });
        timer = clock.setTimeout(renew, R / 2);
      }, R / 2);
      return () => clock.clearTimeout(timer);
    },
  };
  f.follower = new LeaseFollower({
    client,
    config,
    log: toSafeLogger(logger),
    onLease: (lease) => f.seen.push(lease),
    onDeleted: () => f.deleted++,
    currentResourceVersion: () => f.observedRv,
  });
  fixtures.push(f);
  return f;
}

/** The most watch opens in any window of `windowMs` (windows starting at each open). */
function maxInWindow(calls: WatchCall[], windowMs: number): number {
  let max = 0;
  for (let i = 0; i < calls.length; i++) {
    let n = 0;
    for (let j = i; j < calls.length && calls[j]!.atMs < calls[i]!.atMs + windowMs; j++) n++;
    max = Math.max(max, n);
  }
  return max;
}

function gaps(calls: WatchCall[]): number[] {
  return calls.slice(1).map((c, i) => c.atMs - calls[i]!.atMs);
}

const serverError = (code: number, retryAfterSeconds?: number): ApiError =>
  new ApiError(makeStatus(code, '', `HTTP ${code}`), retryAfterSeconds !== undefined ? { retryAfterSeconds } : {});

const fail = (error: () => Error): Behaviour => () => Promise.reject(error());

describe('LeaseFollower: reconnect rate under persistent watch failures', () => {
  const persistent: [string, Behaviour, boolean][] = [
    ['rejects at once with 500', fail(() => serverError(500)), false],
    ['rejects at once with 503', fail(() => serverError(503)), false],
    ['rejects at once with 429 (no Retry-After)', fail(() => serverError(429)), false],
    ['cannot connect (NetworkError)', fail(() => new NetworkError('connect ECONNREFUSED 127.0.0.1:6443')), false],
    ['cuts every stream at once, after delivering what it had', (_c, _o, serve) => serve(0), true],
    ['opens streams that deliver nothing and end at once', (_c, _o, serve) => serve(0), false],
    ['opens streams that deliver nothing and end after R/2', (_c, _o, serve) => serve(R / 2), false],
  ];

  it.each(persistent)('opens at most one watch per retry period over any 10 R window when the server %s', async (_label, behaviour, withEvents) => {
    const f = setup();
    if (!withEvents) f.observedRv = f.store.resourceVersion;
    const stopRenewing = withEvents ? f.renewing() : () => undefined;
    f.client.behaviour = behaviour;
    f.follower.start(f.stop.signal);
    await f.clock.advance(60 * R);
    stopRenewing();

    expect(maxInWindow(f.client.calls, 10 * R)).toBeLessThanOrEqual(10);
    // It keeps trying: never blind for longer than the backoff cap (plus its jitter).
    expect(Math.max(...gaps(f.client.calls))).toBeLessThanOrEqual(1.5 * WATCH_BACKOFF_MAX_RETRY_PERIODS * R + R);
    expect(f.client.calls.length).toBeGreaterThanOrEqual(60 / (1.5 * WATCH_BACKOFF_MAX_RETRY_PERIODS + 1));
    expect(f.client.maxActive).toBe(1);
    // Healthy only while a stream is actually open; never during the backoff.
    expect(f.follower.healthy).toBe(f.client.active > 0);
  });

  it('backs off exponentially, then stays at the cap', async () => {
    const f = setup();
    f.client.behaviour = fail(() => serverError(500));
    f.follower.start(f.stop.signal);
    await f.clock.advance(60 * R);
    const g = gaps(f.client.calls);
    expect(g[0]).toBeGreaterThanOrEqual(R);
    expect(g[1]).toBeGreaterThanOrEqual(2 * R);
    expect(g[2]).toBeGreaterThanOrEqual(Math.min(4, WATCH_BACKOFF_MAX_RETRY_PERIODS) * R);
    for (const gap of g.slice(3)) {
      expect(gap).toBeGreaterThanOrEqual(WATCH_BACKOFF_MAX_RETRY_PERIODS * R);
      expect(gap).toBeLessThanOrEqual(1.5 * WATCH_BACKOFF_MAX_RETRY_PERIODS * R);
    }
  });

  it('honours Retry-After as a floor on the reconnect delay', async () => {
    const f = setup();
    f.client.behaviour = fail(() => serverError(429, 5));
    f.follower.start(f.stop.signal);
    await f.clock.advance(40 * R);
    expect(f.client.calls.length).toBeGreaterThanOrEqual(3);
    for (const gap of gaps(f.client.calls)) expect(gap).toBeGreaterThanOrEqual(5000);
  });

  it('honours retryAfterSeconds of an ERROR event that ends the stream', async () => {
    const f = setup();
    f.client.behaviour = (_call, options) => {
      options.onOpen?.();
      options.onEvent({ type: 'ERROR', object: makeStatus(429, 'TooManyRequests', 'slow down', { retryAfterSeconds: 6 }) });
      return Promise.resolve();
    };
    f.follower.start(f.stop.signal);
    await f.clock.advance(40 * R);
    expect(f.client.calls.length).toBeGreaterThanOrEqual(3);
    for (const gap of gaps(f.client.calls)) expect(gap).toBeGreaterThanOrEqual(6000);
  });
});

describe('LeaseFollower: healthy streams', () => {
  it('reconnects within about 100 ms after a stream that delivered events and stayed open at least R', async () => {
    const f = setup();
    const stopRenewing = f.renewing();
    f.client.behaviour = (_c, _o, serve) => serve(3 * R); // the server's watch timeout
    f.follower.start(f.stop.signal);
    await f.clock.advance(30 * R);
    stopRenewing();
    await f.clock.advance(R);
    const calls = f.client.calls;
    expect(calls.length).toBeGreaterThanOrEqual(9);
    for (let i = 1; i < calls.length; i++) {
      expect(calls[i]!.atMs - calls[i - 1]!.endedAtMs!).toBeLessThanOrEqual(WATCH_QUICK_RECONNECT_MAX_MS);
    }
    // Every reconnect resumes where the last stream left off, so nothing is missed or repeated.
    expect(calls.slice(1).every((c) => c.resourceVersion !== undefined)).toBe(true);
    const rvs = f.seen.map((l) => Number(l.metadata!.resourceVersion));
    expect(new Set(rvs).size).toBe(rvs.length);
    expect(rvs.at(-1)).toBe(Number(f.store.resourceVersion));
  });

  it('is healthy while a stream is open, and not while it backs off', async () => {
    const f = setup();
    f.client.behaviour = (_call, _o, serve) => (f.client.calls.length === 1 ? serve(2 * R) : Promise.reject(serverError(500)));
    f.follower.start(f.stop.signal);
    await f.clock.advance(R);
    expect(f.follower.healthy).toBe(true);
    await f.clock.advance(2 * R);
    expect(f.follower.healthy).toBe(false);
  });

  it('starts the backoff over after a healthy stream', async () => {
    const f = setup();
    const stopRenewing = f.renewing();
    // Five failures, one healthy stream, then failures again.
    f.client.behaviour = (_call, _o, serve) => {
      const n = f.client.calls.length;
      return n === 6 ? serve(2 * R) : Promise.reject(serverError(500));
    };
    f.follower.start(f.stop.signal);
    await f.clock.advance(40 * R);
    stopRenewing();
    const calls = f.client.calls;
    const healthy = calls[5]!;
    expect(healthy.endedAtMs! - healthy.atMs).toBe(2 * R);
    expect(calls[6]!.atMs - healthy.endedAtMs!).toBeLessThanOrEqual(WATCH_QUICK_RECONNECT_MAX_MS);
    // The first failure after it waits one step (R..1.5R), not the cap.
    expect(calls[7]!.atMs - calls[6]!.atMs).toBeLessThan(1.5 * R + 1);
  });
});

describe('LeaseFollower: classified failures', () => {
  it.each([
    ['403 Forbidden', 403],
    ['401 Unauthorized', 401],
  ])('on %s warns once that RBAC must allow watch, and stays unhealthy so the elector polls', async (_label, code) => {
    const f = setup();
    f.client.behaviour = fail(() => serverError(code));
    f.follower.start(f.stop.signal);
    await f.clock.advance(120 * R);
    const rbac = f.lines.filter((l) => l.message.includes('grant watch on leases.coordination.k8s.io'));
    expect(rbac).toHaveLength(1);
    expect(rbac[0]!.level).toBe('warn');
    expect(f.follower.healthy).toBe(false);
    expect(f.client.calls.length).toBeGreaterThanOrEqual(10);
    expect(maxInWindow(f.client.calls, 10 * R)).toBeLessThanOrEqual(10);
  });

  it('relists after a 410 rejection: the next watch starts without a resourceVersion', async () => {
    const f = setup();
    f.observedRv = f.store.resourceVersion;
    f.client.behaviour = (call, _o, serve) => (call.resourceVersion !== undefined ? Promise.reject(serverError(410)) : serve());
    f.follower.start(f.stop.signal);
    await f.clock.advance(5 * R);
    expect(f.client.calls.map((c) => c.resourceVersion)).toEqual([f.observedRv, undefined]);
    expect(f.follower.healthy).toBe(true);
    expect(f.seen.at(-1)?.spec?.holderIdentity).toBe('leader'); // the relist's ADDED
  });

  it('relists after an ERROR event with code 410 on the stream', async () => {
    const f = setup();
    f.observedRv = f.store.resourceVersion;
    const current = f.store.get(NS, NAME);
    f.store.update(NS, NAME, { ...current, spec: { ...current.spec, holderIdentity: 'other' } });
    f.store.compact();
    f.client.behaviour = (_c, _o, serve) => serve();
    f.follower.start(f.stop.signal);
    await f.clock.advance(5 * R);
    expect(f.client.calls.map((c) => c.resourceVersion)).toEqual([f.observedRv, undefined]);
    expect(f.seen.at(-1)?.spec?.holderIdentity).toBe('other');
  });
});

describe('LeaseFollower: logging repeated failures', () => {
  it(`warns about repeated identical failures at most once per ${WATCH_FAILURE_LOG_INTERVAL_MS / 1000} s, with a count`, async () => {
    const f = setup();
    f.client.behaviour = fail(() => serverError(500));
    f.follower.start(f.stop.signal);
    const durationMs = 4 * WATCH_FAILURE_LOG_INTERVAL_MS;
    await f.clock.advance(durationMs);
    const failureLines = f.lines.filter((l) => /watch/i.test(l.message) && l.level !== 'info');
    expect(failureLines.every((l) => l.level === 'warn')).toBe(true);
    expect(failureLines.length).toBeGreaterThanOrEqual(2);
    expect(failureLines.length).toBeLessThanOrEqual(durationMs / WATCH_FAILURE_LOG_INTERVAL_MS + 1);
    expect(failureLines[0]!.fields).toMatchObject({ error: expect.stringContaining('500') });
    const repeats = failureLines.map((l) => (l.fields?.repeatedSinceLastLog as number | undefined) ?? 0);
    expect(repeats[0]).toBe(0);
    expect(repeats.slice(1).every((n) => n >= 1)).toBe(true);
    // Each line stands for itself plus the failures not logged before it: never more than there were.
    expect(repeats.reduce((sum, n) => sum + n + 1, 0)).toBeLessThanOrEqual(f.client.calls.length);
  });

  it('warns at once when the failure changes', async () => {
    const f = setup();
    f.client.behaviour = () => Promise.reject(f.client.calls.length <= 3 ? serverError(500) : new NetworkError('connect ECONNREFUSED'));
    f.follower.start(f.stop.signal);
    await f.clock.advance(20 * R);
    const warns = f.lines.filter((l) => l.level === 'warn').map((l) => String(l.fields?.error));
    expect(warns[0]).toContain('500');
    expect(warns[1]).toContain('ECONNREFUSED');
  });
});

describe('LeaseFollower: one watch at a time', () => {
  it('never opens two watches at once nor more than one per R under stop()/start() churn', async () => {
    const f = setup();
    const stopRenewing = f.renewing();
    f.follower.start(f.stop.signal);
    for (let t = 0; t < 10 * R; t += 50) {
      await f.clock.advance(50);
      f.follower.stop();
      f.follower.start(f.stop.signal);
    }
    await f.clock.advance(10 * R);
    stopRenewing();
    expect(f.client.maxActive).toBe(1);
    expect(maxInWindow(f.client.calls, 10 * R)).toBeLessThanOrEqual(10);
    expect(f.follower.healthy).toBe(true);
  });

  it('does not open a new watch until the previous one has ended, even when the client is slow to honour abort', async () => {
    const f = setup();
    f.client.behaviour = (_call, options, serve) =>
      new Promise<void>((resolve) => {
        // Ignores the abort for 3 R, like a request stuck before its response headers.
        options.signal?.addEventListener('abort', () => f.clock.setTimeout(resolve, 3 * R), { once: true });
        void serve(undefined);
      });
    f.follower.start(f.stop.signal);
    await f.clock.advance(2 * R);
    f.follower.stop();
    f.follower.start(f.stop.signal);
    await f.clock.advance(R);
    expect(f.client.calls).toHaveLength(1);
    expect(f.follower.healthy).toBe(false);
    await f.clock.advance(4 * R);
    expect(f.client.calls).toHaveLength(2);
    expect(f.client.calls[1]!.atMs).toBeGreaterThanOrEqual(f.client.calls[0]!.endedAtMs!);
    expect(f.client.maxActive).toBe(1);
  });

  it('ignores events from a stream it has stopped', async () => {
    const f = setup();
    let late: WatchOptions | undefined;
    f.client.behaviour = (_call, options) => {
      late ??= options;
      options.onOpen?.();
      return new Promise<void>((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
    };
    f.follower.start(f.stop.signal);
    await f.clock.advance(R);
    f.follower.stop();
    late!.onEvent({ type: 'MODIFIED', object: f.store.get(NS, NAME) });
    late!.onOpen?.();
    expect(f.seen).toEqual([]);
    expect(f.follower.healthy).toBe(false);
  });
});

describe('LeaseFollower: throwing hooks', () => {
  it('survives a throwing onLease hook: logged, the event delivered again on reconnect, at the backoff rate', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    store.create(NS, { metadata: { name: NAME }, spec: { holderIdentity: 'leader', leaseDurationSeconds: 3 } });
    const inner = new MemoryLeaseClient(store, { clock });
    const lines: string[] = [];
    const config = resolveConfig({ identity: 'me', leaseName: NAME, leaseNamespace: NS, leaseDurationMs: 3 * R, renewDeadlineMs: 2 * R, retryPeriodMs: R, clock, random: seededRandom(1) });
    let throws = 0;
    const follower = new LeaseFollower({
      client: inner,
      config,
      log: toSafeLogger({ warn: (m, fields) => lines.push(`${m} ${JSON.stringify(fields)}`) }),
      onLease: () => {
        throws++;
        throw new Error('observer broke');
      },
      onDeleted: () => undefined,
      currentResourceVersion: () => undefined,
    });
    const stop = new AbortController();
    follower.start(stop.signal);
    await clock.advance(20 * R);
    stop.abort();
    follower.stop();
    await clock.advance(0);
    expect(throws).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toContain('observer broke');
    const watches = inner.calls.map((c) => ({ atMs: c.atMs, resourceVersion: undefined }));
    expect(watches).toHaveLength(throws);
    expect(maxInWindow(watches, 10 * R)).toBeLessThanOrEqual(10);
    expect(store.watcherCount).toBe(0);
  });

  it('does not throw from start() when currentResourceVersion throws', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    const inner = new MemoryLeaseClient(store, { clock });
    const config = resolveConfig({ identity: 'me', leaseName: NAME, leaseNamespace: NS, leaseDurationMs: 3 * R, renewDeadlineMs: 2 * R, retryPeriodMs: R, clock });
    const follower = new LeaseFollower({
      client: inner,
      config,
      log: toSafeLogger({}),
      onLease: () => undefined,
      onDeleted: () => undefined,
      currentResourceVersion: () => {
        throw new Error('broken');
      },
    });
    const stop = new AbortController();
    expect(() => follower.start(stop.signal)).not.toThrow();
    await clock.advance(R);
    expect(inner.calls.map((c) => c.verb)).toEqual(['watch']);
    stop.abort();
    follower.stop();
    await clock.advance(0);
  });
});
