import { describe, expect, it } from '@jest/globals';
import { LEASE, NS, runChecked, world } from './__tests__/harness.js';
import { ApiError, makeStatus } from './errors.js';

describe('Elector: acquiring', () => {
  it('creates the lease when none exists, after waiting a lease duration in case a holder is alive', async () => {
    const w = world();
    const a = w.replica('a');
    a.start();
    await w.clock.advance(0);
    expect(a.client.verbs()).toEqual(['get']);
    expect(a.elector.isLeader()).toBe(false);
    const became = await w.clock.advanceUntil(() => a.elector.isLeader(), 20_000);
    expect(became).toBe(true);
    expect(a.client.verbs().slice(-2)).toEqual(['get', 'create']);
    const lease = w.store.get(NS, LEASE);
    expect(lease.spec?.holderIdentity).toBe('a');
    expect(lease.spec?.leaseTransitions).toBe(0);
    expect(lease.spec?.leaseDurationSeconds).toBe(15);
    expect(a.log.started).toHaveLength(1);
    expect(a.log.started[0]!.isLeaderInside).toBe(true);
    expect(a.log.started[0]!.leaderInside).toBe('a');
    await a.stop();
  });

  it('takes a lease with an empty spec at once', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a');
    a.start();
    await w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.client.verbs()).toEqual(['get', 'update']);
    expect(w.store.get(NS, LEASE).spec?.leaseTransitions).toBe(1);
    await a.stop();
  });

  it("waits the record's leaseDurationSeconds, not its own, before taking a held lease", async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'other', leaseDurationSeconds: 40, leaseTransitions: 3 } });
    const a = w.replica('a'); // own lease duration 15 s
    a.start();
    await w.clock.advance(39_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.getLeader()).toBe('other');
    await w.clock.advance(6_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(w.store.get(NS, LEASE).spec?.leaseTransitions).toBe(4);
    await a.stop();
  });

  it('takes over a released lease at once', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 } });
    const a = w.replica('a');
    a.start();
    await w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
  });
});

describe('Elector: renewing', () => {
  it('renews with one PUT on the fast path', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a');
    a.start();
    await w.clock.advance(0);
    const before = a.client.calls.length;
    await w.clock.advance(2_000);
    expect(a.client.verbs().slice(before)).toEqual(['update']);
    await a.stop();
  });

  it('falls back to GET + PUT after a 409 on the fast path', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE } });
    let failNext = false;
    const a = w.replica('a', {
      client: {
        fault: (call) => {
          if (failNext && call.verb === 'update') {
            failNext = false;
            return { kind: 'error', error: new ApiError(makeStatus(409, 'Conflict', 'conflict')) };
          }
          return undefined;
        },
      },
    });
    a.start();
    await w.clock.advance(0);
    failNext = true;
    const before = a.client.calls.length;
    await w.clock.advance(2_000);
    expect(a.client.verbs().slice(before)).toEqual(['update', 'get', 'update']);
    expect(a.elector.snapshot().slowPathCount).toBe(1);
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
  });

  it('never has two leaders in a long run where the leader stops renewing and comes back', async () => {
    const w = world(7);
    let partitioned = false;
    const replicas = ['a', 'b', 'c'].map((id) =>
      w.replica(id, {
        client: {
          fault: () => (partitioned && id === 'a' ? { kind: 'error', error: new Error('connection refused') } : undefined),
        },
      }),
    );
    w.store.create(NS, { metadata: { name: LEASE } });
    replicas[0]!.start();
    await w.clock.advance(0);
    expect(replicas[0]!.elector.isLeader()).toBe(true);
    replicas[1]!.start();
    replicas[2]!.start();
    await runChecked(w.clock, replicas, 30_000);
    partitioned = true;
    await runChecked(w.clock, replicas, 60_000);
    expect(replicas[0]!.elector.isLeader()).toBe(false);
    expect(replicas.filter((r) => r.elector.isLeader())).toHaveLength(1);
    partitioned = false;
    await runChecked(w.clock, replicas, 60_000);
    expect(replicas.filter((r) => r.elector.isLeader())).toHaveLength(1);
    for (const r of replicas) await r.stop();
  });
});
