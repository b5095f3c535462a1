/**
 * Probes of `handoverTo()` through the component, by someone with no stake in the code: several
 * handover and resign calls at once, a handover whose write fails, and a preferredHolder naming
 * another replica. What a user relies on: `leader.lost` (reason `handed_over`) exactly once per
 * term, published while the Lease still names this replica, with isLeader() false and the
 * is_leader gauge 0 already; never two components leading. Fake clock, in-memory store.
 */
import { describe, expect, it } from '@jest/globals';
import { leaseErrors } from '@leasekit/k8s-leaderelection/testing';
import { isLeaderGauge, LEASE, leaderFirst, NS, world, type Replica, type World } from './__tests__/helpers.js';

const lostEvents = (r: Replica): Array<Record<string, unknown>> => r.events().flatMap(([name, payload]) => (name === 'leader.lost' ? [payload] : []));

/** Advances in steps, throwing at the first step where two components lead. */
async function runChecked(w: World, replicas: readonly Replica[], ms: number, stepMs = 10): Promise<void> {
  const end = w.clock.now() + ms;
  while (w.clock.now() < end) {
    await w.clock.advance(Math.min(stepMs, end - w.clock.now()));
    const leaders = replicas.filter((r) => r.component.isLeader()).map((r) => r.id);
    if (leaders.length > 1) throw new Error(`two leaders at ${w.clock.now()} ms: ${leaders.join(', ')}`);
  }
}

/** Records, inside every leader.lost listener call, what a user can see then. */
function watchLost(w: World, r: Replica): Array<{ isLeader: boolean; gauge: number | undefined; holder: string | undefined }> {
  const seen: Array<{ isLeader: boolean; gauge: number | undefined; holder: string | undefined }> = [];
  r.bus.on('leader.lost', async () => {
    const isLeader = r.component.isLeader();
    const gauge = await isLeaderGauge(r);
    seen.push({ isLeader, gauge, holder: w.store.peek(NS, LEASE)?.spec?.holderIdentity ?? undefined });
  });
  return seen;
}

describe('LeaderElectionComponent.handoverTo: probes', () => {
  it('handoverTo twice (two targets) and resign() at once: one leader.lost (handed_over), the first target named, everything resolved, one leader', async () => {
    const w = world(71);
    w.createLease();
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const c = w.replica('c', { config: { followerStrategy: 'watch' } });
    await leaderFirst(w, a, [b, c]);
    await runChecked(w, [a, b, c], 5_000);
    const seen = watchLost(w, a);
    let resolved = 0;
    for (const p of [a.component.handoverTo('b'), a.component.handoverTo('c'), a.component.resign()]) void p.then(() => resolved++);
    await runChecked(w, [a, b, c], 30_000);
    expect(resolved).toBe(3);
    expect(lostEvents(a)).toEqual([expect.objectContaining({ identity: 'a', reason: 'handed_over' })]);
    expect(seen).toEqual([{ isLeader: false, gauge: 0, holder: 'a' }]);
    expect(b.component.isLeader()).toBe(true);
    expect(c.events().map(([name]) => name)).not.toContain('leader.became');
    expect(await isLeaderGauge(a)).toBe(0);
    expect(await isLeaderGauge(b)).toBe(1);
    await a.stop();
    await b.stop();
    await c.stop();
  });

  it('a handover whose writes all fail: still exactly one leader.lost (handed_over) with the gauge at 0, the call resolves, and the other replica leads once the Lease expired', async () => {
    const w = world(72);
    w.createLease();
    let failing = false;
    const a = w.replica('a', {
      client: {
        fault: (call) =>
          failing && call.verb !== 'watch' ? { kind: 'error', error: leaseErrors.internal('etcd leader changed') } : undefined,
      },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await leaderFirst(w, a, [b]);
    await runChecked(w, [a, b], 5_000);
    const seen = watchLost(w, a);
    failing = true;
    let resolved = false;
    void a.component.handoverTo('b').then(() => (resolved = true));
    await runChecked(w, [a, b], 40_000);
    expect(resolved).toBe(true);
    expect(lostEvents(a)).toEqual([expect.objectContaining({ reason: 'handed_over' })]);
    expect(seen).toEqual([{ isLeader: false, gauge: 0, holder: 'a' }]);
    expect(b.component.isLeader()).toBe(true);
    expect(await isLeaderGauge(a)).toBe(0);
    failing = false;
    await a.stop();
    await b.stop();
  });

  it('a preferredHolder naming another replica: leader.lost (handed_over) once, before the Lease names it; the preferred replica leads and keeps leading', async () => {
    const w = world(73);
    w.createLease();
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await leaderFirst(w, a, [b]);
    await runChecked(w, [a, b], 5_000);
    const seen = watchLost(w, a);
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: 'b' } });
    await runChecked(w, [a, b], 60_000);
    expect(lostEvents(a)).toEqual([expect.objectContaining({ reason: 'handed_over' })]);
    expect(seen).toEqual([{ isLeader: false, gauge: 0, holder: 'a' }]);
    expect(b.component.isLeader()).toBe(true);
    expect(lostEvents(b)).toEqual([]);
    await a.stop();
    await b.stop();
  });
});
