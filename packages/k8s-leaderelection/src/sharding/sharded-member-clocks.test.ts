import { describe, expect, it } from '@jest/globals';
import { PausableClock } from '../__tests__/pausable-clock.js';
import { MEMBERSHIP_RENEW_MS, shardedWorld, stopWorldsAfterEach, wallSkewed, type ShardWorld } from '../__tests__/sharded-harness.js';

const SHARDS = 4;

const worlds = stopWorldsAfterEach();
/** Replicas over SHARDS shards on one store and one fake clock, checked every 50 ms (replica n draws from seed n). */
const world = (): ShardWorld => worlds.track(shardedWorld({ shards: SHARDS, replicaSeed: (n) => n }));

describe('ShardedElector: wall clocks of different machines', () => {
  it('counts a member that refreshes its membership although its wall clock is behind ours: the surplus is handed over', async () => {
    const w = world();
    // b's wall clock is 5 s ahead of a's: a's membership (6 s, refreshed every 2 s) looks expired
    // on b's wall clock for a second out of every two, although a never misses a refresh.
    const b = w.add('b', { clock: (base) => wallSkewed(base, 5_000) });
    await w.run(15_000);
    expect(b.sharded.heldShards()).toEqual([0, 1, 2, 3]);

    const a = w.add('a');
    // Ten membership refreshes: plenty for settleMs and two rate-limited handovers.
    await w.run(10 * MEMBERSHIP_RENEW_MS);
    expect(b.sharded.snapshot().members).toEqual(['a', 'b']);
    expect(a.sharded.heldShards()).toHaveLength(2);
    expect(b.sharded.heldShards()).toHaveLength(2);
  });

  it("does not count a member that died before this replica started as live for a whole membership duration: its leftover Lease's age counts", async () => {
    const w = world();
    // The dead replica's process: after the crash its timers never fire and its requests never answer.
    const dead = w.add('dead', { clock: (base) => new PausableClock(base) });
    await w.run(15_000);
    expect(dead.sharded.heldShards()).toEqual([0, 1, 2, 3]);
    (dead.clock as PausableClock).paused = true;
    dead.fault = () => ({ kind: 'hang' });
    // Its membership Lease (6 s, refreshed every 2 s) is at least 5.5 s old when c first sees it.
    await w.run(5_500);
    const c = w.add('c');
    await w.run(1_000);
    expect(c.sharded.snapshot().members).toEqual(['c']);
  });
});
