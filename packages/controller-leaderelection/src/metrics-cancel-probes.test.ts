/**
 * Fresh-eyes probes of what the metrics make of requests that stopping cut short (88ce272: not
 * counted in api_errors_total, not timed in request_duration_seconds) against requests that really
 * failed: an error answer before the stop, a timeout at the instant of the stop, a renewal that hung
 * until the guarantee ran out, a release that hangs after the stop. Fake clock over the in-memory
 * store, and real loopback HTTP through client-node's KubeConfig (the real KubeLeaseClient).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Registry } from 'prom-client';
import { ApiError } from '@leasekit/k8s-leaderelection';
import { makeStatus } from '@leasekit/k8s-leaderelection/internal';
import type { Fault, MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { LEASE, NS, capturingLogger, scrape, world, type Exposition } from './__tests__/helpers.js';
import { LeaderElectionComponent } from './component.js';
import { createLeaderElectionBus } from './events.js';

const P = 'leasekit_leader_election';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function errors(m: Exposition, reason: string): number | undefined {
  return m.value(`${P}_api_errors_total`, { name: LEASE, reason });
}

function timed(m: Exposition, purpose: string): number {
  return m.value(`${P}_request_duration_seconds_count`, { name: LEASE, purpose }) ?? 0;
}

function allErrors(m: Exposition): number {
  return m.samples.filter((s) => s.name === `${P}_api_errors_total`).reduce((sum, s) => sum + s.value, 0);
}

const hang: Fault = { kind: 'hang' };
const internalError = (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(500, 'InternalError', 'etcd is on fire')) });

describe('metrics of cut-short and failed requests (fake clock)', () => {
  it('counts a 500 answered before stop and neither counts nor times the retry that stop cut short', async () => {
    const w = world();
    w.createLease();
    const registry = new Registry();
    let gets = 0;
    const r = w.replica('a', { registry, client: { fault: (c: MemoryCall) => (c.verb !== 'get' ? undefined : ++gets === 1 ? internalError() : hang) } });
    r.start();
    await w.clock.advanceUntil(() => gets === 2, 30_000);
    expect(gets).toBe(2);
    await r.stop();
    const m = await scrape(registry);
    expect(errors(m, 'InternalError')).toBe(1);
    expect(allErrors(m)).toBe(1);
    expect(timed(m, 'acquire')).toBe(1);
  });

  it('counts a read that timed out at the very instant of the stop (the timeout fired first) as a Timeout', async () => {
    const w = world();
    w.createLease();
    const registry = new Registry();
    const r = w.replica('a', { registry, config: { renewDeadlineMs: 10_000 }, client: { fault: (c: MemoryCall) => (c.verb === 'get' ? hang : undefined) } });
    r.start();
    await w.clock.advance(0);
    expect(r.client.calls.map((c) => c.verb)).toEqual(['get']);
    w.clock.setTimeout(() => r.controller.abort(), 10_000);
    await w.clock.advance(10_000);
    await r.stop();
    const m = await scrape(registry);
    expect(errors(m, 'Timeout')).toBe(1);
    expect(timed(m, 'acquire')).toBe(1);
  });

  it('counts a renewal that hung until the lease guarantee ran out (no stop involved) as an API error and times it', async () => {
    const w = world();
    w.createLease();
    const registry = new Registry();
    const failing = { on: false };
    const r = w.replica('a', {
      registry,
      // renewDeadline close to the lease duration: a renew round is capped at the guarantee.
      config: { leaseDurationMs: 15_000, renewDeadlineMs: 14_000, retryPeriodMs: 2_000 },
      client: { fault: () => (failing.on ? hang : undefined) },
    });
    r.start();
    cleanups.push(() => r.stop());
    await w.clock.advance(0);
    expect(r.component.isLeader()).toBe(true);
    failing.on = true;
    expect(await w.clock.advanceUntil(() => !r.component.isLeader(), 30_000)).toBe(true);
    await w.clock.advance(1);
    expect(r.controller.signal.aborted).toBe(false);
    const m = await scrape(registry);
    // What an alert on api_errors_total needs to see: the API server never answered a renewal.
    expect(errors(m, 'Timeout')).toBeGreaterThanOrEqual(1);
    expect(timed(m, 'renew')).toBeGreaterThanOrEqual(1);
  });

  it('counts and times a release on stop whose write hangs (stop does not cut the release)', async () => {
    const w = world();
    w.createLease();
    const registry = new Registry();
    const failing = { on: false };
    const r = w.replica('a', { registry, config: { renewDeadlineMs: 10_000 }, client: { fault: (c: MemoryCall) => (failing.on && c.verb === 'update' ? hang : undefined) } });
    r.start();
    await w.clock.advance(0);
    expect(r.component.isLeader()).toBe(true);
    failing.on = true;
    await r.stop();
    const m = await scrape(registry);
    expect(errors(m, 'Timeout')).toBe(1);
    expect(timed(m, 'release')).toBe(1);
  });
});

// -------------------------------------------------------------------------------------------------
// Real HTTP: the component over a KubeConfig (client-node endpoint, KubeLeaseClient requests).

interface Loopback {
  url: string;
  seen: Array<{ method: string; url: string }>;
  /** Decides each answer; `undefined` leaves the request hanging. */
  answer: (req: IncomingMessage, res: ServerResponse, index: number) => void;
}

async function serve(answer: Loopback['answer']): Promise<Loopback> {
  const sockets = new Set<Socket>();
  const state: Loopback = { url: '', seen: [], answer };
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      state.seen.push({ method: req.method ?? '', url: req.url ?? '' });
      state.answer(req, res, state.seen.length - 1);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

function kubeConfig(url: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

const freeLease = {
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name: LEASE, namespace: NS, resourceVersion: '1', uid: 'u1' },
  spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 },
};

function json(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`not reached within the bound: ${what}`);
}

function componentOver(url: string, registry: Registry, log = capturingLogger()) {
  const component = new LeaderElectionComponent(
    {
      identity: 'a',
      leaseName: LEASE,
      leaseNamespace: NS,
      leaseDurationMs: 1500,
      renewDeadlineMs: 1000,
      retryPeriodMs: 250,
      followerStrategy: 'poll',
      registry,
    },
    kubeConfig(url),
    createLeaderElectionBus(),
    {},
    log,
  );
  const controller = new AbortController();
  const done = component.run(controller.signal);
  cleanups.push(async () => {
    controller.abort();
    await done;
  });
  return { component, controller, done, log };
}

describe('metrics of cut-short and failed requests (real HTTP through client-node)', () => {
  it('neither counts nor times a hanging read that stop cuts short, and logs no warning', async () => {
    const server = await serve(() => undefined);
    const registry = new Registry();
    const c = componentOver(server.url, registry);
    await until('the first read reached the server', () => server.seen.length === 1);
    c.controller.abort();
    await c.done;
    const m = await scrape(registry);
    expect(allErrors(m)).toBe(0);
    expect(timed(m, 'acquire')).toBe(0);
    expect(c.log.entries.filter((e) => e.level === 'warn' || e.level === 'error')).toEqual([]);
  });

  it('counts a 500 the server answered before the stop, and not the read the stop cut short', async () => {
    const server = await serve((_req, res, index) => {
      if (index === 0) json(res, 500, makeStatus(500, 'InternalError', 'boom'));
      // later requests hang
    });
    const registry = new Registry();
    const c = componentOver(server.url, registry);
    await until('the retry reached the server', () => server.seen.length === 2);
    c.controller.abort();
    await c.done;
    const m = await scrape(registry);
    expect(errors(m, 'InternalError')).toBe(1);
    expect(allErrors(m)).toBe(1);
    expect(timed(m, 'acquire')).toBe(1);
    expect(c.log.entries.filter((e) => e.level === 'warn' && e.message.startsWith('Lease request'))).toHaveLength(1);
  });

  it('counts a read the client timed out (no stop) as a Timeout', async () => {
    const server = await serve(() => undefined);
    const registry = new Registry();
    const c = componentOver(server.url, registry);
    await until('a Timeout is counted', async () => (errors(await scrape(registry), 'Timeout') ?? 0) >= 1);
    c.controller.abort();
    await c.done;
    const m = await scrape(registry);
    expect(errors(m, 'Timeout')).toBeGreaterThanOrEqual(1);
    expect(errors(m, 'NetworkError')).toBe(0);
    // Every counted Timeout was timed; the read the stop cut short (if any) was neither.
    expect(timed(m, 'acquire')).toBe(errors(m, 'Timeout'));
  });

  it('counts a release whose write hangs after the stop as a Timeout, timed under purpose release', async () => {
    let leaseNow: Record<string, unknown> = freeLease;
    let hangWrites = false;
    const server = await serve((req, res) => {
      if (req.method === 'GET') return json(res, 200, leaseNow);
      if (req.method === 'PUT' && !hangWrites) {
        leaseNow = {
          ...freeLease,
          metadata: { ...freeLease.metadata, resourceVersion: String(Number((leaseNow.metadata as { resourceVersion: string }).resourceVersion) + 1) },
          spec: { holderIdentity: 'a', leaseDurationSeconds: 2, leaseTransitions: 1, acquireTime: new Date().toISOString().replace('Z', '000Z'), renewTime: new Date().toISOString().replace('Z', '000Z') },
        };
        return json(res, 200, leaseNow);
      }
      // hanging writes
    });
    const registry = new Registry();
    const c = componentOver(server.url, registry);
    await until('leading', () => c.component.isLeader());
    hangWrites = true;
    c.controller.abort();
    await c.done;
    const m = await scrape(registry);
    expect(timed(m, 'release')).toBe(1);
    expect(errors(m, 'Timeout')).toBe(1);
  });
});
