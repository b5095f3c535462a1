import { describe, expect, it } from '@jest/globals';
import type { Clock } from '../clock.js';
import { silentLogger } from '../logger.js';
import { seededRandom } from '../random.js';
import { FakeClock } from '../testing/fake-clock.js';
import { LeaseStore } from '../testing/lease-store.js';
import { MemoryLeaseClient } from '../testing/memory-lease-client.js';
import { ShardedElector, type ShardedElectorConfig } from './sharded-elector.js';

const SHARDS = 4;
const MEMBERSHIP_MS = 6_000;
const MEMBERSHIP_RENEW_MS = 2_000;
const TIMINGS: Omit<ShardedElectorConfig, 'identity' | 'setName' | 'namespace' | 'shards' | 'clock' | 'random'> = {
  elector: { leaseDurationMs: 6_000, renewDeadlineMs: 4_000, retryPeriodMs: 1_000, maxPeerLeaseDurationMs: 6_000, clientGoFollowers: false },
  membership: { durationMs: MEMBERSHIP_MS, renewIntervalMs: MEMBERSHIP_RENEW_MS, retryPeriodMs: 1_000, requestTimeoutMs: 4_000 },
  handoverIntervalMs: 1_000,
  settleMs: 2_000,
};

/** The same oscillator as `base`, with a wall clock `skewMs` ahead (another machine's wall time). */
function wallSkewed(base: FakeClock, skewMs: number): Clock {
  return {
    now: () => base.now(),
    wallNow: () => base.wallNow() + skewMs,
    setTimeout: (callback, delayMs) => base.setTimeout(callback, delayMs),
    clearTimeout: (handle) => base.clearTimeout(handle),
  };
}

describe('ShardedElector: wall clocks of different machines', () => {
  it('counts a member that refreshes its membership although its wall clock is behind ours: the surplus is handed over', async () => {
    const clock = new FakeClock({ startWallMs: Date.UTC(2025, 0, 1) });
    const store = new LeaseStore({ clock });
    // b's wall clock is 5 s ahead of a's: a's membership (6 s, refreshed every 2 s) looks expired
    // on b's wall clock for a second out of every two, although a never misses a refresh.
    const replicas = [
      { id: 'b', clock: wallSkewed(clock, 5_000), seed: 1 },
      { id: 'a', clock: clock as Clock, seed: 2 },
    ].map(({ id, clock: own, seed }) => {
      const sharded = new ShardedElector(
        { identity: id, setName: 'work', namespace: 'default', shards: SHARDS, clock: own, random: seededRandom(seed), ...TIMINGS },
        new MemoryLeaseClient(store, { clock }),
        {},
        silentLogger,
      );
      const stop = new AbortController();
      return { sharded, stop, done: undefined as Promise<void> | undefined };
    });
    const [b, a] = replicas as [(typeof replicas)[0], (typeof replicas)[0]];
    const advance = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 50) await clock.advance(50);
    };

    b.done = b.sharded.run(b.stop.signal);
    await advance(15_000);
    expect(b.sharded.heldShards()).toEqual([0, 1, 2, 3]);

    a.done = a.sharded.run(a.stop.signal);
    // Ten membership refreshes: plenty for settleMs and two rate-limited handovers.
    await advance(10 * MEMBERSHIP_RENEW_MS);
    expect(b.sharded.snapshot().members).toEqual(['a', 'b']);
    expect(a.sharded.heldShards()).toHaveLength(2);
    expect(b.sharded.heldShards()).toHaveLength(2);

    for (const r of replicas) r.stop.abort();
    let finished = false;
    const all = Promise.all(replicas.map((r) => r.done)).then(() => (finished = true));
    for (let i = 0; i < 400 && !finished; i++) await clock.advance(50);
    await all;
  });

  it("does not count a member that died before this replica started as live for a whole membership duration: its leftover Lease's age counts", async () => {
    const clock = new FakeClock({ startWallMs: Date.UTC(2025, 0, 1) });
    const store = new LeaseStore({ clock });
    let crashed = false;
    // The dead replica's process: after the crash its timers never fire and its requests never answer.
    const deadClock: Clock = {
      now: () => clock.now(),
      wallNow: () => clock.wallNow(),
      setTimeout: (callback, delayMs) => clock.setTimeout(() => void (crashed || callback()), delayMs),
      clearTimeout: (handle) => clock.clearTimeout(handle),
    };
    const start = (id: string, own: Clock, client: MemoryLeaseClient, seed: number): { sharded: ShardedElector; stop: AbortController; done: Promise<void> } => {
      const sharded = new ShardedElector({ identity: id, setName: 'work', namespace: 'default', shards: SHARDS, clock: own, random: seededRandom(seed), ...TIMINGS }, client, {}, silentLogger);
      const stop = new AbortController();
      return { sharded, stop, done: sharded.run(stop.signal) };
    };
    const advance = async (ms: number): Promise<void> => {
      for (let t = 0; t < ms; t += 50) await clock.advance(50);
    };

    const dead = start('dead', deadClock, new MemoryLeaseClient(store, { clock, fault: () => (crashed ? { kind: 'hang' } : undefined) }), 1);
    await advance(15_000);
    expect(dead.sharded.heldShards()).toEqual([0, 1, 2, 3]);
    crashed = true;
    // Its membership Lease (6 s, refreshed every 2 s) is at least 5.5 s old when c first sees it.
    await advance(5_500);
    const c = start('c', clock, new MemoryLeaseClient(store, { clock }), 2);
    await advance(1_000);
    expect(c.sharded.snapshot().members).toEqual(['c']);

    c.stop.abort();
    dead.stop.abort();
    crashed = false;
    let finished = false;
    const all = Promise.all([c.done, dead.done]).then(() => (finished = true));
    for (let i = 0; i < 400 && !finished; i++) await clock.advance(50);
    await all;
  });
});
