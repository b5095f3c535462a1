/**
 * Every fault kind, first as rules (the Faults controller on its own, with a seeded random source)
 * and then over HTTP: latency, error answers, hangs, dropped responses, cut watch streams and
 * partitions of one client.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiException, CoordinationV1Api } from '@kubernetes/client-node';
import { ConfigError } from '@leasekit/k8s-leaderelection';
import { FakeClock, seededRandom } from '@leasekit/k8s-leaderelection/testing';
import { Faults, startLeaseApiServer, type FaultRequest, type LeaseApiServer, type RequestRecord } from './index.js';
import { openWatch, send, waitFor, type RawWatch } from './__tests__/helpers.js';

const NS = 'default';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const request = (verb: FaultRequest['verb'], headers: FaultRequest['headers'] = {}): FaultRequest => ({ resource: 'leases', verb, namespace: NS, name: 'a', headers });
const as = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

describe('Faults rules', () => {
  it('does nothing until a rule is added', () => {
    expect(new Faults().plan(request('update'))).toEqual({ latencyMs: 0 });
    expect(new Faults().describe()).toEqual([]);
  });

  it('scopes a rule to verbs, resources and one client', () => {
    const faults = new Faults();
    faults.addError({ code: 503, verbs: ['update'], resources: ['leases'], client: { userAgent: 'elector-b' } });
    expect(faults.plan(request('update', { 'user-agent': 'elector-b/1.0' })).outcome?.kind).toBe('error');
    expect(faults.plan(request('update', { 'user-agent': 'elector-a/1.0' })).outcome).toBeUndefined();
    expect(faults.plan(request('get', { 'user-agent': 'elector-b/1.0' })).outcome).toBeUndefined();
    expect(faults.plan({ ...request('update', { 'user-agent': 'elector-b' }), resource: 'events' }).outcome).toBeUndefined();
  });

  it('matches clients by token, by header value or pattern, and by User-Agent pattern', () => {
    const faults = new Faults();
    const token = faults.addHang({ client: { token: 't1' } });
    expect(faults.plan(request('get', { authorization: 'Bearer t1' })).outcome?.kind).toBe('hang');
    expect(faults.plan(request('get', { authorization: 'Bearer t2' })).outcome).toBeUndefined();
    token.remove();
    const header = faults.addHang({ client: { header: { name: 'X-Replica', value: /^b-\d+$/g } } });
    expect(faults.plan(request('get', { 'x-replica': 'b-1' })).outcome?.kind).toBe('hang');
    expect(faults.plan(request('get', { 'x-replica': 'b-1' })).outcome?.kind).toBe('hang'); // a /g pattern stays usable
    expect(faults.plan(request('get', { 'x-replica': 'a-1' })).outcome).toBeUndefined();
    header.remove();
    faults.addHang({ client: { userAgent: /kubectl\// } });
    expect(faults.plan(request('get', { 'user-agent': 'kubectl/v1.32.4 (linux/amd64)' })).outcome?.kind).toBe('hang');
  });

  it('fires with the given rate, reproducibly from a seed', () => {
    const run = (): boolean[] => {
      const faults = new Faults({ random: seededRandom(42) });
      faults.addError({ code: 500, rate: 0.3 });
      return Array.from({ length: 200 }, () => faults.plan(request('get')).outcome !== undefined);
    };
    const first = run();
    expect(run()).toEqual(first);
    const fired = first.filter(Boolean).length;
    expect(fired).toBeGreaterThan(30);
    expect(fired).toBeLessThan(90);
  });

  it('retires a rule after it fired the given number of times', () => {
    const faults = new Faults();
    faults.addError({ code: 409, times: 2 });
    expect([1, 2, 3].map(() => faults.plan(request('update')).outcome?.kind)).toEqual(['error', 'error', undefined]);
    expect(faults.describe()).toEqual([]);
  });

  it('adds up latency rules, drawing a range uniformly', () => {
    const faults = new Faults({ random: seededRandom(7) });
    faults.addLatency({ ms: 10 });
    faults.addLatency({ minMs: 20, maxMs: 80, verbs: ['update'] });
    expect(faults.plan(request('get')).latencyMs).toBe(10);
    const drawn = Array.from({ length: 50 }, () => faults.plan(request('update')).latencyMs);
    expect(Math.min(...drawn)).toBeGreaterThanOrEqual(30);
    expect(Math.max(...drawn)).toBeLessThanOrEqual(90);
    expect(new Set(drawn).size).toBeGreaterThan(10);
  });

  it('decides hang before error before a dropped response', () => {
    const faults = new Faults();
    faults.addDropResponse();
    expect(faults.plan(request('update')).outcome).toEqual({ kind: 'drop', mode: 'hang' });
    expect(faults.plan(request('get')).outcome).toBeUndefined(); // drop-response defaults to writes
    faults.addError({ code: 500 });
    expect(faults.plan(request('update')).outcome?.kind).toBe('error');
    faults.addHang();
    expect(faults.plan(request('update')).outcome?.kind).toBe('hang');
  });

  it('words error Statuses like the API server, with Retry-After for 429', () => {
    const faults = new Faults();
    const conflict = faults.addError({ code: 409 });
    const status = (faults.plan(request('update')).outcome as { status: { message: string; reason: string } }).status;
    expect(status.reason).toBe('Conflict');
    expect(status.message).toBe('Operation cannot be fulfilled on leases.coordination.k8s.io "a": the object has been modified; please apply your changes to the latest version and try again');
    conflict.remove();
    faults.addError({ code: 429 });
    const throttled = faults.plan(request('get')).outcome as { status: { reason: string; details: { retryAfterSeconds: number } } };
    expect(throttled.status.reason).toBe('TooManyRequests');
    expect(throttled.status.details.retryAfterSeconds).toBe(1);
  });

  it('refuses rules that make no sense with a ConfigError', () => {
    const faults = new Faults();
    const codeOf = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return err instanceof ConfigError ? `${err.code} ${err.field}` : 'other';
      }
      return undefined;
    };
    expect(codeOf(() => faults.addError({ code: 200 }))).toBe('OPTION_INVALID error.code');
    expect(codeOf(() => faults.addError({ code: 500, rate: 1.5 }))).toBe('OPTION_INVALID error.rate');
    expect(codeOf(() => faults.addHang({ times: 0 }))).toBe('OPTION_INVALID hang.times');
    expect(codeOf(() => faults.addLatency({ minMs: 50, maxMs: 10 }))).toBe('OPTION_INVALID latency');
    expect(codeOf(() => faults.addLatency({ ms: 5, verbs: ['fetch' as 'get'] }))).toBe('OPTION_INVALID latency.verbs');
    expect(codeOf(() => faults.partition({ client: {}, durationMs: -1 }))).toBe('OPTION_INVALID partition.durationMs');
  });

  it('describes and clears every active rule', () => {
    const faults = new Faults();
    faults.addLatency({ minMs: 20, maxMs: 80 });
    faults.addError({ code: 503, verbs: ['update'], rate: 0.1 });
    faults.addHang({ client: { token: 'x' } });
    faults.addDropResponse({ mode: 'reset' });
    faults.partition({ client: { userAgent: 'b' } });
    faults.setWatchLifetime({ ms: 1000 });
    expect(faults.describe().map((d) => d.description)).toEqual([
      '+20-80 ms on every verb',
      'HTTP 503 on update rate 0.1',
      'no answer on every verb from token x',
      'response lost (reset) after create,update,patch,delete,deletecollection',
      'user-agent ~ b cut off (hang)',
      'watch streams cut after 1000 ms (end)',
    ]);
    faults.clear();
    expect(faults.describe()).toEqual([]);
  });
});

describe('Faults over HTTP', () => {
  let server: LeaseApiServer;
  let records: RequestRecord[];
  const watches: RawWatch[] = [];

  beforeEach(async () => {
    records = [];
    server = await startLeaseApiServer({ seed: 1, onRequest: (r) => records.push(r) });
    server.store.create(NS, { metadata: { name: 'a' }, spec: { holderIdentity: 'h' } });
  });

  afterEach(async () => {
    for (const w of watches.splice(0)) w.close();
    await server.close();
  });

  const watch = async (token: string): Promise<RawWatch> => {
    const w = await openWatch(server.url, `${LEASES}?watch=true`, { Authorization: `Bearer ${token}` });
    watches.push(w);
    await waitFor(() => w.events.length >= 1, 'the initial ADDED');
    return w;
  };
  const failureOf = (p: Promise<unknown>): Promise<string> =>
    p.then(
      () => 'answered',
      (err: Error & { code?: string }) => err.code ?? err.name,
    );

  it('delays matching requests by the added latency, and only those', async () => {
    server.faults.addLatency({ ms: 100, verbs: ['get'] });
    await send(server.url, 'GET', `${LEASES}/a`);
    await send(server.url, 'GET', LEASES);
    const [get, list] = records;
    expect(get?.fault).toBe('latency');
    expect(get!.durationMs).toBeGreaterThanOrEqual(95);
    expect(list?.fault).toBeUndefined();
  });

  it('answers an injected error as a Status the real client classifies, and writes nothing', async () => {
    server.faults.addError({ code: 503, verbs: ['update'] });
    const api = server.kubeConfig().makeApiClient(CoordinationV1Api);
    const lease = await api.readNamespacedLease({ name: 'a', namespace: NS });
    const err = await api.replaceNamespacedLease({ name: 'a', namespace: NS, body: { ...lease, spec: { holderIdentity: 'x' } } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<string>).code).toBe(503);
    expect(JSON.parse((err as ApiException<string>).body).reason).toBe('ServiceUnavailable');
    expect(server.store.get(NS, 'a').spec?.holderIdentity).toBe('h');
    expect(server.counters.get('update')).toBe(1);
  });

  it('sends Retry-After with an injected 429', async () => {
    server.faults.addError({ code: 429, verbs: ['get'], retryAfterSeconds: 3 });
    const res = await send(server.url, 'GET', `${LEASES}/a`);
    expect([res.status, res.json.reason, res.headers['retry-after'], res.json.details.retryAfterSeconds]).toEqual([429, 'TooManyRequests', '3', 3]);
  });

  it('fails a seeded share of requests, the same share on every run', async () => {
    const run = async (): Promise<number[]> => {
      const s = await startLeaseApiServer({ seed: 99 });
      try {
        s.faults.addError({ code: 500, verbs: ['list'], rate: 0.5 });
        const codes: number[] = [];
        for (let i = 0; i < 20; i++) codes.push((await send(s.url, 'GET', LEASES)).status);
        return codes;
      } finally {
        await s.close();
      }
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first).toContain(500);
    expect(first).toContain(200);
  });

  it('never answers a hung request; the client gives up and the server stays clean', async () => {
    server.faults.addHang({ verbs: ['get'] });
    expect(await failureOf(send(server.url, 'GET', `${LEASES}/a`, { signal: AbortSignal.timeout(200) }))).toBe('ABORT_ERR');
    await waitFor(() => records.length === 1, 'the abandoned request to be reported');
    expect(records[0]).toMatchObject({ verb: 'get', statusCode: 0, fault: 'hang' });
    // A hung request still open when the server closes is cut, and close() does not wait for it.
    const pending = failureOf(send(server.url, 'GET', `${LEASES}/a`));
    await waitFor(() => server.counters.get('get') === 2, 'the second request to arrive');
    await server.close();
    expect(await pending).toBe('ECONNRESET');
  });

  it('commits a write whose response it then drops (hang): the client cannot tell it happened', async () => {
    server.faults.addDropResponse({ verbs: ['create'] });
    const outcome = await failureOf(send(server.url, 'POST', LEASES, { body: { metadata: { name: 'b' } }, signal: AbortSignal.timeout(300) }));
    expect(outcome).toBe('ABORT_ERR');
    expect(server.store.peek(NS, 'b')).toBeDefined();
    await waitFor(() => records.some((r) => r.fault === 'drop'), 'the dropped response to be reported');
  });

  it('commits a write whose response it then drops (reset): the connection is cut', async () => {
    server.faults.addDropResponse({ verbs: ['update'], mode: 'reset' });
    const lease = server.store.get(NS, 'a');
    const outcome = await failureOf(send(server.url, 'PUT', `${LEASES}/a`, { body: { ...lease, spec: { holderIdentity: 'new' } } }));
    expect(outcome).toBe('ECONNRESET');
    expect(server.store.get(NS, 'a').spec?.holderIdentity).toBe('new');
  });

  it('cuts one client\'s watch streams, cleanly or by reset', async () => {
    const a = await watch('a');
    const b = await watch('b');
    expect(server.faults.cutWatches({ client: { token: 'a' } })).toBe(1);
    expect(await a.ended).toEqual({ reset: false });
    expect(server.openWatchCount).toBe(1);
    expect(server.faults.cutWatches({ mode: 'reset' })).toBe(1);
    expect(await b.ended).toEqual({ reset: true });
    await waitFor(() => server.store.watcherCount === 0, 'the store watches to be released');
  });

  it('cuts every new watch stream after the watch lifetime', async () => {
    server.faults.setWatchLifetime({ minMs: 100, maxMs: 200 });
    const w = await watch('a');
    expect(await w.ended).toEqual({ reset: false });
    expect(server.openWatchCount).toBe(0);
  });

  it('holds a partitioned client\'s requests until the partition heals, and serves the others', async () => {
    const partition = server.faults.partition({ client: { token: 'a' } });
    let answered: number | undefined;
    const held = send(server.url, 'GET', `${LEASES}/a`, as('a')).then((r) => (answered = r.status));
    expect((await send(server.url, 'GET', `${LEASES}/a`, as('b'))).status).toBe(200);
    await waitFor(() => server.counters.get('get') === 1, 'b to be counted (a is held before counting)');
    expect(answered).toBeUndefined();
    partition.remove();
    await held;
    expect(answered).toBe(200);
    expect(records.find((r) => r.headers.authorization === 'Bearer a')?.fault).toBe('partition');
  });

  it('heals a partition by itself after its duration, on the server clock', async () => {
    const clock = new FakeClock();
    const own = await startLeaseApiServer({ clock });
    try {
      own.store.create(NS, { metadata: { name: 'a' } });
      own.faults.partition({ client: { userAgent: 'replica-a' }, durationMs: 200 });
      let answered: number | undefined;
      const held = send(own.url, 'GET', `${LEASES}/a`, { headers: { 'User-Agent': 'replica-a/1.0' } }).then((r) => (answered = r.status));
      // Another client's round trip: the server is serving, and a's request has reached it.
      expect((await send(own.url, 'GET', `${LEASES}/a`)).status).toBe(200);
      await clock.advance(199);
      expect((await send(own.url, 'GET', `${LEASES}/a`)).status).toBe(200);
      expect(answered).toBeUndefined();
      await clock.advance(1);
      await held;
      expect(answered).toBe(200);
      expect(own.faults.describe()).toEqual([]);
    } finally {
      await own.close();
    }
  });

  it('keeps a partitioned client\'s watch quiet, then delivers what it missed on healing', async () => {
    const w = await watch('a');
    const partition = server.faults.partition({ client: { token: 'a' } });
    const lease = server.store.get(NS, 'a');
    server.store.update(NS, 'a', { ...lease, spec: { holderIdentity: 'while-cut-off' } });
    const other = await watch('b');
    await waitFor(() => other.events.length === 1, 'b to see the current state');
    expect(w.events).toHaveLength(1);
    partition.remove();
    await waitFor(() => w.events.length === 2, 'the held event');
    expect(w.events[1].object.spec.holderIdentity).toBe('while-cut-off');
  });

  it('resets a partitioned client\'s connections in reset mode', async () => {
    const w = await watch('a');
    server.faults.partition({ client: { header: { name: 'authorization', value: 'Bearer a' } }, mode: 'reset' });
    expect(await w.ended).toEqual({ reset: true });
    expect(await failureOf(send(server.url, 'GET', `${LEASES}/a`, as('a')))).toBe('ECONNRESET');
    expect((await send(server.url, 'GET', `${LEASES}/a`, as('b'))).status).toBe(200);
  });
});
