import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { world, type Replica, type World } from './__tests__/helpers.js';
import { WedgeableClock } from './__tests__/wedgeable-clock.js';
import { createHealthHandler, DEFAULT_HEALTH_TOLERANCE_MS, type HealthHandler } from './health.js';

async function wedgeableLeader(): Promise<{ w: World; r: Replica; clock: WedgeableClock }> {
  const w = world();
  const clock = new WedgeableClock(w.clock);
  w.createLease();
  const r = w.replica('a', { config: { clock } });
  r.start();
  await w.clock.advance(0);
  expect(r.component.isLeader()).toBe(true);
  return { w, r, clock };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Serves `handler` on 127.0.0.1 and makes one request without keep-alive. */
async function probe(handler: HealthHandler, method = 'GET'): Promise<{ status: number; body: string; type: string | undefined }> {
  if (!server) {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  } else {
    server.removeAllListeners('request');
    server.on('request', handler);
  }
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('check()', () => {
  it("is healthy for a follower and for a leader that keeps renewing", async () => {
    const w = world();
    w.createLease();
    const a = w.replica('a');
    const b = w.replica('b');
    a.start();
    b.start();
    await w.clock.advance(60_000);
    expect(a.component.isLeader()).toBe(true);
    expect(a.component.check()).toBeUndefined();
    expect(b.component.check()).toBeUndefined();
    expect(b.component.check(0)).toBeUndefined();
    await a.stop();
    await b.stop();
  });

  it('reports a wedged leader only after the lease duration plus the tolerance (20 s by default)', async () => {
    const { r, clock } = await wedgeableLeader();
    clock.wedge(15_000 + DEFAULT_HEALTH_TOLERANCE_MS);
    expect(r.component.check()).toBeUndefined();
    clock.wedge(1);
    const problem = r.component.check();
    expect(problem).toBeInstanceOf(Error);
    expect(problem?.message).toMatch(/failed election to renew leadership on lease my-lease/);
    expect(r.component.check(60_000)).toBeUndefined();
    await r.stop();
  });
});

describe('healthHandler()', () => {
  it('answers 200 ok while healthy and 500 with the reason once the leader is wedged', async () => {
    const { r, clock } = await wedgeableLeader();
    const handler = r.component.healthHandler();
    expect(await probe(handler)).toEqual({ status: 200, body: 'ok', type: 'text/plain; charset=utf-8' });
    clock.wedge(36_000);
    const unhealthy = await probe(handler);
    expect(unhealthy.status).toBe(500);
    expect(unhealthy.body).toMatch(/failed election to renew leadership/);
    expect(await probe(handler, 'HEAD')).toEqual({ status: 500, body: '', type: 'text/plain; charset=utf-8' });
    await r.stop();
  });

  it('uses the configured tolerance', async () => {
    const { r, clock } = await wedgeableLeader();
    clock.wedge(16_000);
    expect((await probe(r.component.healthHandler({ toleranceMs: 0 }))).status).toBe(500);
    expect((await probe(r.component.healthHandler({ toleranceMs: 5_000 }))).status).toBe(200);
    await r.stop();
  });

  it('is always healthy when election is disabled', async () => {
    const w = world();
    const r = w.replica('a', { config: { enabled: false } });
    r.start();
    await w.clock.advance(120_000);
    expect(await probe(r.component.healthHandler({ toleranceMs: 0 }))).toMatchObject({ status: 200, body: 'ok' });
    await r.stop();
  });

  it('answers 500 when the check itself throws, and refuses a negative tolerance', async () => {
    const broken = createHealthHandler({
      check: () => {
        throw new Error('check exploded');
      },
    });
    expect(await probe(broken)).toMatchObject({ status: 500, body: 'check exploded' });
    expect(() => createHealthHandler({ check: () => undefined }, { toleranceMs: -1 })).toThrow(expect.objectContaining({ code: 'OPTION_INVALID', field: 'toleranceMs' }) as never);
  });
});
