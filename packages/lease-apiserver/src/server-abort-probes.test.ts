/**
 * Fresh-eyes probes of the server's lazy AbortController (88ce272: one is made only for requests
 * that wait): a client that disconnects during injected latency, a hang, a dropped response, a
 * partition or a watch must end the server's wait (no timer left on its clock, no watch left open),
 * must never have its request served afterwards, and server.close() must resolve with nothing left
 * running. Real HTTP on 127.0.0.1; the server's clock is a FakeClock where a wait is timed.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { FakeClock } from '@leasekit/k8s-leaderelection/testing';
import { startLeaseApiServer, type LeaseApiServer, type RequestRecord } from './index.js';
import { openWatch, send, waitFor } from './__tests__/helpers.js';

const NS = 'default';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Probe {
  server: LeaseApiServer;
  clock: FakeClock;
  records: RequestRecord[];
  /** Timers on the server's clock before any request (the faults' own, if any). */
  baseline: number;
}

async function start(useFakeClock = true): Promise<Probe> {
  const clock = new FakeClock();
  const records: RequestRecord[] = [];
  const server = await startLeaseApiServer({ ...(useFakeClock ? { clock } : {}), onRequest: (r) => records.push(r) });
  cleanups.push(() => server.close());
  server.store.create(NS, { metadata: { name: 'a' }, spec: { holderIdentity: 'x', leaseDurationSeconds: 10, leaseTransitions: 1 } });
  const p: Probe = { server, clock, records, baseline: clock.pendingTimers };
  watchPartitionChecks(p);
  return p;
}

/** A PUT of lease `a` with a new holder, sent with `signal` (its promise never rejects). */
function putLease(p: Probe, signal: AbortSignal, headers: Record<string, string> = {}): Promise<unknown> {
  const current = p.server.store.get(NS, 'a');
  const body = { ...current, spec: { ...current.spec, holderIdentity: 'intruder' } };
  return send(p.server.url, 'PUT', `${LEASES}/a`, { body, signal, headers }).catch((e: unknown) => e);
}

/**
 * Requests of the client `Bearer cut` that reached the partition check (the server asks the
 * faults for every request first; nothing else observable counts a request a partition holds).
 */
const partitionChecks = new WeakMap<Probe, number>();
function watchPartitionChecks(p: Probe): void {
  const faults = p.server.faults;
  const original = faults.partitionOf.bind(faults);
  partitionChecks.set(p, 0);
  faults.partitionOf = (client) => {
    if (client.headers.authorization === 'Bearer cut') partitionChecks.set(p, (partitionChecks.get(p) ?? 0) + 1);
    return original(client);
  };
}
function heldRequests(p: Probe): number {
  return partitionChecks.get(p) ?? 0;
}

function holder(p: Probe): string | null | undefined {
  return p.server.store.get(NS, 'a').spec?.holderIdentity;
}

describe('a client that goes away mid-wait', () => {
  it('ends an injected latency wait: no timer left on the server clock, reported once with no status, and its write is never applied', async () => {
    const p = await start();
    p.server.faults.addLatency({ ms: 60_000 });
    const client = new AbortController();
    const pending = putLease(p, client.signal);
    await waitFor(() => p.server.counters.get('update') === 1 && p.clock.pendingTimers === p.baseline + 1, 'the write waits in latency');
    client.abort();
    await pending;
    await waitFor(() => p.records.length === 1, 'the request is reported');
    expect(p.records[0]).toMatchObject({ verb: 'update', statusCode: 0, fault: 'latency' });
    expect(p.clock.pendingTimers).toBe(p.baseline);
    await p.clock.advance(120_000);
    expect(holder(p)).toBe('x');
    expect(p.records).toHaveLength(1);
  });

  it('ends a hang: reported once with no status, and server.close() resolves', async () => {
    const p = await start();
    p.server.faults.addHang({ verbs: ['get'] });
    const client = new AbortController();
    const pending = send(p.server.url, 'GET', `${LEASES}/a`, { signal: client.signal }).catch((e: unknown) => e);
    await waitFor(() => p.server.counters.get('get') === 1, 'the read hangs');
    client.abort();
    await pending;
    await waitFor(() => p.records.length === 1, 'the request is reported');
    expect(p.records[0]).toMatchObject({ verb: 'get', statusCode: 0, fault: 'hang' });
    await p.server.close();
  });

  it('ends a dropped response (hang mode) after the write committed: reported once, and server.close() resolves', async () => {
    const p = await start();
    p.server.faults.addDropResponse({ mode: 'hang' });
    const client = new AbortController();
    const pending = putLease(p, client.signal);
    await waitFor(() => holder(p) === 'intruder', 'the write commits');
    client.abort();
    await pending;
    await waitFor(() => p.records.length === 1, 'the request is reported');
    expect(p.records[0]).toMatchObject({ verb: 'update', statusCode: 0, fault: 'drop' });
    await p.server.close();
  });

  it('never serves a write whose client left while a partition held it, once the partition heals', async () => {
    const p = await start();
    const partition = p.server.faults.partition({ client: { token: 'cut' }, mode: 'hang' });
    const client = new AbortController();
    const pending = putLease(p, client.signal, { Authorization: 'Bearer cut' });
    await waitFor(() => heldRequests(p) === 1, 'the write is held by the partition');
    client.abort();
    await pending;
    await waitFor(() => p.records.length === 1, 'the request is reported');
    expect(p.records[0]).toMatchObject({ statusCode: 0, fault: 'partition' });
    partition.remove();
    // Served now, it would be counted at once (the count comes right after the partition check).
    const probe = await send(p.server.url, 'GET', `${LEASES}/a`);
    expect(probe.status).toBe(200);
    expect(holder(p)).toBe('x');
    expect(p.server.counters.get('update')).toBe(0);
  });

  it('ends a watch whose client disconnects: no open watch, and no watch timer left on the server clock', async () => {
    const p = await start();
    const watch = await openWatch(p.server.url, `${LEASES}?watch=true&timeoutSeconds=300`);
    expect(watch.status).toBe(200);
    await waitFor(() => p.server.openWatchCount === 1, 'the watch is open');
    expect(p.clock.pendingTimers).toBe(p.baseline + 1);
    watch.close();
    await waitFor(() => p.server.openWatchCount === 0, 'the watch is gone');
    expect(p.clock.pendingTimers).toBe(p.baseline);
    // A write afterwards reaches no one and breaks nothing.
    p.server.store.update(NS, 'a', { ...p.server.store.get(NS, 'a'), spec: { holderIdentity: 'y', leaseDurationSeconds: 10, leaseTransitions: 2 } });
    await waitFor(() => p.records.length === 1, 'the watch is reported');
    expect(p.records[0]).toMatchObject({ verb: 'watch' });
  });
});

describe('server.close() with requests waiting', () => {
  it('resolves and leaves no timer on its clock while requests wait in latency, a hang, a partition and a watch', async () => {
    const p = await start();
    p.server.faults.addLatency({ ms: 60_000, verbs: ['update'] });
    p.server.faults.addHang({ verbs: ['get'] });
    p.server.faults.partition({ client: { token: 'cut' }, mode: 'hang' });
    const client = new AbortController();
    const latency = putLease(p, client.signal);
    const hung = send(p.server.url, 'GET', `${LEASES}/a`).catch((e: unknown) => e);
    const held = send(p.server.url, 'GET', `${LEASES}/a`, { headers: { Authorization: 'Bearer cut' } }).catch((e: unknown) => e);
    const watch = await openWatch(p.server.url, `${LEASES}?watch=true&timeoutSeconds=300`);
    await waitFor(
      () => p.server.counters.get('update') === 1 && p.server.counters.get('get') === 1 && heldRequests(p) >= 1 && p.server.openWatchCount === 1,
      'everything waits',
    );
    await p.server.close();
    await Promise.all([latency, hung, held, watch.ended]);
    expect(p.clock.pendingTimers).toBe(0);
    expect(p.server.openWatchCount).toBe(0);
    await p.clock.advance(120_000);
    expect(holder(p)).toBe('x');
  });

  it('leaves no real timer, socket or server handle behind after a client left mid-latency and the server closed (system clock)', async () => {
    const resources = (): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
      return counts;
    };
    const before = resources();
    const p = await start(false);
    p.server.faults.addLatency({ ms: 60_000 });
    const client = new AbortController();
    const pending = putLease(p, client.signal);
    await waitFor(() => p.server.counters.get('update') === 1, 'the write waits in latency');
    client.abort();
    await pending;
    await waitFor(() => p.records.length === 1, 'the request is reported');
    // The server is still up: only its listening socket may remain; the latency timer must be gone.
    const during = resources();
    expect(during.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
    await p.server.close();
    // Handles close asynchronously after close() resolved: wait (bounded) for them to go.
    const kinds = ['Timeout', 'TCPServerWrap', 'TCPSocketWrap'];
    const settled = (): boolean => kinds.every((kind) => (resources()[kind] ?? 0) <= (before[kind] ?? 0));
    await waitFor(settled, 'every handle closed', 2000, 10).catch(() => undefined);
    const after = resources();
    for (const kind of kinds) expect(`${kind}: ${after[kind] ?? 0}`).toBe(`${kind}: ${Math.min(after[kind] ?? 0, before[kind] ?? 0)}`);
  });
});
