import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LEASE_MS, shardWorld, type ShardWorld } from './__tests__/sharded-helpers.js';
import { WedgeableClock } from './__tests__/wedgeable-clock.js';
import type { HealthHandler } from './health.js';

jest.setTimeout(60_000);

let current: ShardWorld | undefined;
let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  await current?.stopAll();
  current = undefined;
});

/** Serves `handler` on 127.0.0.1 and makes one request without keep-alive. */
async function probe(handler: HealthHandler): Promise<{ status: number; body: string }> {
  server ??= createServer();
  server.removeAllListeners('request');
  server.on('request', handler);
  if (!server.listening) await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Two replicas over two shards, each on its own wedgeable clock, run until each leads one. */
async function twoReplicas(): Promise<{ w: ShardWorld; clocks: WedgeableClock[] }> {
  const w = shardWorld(2);
  current = w;
  const clocks = [new WedgeableClock(w.clock), new WedgeableClock(w.clock)];
  w.add('a', { clock: clocks[0] });
  w.add('b', { clock: clocks[1] });
  await w.runUntil(() => w.replicas.every((r) => r.component.heldShards().length === 1), 60_000);
  return { w, clocks };
}

describe('ShardedLeaderElectionComponent: health', () => {
  it('is healthy while running and leading shards, over a long run (renewals keep it so)', async () => {
    const { w } = await twoReplicas();
    for (let i = 0; i < 5; i++) {
      await w.run(LEASE_MS);
      for (const r of w.replicas) expect(r.component.check(0)).toBeUndefined();
    }
    expect(await probe(w.replicas[0]!.component.healthHandler({ toleranceMs: 0 }))).toEqual({ status: 200, body: 'ok' });
  });

  it('reports a wedged replica that leads shards (500 naming the shards) once the lease duration plus the tolerance passed without a renewal', async () => {
    const { w, clocks } = await twoReplicas();
    const a = w.replicas[0]!;
    const tolerance = 2_000;
    const handler = a.component.healthHandler({ toleranceMs: tolerance });
    const [shard] = a.component.heldShards();
    clocks[0]!.wedge(LEASE_MS + tolerance - 1_100); // the last renewal was at most a retry period ago
    expect(a.component.check(tolerance)).toBeUndefined();
    clocks[0]!.wedge(1_200);
    const problem = a.component.check(tolerance);
    expect(problem).toMatchObject({ code: 'LEADER_NOT_RENEWING' });
    expect(problem?.message).toContain(`failed election to renew leadership of shard set work (shards ${String(shard)})`);
    const answer = await probe(handler);
    expect(answer.status).toBe(500);
    expect(answer.body).toBe(problem!.message);
  });

  it('a replica leading no shard is healthy even when wedged, and a stopped one is healthy', async () => {
    const w = shardWorld(1);
    current = w;
    const clocks = [new WedgeableClock(w.clock), new WedgeableClock(w.clock)];
    const a = w.add('a', { clock: clocks[0] });
    const b = w.add('b', { clock: clocks[1] });
    await w.runUntil(() => a.component.heldShards().length + b.component.heldShards().length === 1, 60_000);
    const follower = a.component.heldShards().length === 0 ? 0 : 1;
    clocks[follower]!.wedge(10 * LEASE_MS);
    expect(w.replicas[follower]!.component.check(0)).toBeUndefined();
    const leader = w.replicas[1 - follower]!;
    await w.stop(leader);
    expect(leader.component.check(0)).toBeUndefined();
  });
});
