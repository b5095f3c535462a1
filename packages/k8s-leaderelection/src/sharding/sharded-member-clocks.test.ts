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
});
