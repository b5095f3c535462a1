/**
 * A watching follower (the pure Elector with a client-node KubeConfig) while the server breaks its
 * watch: it opens no more than about one watch per retry period, warns once about RBAC and keeps
 * following by polling, and relists after 410. Waits are bounded polls; the only timing
 * assertion is an upper bound on requests per elapsed time, which a slow machine only helps.
 */
import { beforeEach, describe, expect, it } from '@jest/globals';
import type { Elector } from '@leasekit/k8s-leaderelection';
import type { LeaseApiServer, RequestRecord } from '../index.js';
import { memoryLogger, waitFor } from './helpers.js';
import { TIMINGS, electorOver, seedFreeLease, serverFixture } from './server-fixture.js';

const LEASE = 'controller';
const R = TIMINGS.retryPeriodMs;

interface Replica {
  id: string;
  elector: Elector;
  stop: AbortController;
  done: Promise<void>;
  log: ReturnType<typeof memoryLogger>;
}

const fx = serverFixture<Replica>();

beforeEach(() => seedFreeLease(fx.server, LEASE));

function replica(id: string): Replica {
  const stop = new AbortController();
  const log = memoryLogger();
  const elector = electorOver(fx.server, id, { leaseName: LEASE }, {}, log);
  const r: Replica = { id, elector, stop, log, done: elector.run(stop.signal) };
  fx.replicas.push(r);
  return r;
}

const watchesOf = (id: string): RequestRecord[] => fx.records.filter((rec) => rec.verb === 'watch' && rec.headers.authorization === `Bearer ${id}`);

/** a leads; b follows and sees a. */
async function leaderAndFollower(): Promise<{ a: Replica; b: Replica }> {
  const a = replica('a');
  await waitFor(() => a.elector.isLeader(), 'a leads');
  const b = replica('b');
  await waitFor(() => b.elector.getLeader() === 'a', 'b sees a');
  return { a, b };
}

describe('a watching follower when the server breaks its watch', () => {
  it.each([
    ['answers every watch with 500', (s: LeaseApiServer) => void s.faults.addError({ code: 500, verbs: ['watch'], client: { token: 'b' } })],
    ['cuts every watch stream at once', (s: LeaseApiServer) => s.faults.setWatchLifetime({ ms: 0, client: { token: 'b' } })],
  ])('opens at most about one watch per retry period when the server %s', async (_label, breakWatch) => {
    const { b } = await leaderAndFollower();
    breakWatch(fx.server);
    fx.server.faults.cutWatches({ client: { token: 'b' } });
    const since = performance.now();
    await waitFor(() => performance.now() - since >= 12 * R, 'twelve retry periods to pass');
    const elapsed = performance.now() - since;
    // Records share the process's monotonic clock; a request counts from when it arrived.
    const opened = watchesOf('b').filter((rec) => rec.startedAtMs >= since).length;
    expect(opened).toBeGreaterThanOrEqual(1); // it kept trying
    expect(opened).toBeLessThanOrEqual(Math.floor(elapsed / R) + 1);
    expect(b.elector.getLeader()).toBe('a');
  });

  it('warns once that RBAC must allow watch on 403, and still follows and takes over by polling', async () => {
    fx.server.faults.addError({ code: 403, verbs: ['watch'], client: { token: 'b' } });
    const { a, b } = await leaderAndFollower();
    await waitFor(() => watchesOf('b').length >= 3, 'three refused watches');
    const rbac = b.log.lines.filter((l) => l.includes('grant watch on leases.coordination.k8s.io'));
    expect(rbac).toHaveLength(1);
    expect(rbac[0]).toMatch(/^warn /);
    // Polling: b keeps reading the Lease with GETs, and takes over when a releases it.
    await waitFor(() => fx.records.filter((rec) => rec.verb === 'get' && rec.headers.authorization === 'Bearer b').length >= 2, 'b to poll');
    a.stop.abort();
    await a.done;
    await waitFor(() => b.elector.isLeader(), 'b takes over');
  });

  it('relists after a 410: the next watch carries no resourceVersion', async () => {
    const { b } = await leaderAndFollower();
    await waitFor(() => fx.server.openWatchCount === 1, 'b watching');
    fx.server.faults.addError({ code: 410, verbs: ['watch'], client: { token: 'b' }, times: 1 });
    fx.server.faults.cutWatches({ client: { token: 'b' } });
    await waitFor(() => watchesOf('b').some((rec) => rec.statusCode === 410), 'the refused resume');
    const refused = watchesOf('b').find((rec) => rec.statusCode === 410)!;
    expect(new URLSearchParams(refused.url.split('?')[1]).get('resourceVersion')).not.toBeNull();
    await waitFor(() => fx.server.openWatchCount === 1, 'b watching again');
    fx.server.faults.cutWatches({ client: { token: 'b' } }); // ends the relist, so its record is written
    await waitFor(() => watchesOf('b').indexOf(refused) < watchesOf('b').length - 1, 'the relist');
    const relist = watchesOf('b')[watchesOf('b').indexOf(refused) + 1]!;
    expect(relist.statusCode).toBe(200);
    expect(new URLSearchParams(relist.url.split('?')[1]).get('resourceVersion')).toBeNull();
    expect(b.elector.getLeader()).toBe('a');
  });
});
