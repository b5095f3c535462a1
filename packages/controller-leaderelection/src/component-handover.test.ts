/**
 * Directed handover through the component: `handoverTo(identity)` announces `leader.lost` with
 * reason `handed_over`, then the target leads after one write of its own. Fake clock, in-memory store.
 */
import { describe, expect, it } from '@jest/globals';
import { isLeaderGauge, LEASE, leaderFirst, NS, scrape, world, type Replica } from './__tests__/helpers.js';

const P = 'leasekit_leader_election';

/** The verbs `r` sent from call index `from` on, watches and Events left out. */
function requestsSince(r: Replica, from: number): string[] {
  return r.client.calls.slice(from).map((c) => c.verb).filter((v) => v !== 'watch' && v !== 'recordEvent');
}

describe('LeaderElectionComponent.handoverTo', () => {
  it('announces leader.lost (handed_over) and awaits its listener before the Lease names the target, which then leads after one write and no GET', async () => {
    const w = world(7);
    w.createLease();
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const c = w.replica('c', { config: { followerStrategy: 'watch' } });
    a.start();
    await w.clock.advance(0);
    expect(a.component.isLeader()).toBe(true);
    b.start();
    c.start();
    await w.clock.advance(5_000);
    const holderDuringLost: string[] = [];
    a.bus.on('leader.lost', () => {
      holderDuringLost.push(String(w.store.get(NS, LEASE).spec?.holderIdentity));
      // Leader work stopping takes a while: the handover waits for it.
      return new Promise<void>((resolve) => w.clock.setTimeout(resolve, 500));
    });
    const marks = new Map([a, b, c].map((r) => [r.id, r.client.calls.length]));

    let resolved = false;
    void a.component.handoverTo('b').then(() => (resolved = true));
    expect(await w.clock.advanceUntil(() => b.component.isLeader(), 2_000, 1)).toBe(true);
    expect(resolved).toBe(true);

    expect(a.component.isLeader()).toBe(false);
    expect(a.events().at(-2)).toEqual(['leader.lost', expect.objectContaining({ identity: 'a', reason: 'handed_over', token: 1 })]);
    expect(a.events().at(-1)).toEqual(['leader.observed', expect.objectContaining({ newLeaderIdentity: 'b', isSelf: false })]);
    expect(holderDuringLost).toEqual(['a']);
    expect(b.events().slice(-2)).toEqual([
      ['leader.observed', expect.objectContaining({ newLeaderIdentity: 'b', isSelf: true })],
      ['leader.became', expect.objectContaining({ identity: 'b', token: 3 })],
    ]);
    // One write by the old leader, one by the target, nothing by the bystander.
    expect(requestsSince(a, marks.get('a')!)).toEqual(['update']);
    expect(requestsSince(b, marks.get('b')!)).toEqual(['update']);
    expect(requestsSince(c, marks.get('c')!)).toEqual([]);

    expect(await isLeaderGauge(a)).toBe(0);
    expect(await isLeaderGauge(b)).toBe(1);
    expect((await scrape(a.component.registry)).value(`${P}_transitions_total`, { name: LEASE })).toBe(2);

    await w.clock.advance(30_000);
    expect([a, b, c].filter((r) => r.component.isLeader()).map((r) => r.id)).toEqual(['b']);
    await a.stop();
    await b.stop();
    await c.stop();
  });

  it('a polling target leads at its next poll', async () => {
    const w = world(8);
    w.createLease();
    const a = w.replica('a');
    const b = w.replica('b');
    await leaderFirst(w, a, [b]);
    await w.clock.advance(5_000);
    const mark = b.client.calls.length;
    await Promise.all([a.component.handoverTo('b'), w.clock.advance(0)]);
    expect(await w.clock.advanceUntil(() => b.component.isLeader(), 5_000, 10)).toBe(true);
    expect(requestsSince(b, mark)).toEqual(['get', 'update']);
    expect(a.component.isLeader()).toBe(false);
    await a.stop();
    await b.stop();
  });

  it('rejects an empty identity and its own with OPTION_INVALID naming `to`, and keeps leading', async () => {
    const w = world(9);
    w.createLease();
    const a = w.replica('a');
    a.start();
    await w.clock.advance(0);
    await expect(a.component.handoverTo('')).rejects.toMatchObject({ code: 'OPTION_INVALID', field: 'to' });
    await expect(a.component.handoverTo('a')).rejects.toMatchObject({ code: 'OPTION_INVALID', field: 'to' });
    await w.clock.advance(5_000);
    expect(a.component.isLeader()).toBe(true);
    expect(a.events().map(([name]) => name)).not.toContain('leader.lost');
    await a.stop();
  });

  it('does nothing when not leading, and when election is disabled', async () => {
    const w = world(10);
    const follower = w.replica('f');
    await expect(follower.component.handoverTo('b')).resolves.toBeUndefined();
    const standalone = w.replica('s', { config: { enabled: false } });
    standalone.start();
    await w.clock.advance(0);
    await expect(standalone.component.handoverTo('b')).resolves.toBeUndefined();
    expect(standalone.component.isLeader()).toBe(true);
    expect(standalone.client.calls).toEqual([]);
    expect(follower.client.calls).toEqual([]);
    await standalone.stop();
  });
});
