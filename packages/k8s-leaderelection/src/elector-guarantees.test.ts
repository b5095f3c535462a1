/**
 * Beyond client-go: watch-driven followers, lease-guarded leadership, fencing tokens, resign().
 */
import { describe, expect, it } from '@jest/globals';
import { LEASE, NS, runChecked, world, type Replica } from './__tests__/harness.js';
import type { LeaseClient, WatchOptions } from './lease.js';
import { PausableClock } from './__tests__/pausable-clock.js';
import type { MemoryLeaseClient } from './testing/memory-lease-client.js';

/** Wraps a client so its watch misbehaves. */
function withWatch(client: MemoryLeaseClient, watch: (ns: string, name: string, options: WatchOptions) => Promise<void>): LeaseClient {
  return {
    get: (ns, name, o) => client.get(ns, name, o),
    create: (ns, lease, o) => client.create(ns, lease, o),
    update: (ns, lease, o) => client.update(ns, lease, o),
    watch,
  };
}

const leaders = (rs: Replica[]): string[] => rs.filter((r) => r.elector.isLeader()).map((r) => r.id);

async function threeWatching(seed = 3): Promise<{ w: ReturnType<typeof world>; rs: Replica[] }> {
  const w = world(seed);
  w.store.create(NS, { metadata: { name: LEASE } });
  const rs = ['a', 'b', 'c'].map((id) => w.replica(id, { config: { followerStrategy: 'watch' } }));
  rs[0]!.start();
  await w.clock.advance(0);
  rs[1]!.start();
  rs[2]!.start();
  await w.clock.advance(100);
  return { w, rs };
}

describe('watch-driven followers', () => {
  it('hands over through the watch within tens of milliseconds of a release', async () => {
    const { w, rs } = await threeWatching();
    await runChecked(w.clock, rs, 10_000);
    expect(leaders(rs)).toEqual(['a']);
    rs[0]!.controller.abort();
    const releasedAt = w.clock.now();
    const took = await w.clock.advanceUntil(() => leaders(rs.slice(1)).length === 1, 5_000, 1);
    expect(took).toBe(true);
    expect(w.clock.now() - releasedAt).toBeLessThan(100);
    await rs[0]!.done;
    for (const r of rs) await r.stop();
  });

  it('makes no requests besides the watch while the leader is renewing', async () => {
    const { w, rs } = await threeWatching();
    const before = rs.map((r) => r.client.calls.length);
    await runChecked(w.clock, rs, 60_000);
    const followerCalls = rs.slice(1).flatMap((r, i) => r.client.calls.slice(before[i + 1]));
    expect(followerCalls).toEqual([]);
    expect(rs[0]!.client.verbs().slice(before[0]).filter((v) => v === 'update').length).toBeGreaterThanOrEqual(29);
    for (const r of rs) await r.stop();
  });

  it('uses less than half the requests of polling followers for the same minute', async () => {
    const count = async (strategy: 'watch' | 'poll'): Promise<number> => {
      const w = world(5);
      w.store.create(NS, { metadata: { name: LEASE } });
      const rs = ['a', 'b', 'c'].map((id) => w.replica(id, { config: { followerStrategy: strategy } }));
      for (const r of rs) r.start();
      await w.clock.advance(1_000);
      const before = rs.reduce((n, r) => n + r.client.calls.length, 0);
      await w.clock.advance(60_000);
      const used = rs.reduce((n, r) => n + r.client.calls.length, 0) - before;
      for (const r of rs) await r.stop();
      return used;
    };
    const watch = await count('watch');
    const poll = await count('poll');
    expect(watch).toBeLessThanOrEqual(poll / 2);
  });

  it('still takes over after expiry when the watch is silently dead', async () => {
    const w = world(4);
    w.store.create(NS, { metadata: { name: LEASE } });
    let crashed = false;
    const a = w.replica('a', { client: { fault: () => (crashed ? { kind: 'error', error: new Error('crashed') } : undefined) } });
    const silent = w.replica('b', { config: { followerStrategy: 'watch' } });
    const dead = w.replica('b', {
      config: { followerStrategy: 'watch' },
      leaseClient: withWatch(silent.client, (_ns, _name, options) => {
        options.onOpen?.(); // the stream "opens" and then says nothing, ever
        return new Promise((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
      }),
    });
    a.start();
    await w.clock.advance(0);
    dead.start();
    await runChecked(w.clock, [a, dead], 40_000);
    expect(leaders([a, dead])).toEqual(['a']);
    crashed = true;
    const crashAt = w.clock.now();
    expect(await w.clock.advanceUntil(() => dead.elector.isLeader(), 60_000)).toBe(true);
    // Degraded to one safety poll per lease duration: at most two lease durations after the crash.
    expect(w.clock.now() - crashAt).toBeLessThanOrEqual(2 * 15_000 + 2_000);
    await a.stop();
    await dead.stop();
  });

  it('never takes over early because of a lagging watch', async () => {
    const w = world(6);
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a');
    const inner = w.replica('b-inner');
    const lagMs = 12_000;
    const b = w.replica('b', {
      config: { followerStrategy: 'watch' },
      leaseClient: withWatch(inner.client, (ns, name, options) =>
        inner.client.watch(ns, name, {
          ...options,
          onEvent: (event) => {
            w.clock.setTimeout(() => options.onEvent(event), lagMs);
          },
        }),
      ),
    });
    a.start();
    await w.clock.advance(0);
    b.start();
    await runChecked(w.clock, [a, b], 120_000, 20);
    expect(leaders([a, b])).toEqual(['a']);
    await a.stop();
    await b.stop();
  });

  it('relists after 410 Gone and keeps following without polling', async () => {
    const { w, rs } = await threeWatching();
    const follower = rs[1]!;
    w.store.stopAllWatches();
    w.store.compact();
    await w.clock.advance(5_000);
    expect(follower.client.verbs().filter((v) => v === 'watch').length).toBeGreaterThanOrEqual(2);
    expect(follower.client.verbs().filter((v) => v === 'get')).toHaveLength(1); // only its first try
    expect(follower.elector.getLeader()).toBe('a');
    for (const r of rs) await r.stop();
  });
});

describe('lease-guarded leadership', () => {
  it('reports isLeader() false as soon as a paused process runs again past its guarantee', async () => {
    const w = world(8);
    w.store.create(NS, { metadata: { name: LEASE } });
    const pausable = new PausableClock(w.clock);
    const a = w.replica('a', { config: { clock: pausable } });
    const b = w.replica('b');
    a.start();
    await w.clock.advance(0);
    b.start();
    await runChecked(w.clock, [a, b], 5_000);
    pausable.paused = true;
    // While a is frozen, time passes beyond its guarantee; b takes over at expiry.
    const stillGuaranteed = a.elector.isLeader();
    await runChecked(w.clock, [a, b], 20_000);
    expect(stillGuaranteed).toBe(true);
    expect(a.elector.isLeader()).toBe(false); // what a's code sees the moment it runs again
    expect(a.elector.check(0)).toBeInstanceOf(Error); // a wedged leader is unhealthy
    expect(b.elector.isLeader()).toBe(true);
    pausable.resume();
    await runChecked(w.clock, [a, b], 5_000);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['renew_failed']);
    expect(a.elector.check(0)).toBeUndefined();
    await a.stop();
    await b.stop();
  });

  it('aborts the leadership signal at the guarantee deadline while renew requests hang', async () => {
    const w = world(9);
    w.store.create(NS, { metadata: { name: LEASE } });
    let hang = false;
    let lastRenewSentAt = 0;
    const a = w.replica('a', {
      // A renew deadline close to the lease duration: only the guarantee can end the term in time.
      config: { leaseDurationMs: 15_000, renewDeadlineMs: 14_500, retryPeriodMs: 2_000 },
      client: {
        fault: (call) => {
          if (hang) return { kind: 'hang' };
          if (call.verb === 'update') lastRenewSentAt = call.atMs;
          return undefined;
        },
      },
    });
    a.start();
    await w.clock.advance(4_100);
    hang = true;
    const signal = a.log.started[0]!.signal;
    let abortedAt = -1;
    signal.addEventListener('abort', () => (abortedAt = w.clock.now()));
    await w.clock.advanceUntil(() => abortedAt >= 0, 30_000, 5);
    const guarantee = (15_000 * (1 - 2 * 0.01)) / 1.01;
    expect(abortedAt).toBeLessThanOrEqual(lastRenewSentAt + guarantee + 1);
    expect(abortedAt).toBeLessThan(lastRenewSentAt + 15_000);
    hang = false;
    await a.stop();
  });
});

describe('fencing tokens', () => {
  it('increase strictly from term to term, across replicas', async () => {
    const w = world(10);
    w.store.create(NS, { metadata: { name: LEASE } });
    const down = new Set<string>();
    const rs = ['a', 'b', 'c'].map((id) =>
      w.replica(id, { config: { followerStrategy: id === 'b' ? 'poll' : 'watch' }, client: { fault: () => (down.has(id) ? { kind: 'error', error: new Error('partitioned') } : undefined) } }),
    );
    for (const r of rs) r.start();
    for (let round = 0; round < 8; round++) {
      await runChecked(w.clock, rs, 3_000);
      const leader = rs.find((r) => r.elector.isLeader())!;
      if (round % 3 === 2) {
        await leader.elector.resign({ cooldownMs: 0 }); // a resign, then maybe the same replica again
      } else {
        down.clear();
        down.add(leader.id); // partition the leader: someone else takes over after expiry
      }
      // Wait for the next term: another replica's (after a partition), anyone's (after a resign).
      const end = w.clock.now() + 60_000;
      while (w.clock.now() < end && !rs.some((r) => r.elector.isLeader() && (r !== leader || round % 3 === 2))) {
        await runChecked(w.clock, rs, 100);
      }
      down.clear();
    }
    const terms = rs.flatMap((r) => r.log.started.map((s) => ({ at: s.atMs, token: s.term.token, id: r.id }))).sort((x, y) => x.at - y.at);
    expect(terms.length).toBeGreaterThanOrEqual(9);
    for (let i = 1; i < terms.length; i++) expect(terms[i]!.token).toBeGreaterThan(terms[i - 1]!.token);
    expect(new Set(terms.map((t) => t.id)).size).toBeGreaterThan(1);
    for (const r of rs) await r.stop();
  });
});

describe('resign()', () => {
  it('hands leadership to another replica without stopping run()', async () => {
    const { w, rs } = await threeWatching(11);
    const [a] = rs;
    const term = a!.elector.getTerm();
    expect(term?.token).toBe(1);
    const resigned = a!.elector.resign();
    expect(await w.clock.advanceUntil(() => leaders(rs.slice(1)).length === 1, 2_000, 1)).toBe(true);
    await resigned;
    expect(a!.elector.isLeader()).toBe(false);
    expect(a!.log.stopped.map((s) => s.reason)).toEqual(['resigned']);
    expect(a!.log.started[0]!.signal.aborted).toBe(true);
    // Still running as a follower: it takes over again when the new leader goes away.
    const next = rs.find((r) => r.elector.isLeader())!;
    await runChecked(w.clock, rs, 20_000);
    next.controller.abort();
    await next.done;
    expect(await w.clock.advanceUntil(() => leaders(rs).length === 1, 5_000, 1)).toBe(true);
    for (const r of rs) await r.stop();
  });

  it('does nothing when not leading', async () => {
    const w = world();
    const a = w.replica('a');
    await expect(a.elector.resign()).resolves.toBeUndefined();
    await expect(a.elector.resign({ cooldownMs: -1 })).rejects.toMatchObject({ code: 'OPTION_INVALID' });
  });
});

describe('a deleted Lease', () => {
  it('is not recreated by a follower whose stale observation merely looks expired while the leader lives', async () => {
    const w = world(12);
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a');
    const inner = w.replica('b-inner');
    // b's watch opens and then says nothing: its only observation is the one from its first GET.
    const b = w.replica('b', {
      config: { followerStrategy: 'watch' },
      leaseClient: withWatch(inner.client, (_ns, _name, options) => {
        options.onOpen?.();
        return new Promise((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
      }),
    });
    a.start();
    await w.clock.advance(0);
    b.start();
    await runChecked(w.clock, [a, b], 14_900, 10);
    // Just before b's safety poll, someone deletes the Lease. a recreates it on its next renewal.
    w.store.delete(NS, LEASE);
    await runChecked(w.clock, [a, b], 30_000, 10);
    expect(leaders([a, b])).toEqual(['a']);
    expect(b.log.started).toHaveLength(0);
    await a.stop();
    await b.stop();
  });

  it('is created by a follower once it has been missing for a lease duration', async () => {
    const w = world(13);
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'gone', leaseDurationSeconds: 15 } });
    const b = w.replica('b');
    b.start();
    await w.clock.advance(1_000);
    w.store.delete(NS, LEASE);
    const deletedAt = w.clock.now();
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 40_000)).toBe(true);
    expect(w.clock.now() - deletedAt).toBeGreaterThanOrEqual(15_000);
    await b.stop();
  });
});

describe('late answers', () => {
  it('starts no term from an acquiring write whose answer is handled after its guarantee ran out', async () => {
    const w = world(14);
    w.store.create(NS, { metadata: { name: LEASE } });
    const pausable = new PausableClock(w.clock);
    let pauseOnWrite = true;
    const a = w.replica('a', {
      config: { clock: pausable },
      leaseClient: {
        get: async (ns, name) => w.store.get(ns, name),
        create: async (ns, lease) => w.store.create(ns, lease),
        // The first write commits, then a's process stops for 20 s before it handles the answer.
        update: async (ns, lease) => {
          const written = w.store.update(ns, lease.metadata!.name!, lease).lease;
          if (pauseOnWrite) {
            pauseOnWrite = false;
            pausable.paused = true;
            w.clock.setTimeout(() => void pausable.resumeSettling(), 20_000);
            await new Promise<void>((resolve) => pausable.setTimeout(resolve, 1));
          }
          return written;
        },
      },
    });
    const b = w.replica('b');
    a.start();
    await w.clock.advance(0);
    b.start();
    await runChecked(w.clock, [a, b], 40_000, 10);
    expect(b.log.started.length).toBeGreaterThanOrEqual(1); // b took the expired lease meanwhile
    // Every term began while its replica really led, and tokens increase in start order.
    const terms = [a, b].flatMap((r) => r.log.started).sort((x, y) => x.atMs - y.atMs);
    for (const term of terms) expect(term.isLeaderInside).toBe(true);
    for (let i = 1; i < terms.length; i++) expect(terms[i]!.term.token).toBeGreaterThan(terms[i - 1]!.term.token);
    await a.stop();
    await b.stop();
  });
});
