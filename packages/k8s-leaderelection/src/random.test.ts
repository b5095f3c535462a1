import { describe, expect, it } from '@jest/globals';
import { LEASE, NS, world } from './__tests__/harness.js';
import { seededRandom, systemRandom } from './random.js';

function sample(random: () => number, n: number): number[] {
  return Array.from({ length: n }, () => random());
}

describe('seededRandom', () => {
  it('gives the same sequence for the same seed', () => {
    expect(sample(seededRandom(42), 1000)).toEqual(sample(seededRandom(42), 1000));
  });

  it('gives different sequences for different seeds', () => {
    expect(sample(seededRandom(1), 20)).not.toEqual(sample(seededRandom(2), 20));
  });

  it.each([0, 1, 42, 2 ** 32 - 1, -1])('stays in [0, 1) for seed %s', (seed) => {
    const xs = sample(seededRandom(seed), 10_000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });

  it('spreads evenly enough for jitter: every tenth of [0, 1) gets 8-12% of the samples', () => {
    const buckets = new Array<number>(10).fill(0);
    for (const x of sample(seededRandom(7), 20_000)) buckets[Math.floor(x * 10)]!++;
    for (const count of buckets) {
      expect(count).toBeGreaterThan(1600);
      expect(count).toBeLessThan(2400);
    }
  });
});

describe('systemRandom', () => {
  it('stays in [0, 1)', () => {
    const xs = sample(systemRandom, 1000);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
  });
});

describe('jitter of a polling follower', () => {
  it('waits uniformly in [R, 2.2R) between GETs while another replica keeps the lease fresh', async () => {
    const w = world(3);
    w.store.create(NS, { metadata: { name: LEASE } });
    const leader = w.replica('leader');
    leader.start();
    await w.clock.advance(0);
    expect(leader.elector.isLeader()).toBe(true);

    const follower = w.replica('follower', { config: { followerStrategy: 'poll' } });
    follower.start();
    await w.clock.advance(15 * 60_000);

    expect(leader.elector.isLeader()).toBe(true);
    expect(follower.elector.isLeader()).toBe(false);
    expect(follower.elector.getLeader()).toBe('leader');
    const gets = follower.client.calls.filter((c) => c.verb === 'get').map((c) => c.atMs);
    expect(follower.client.verbs().every((v) => v === 'get')).toBe(true);
    const gaps = gets.slice(1).map((at, i) => at - gets[i]!);
    expect(gaps.length).toBeGreaterThan(200);
    expect(gaps.filter((gap) => !(gap >= 2000 && gap < 4400))).toEqual([]);
    // Jittered, not a fixed period: the gaps cover the range.
    expect(Math.min(...gaps)).toBeLessThan(2200);
    expect(Math.max(...gaps)).toBeGreaterThan(4200);
    await follower.stop();
    await leader.stop();
  });

  it.each([
    ['0', 0, 2000],
    ['just under 1', 1 - 2 ** -40, 4400],
  ])('waits R + random x 1.2R at the edges of the range (random %s)', async (_label, value, expectedMs) => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE } });
    const leader = w.replica('leader');
    leader.start();
    await w.clock.advance(0);
    const follower = w.replica('follower', { config: { followerStrategy: 'poll', random: () => value } });
    follower.start();
    await w.clock.advance(60_000);
    const gets = follower.client.calls.map((c) => c.atMs);
    const gaps = gets.slice(1).map((at, i) => at - gets[i]!);
    expect(gaps.length).toBeGreaterThan(10);
    for (const gap of gaps) expect(gap).toBeCloseTo(expectedMs, 3);
    expect(gaps.every((gap) => gap < 4400)).toBe(true);
    await follower.stop();
    await leader.stop();
  });
});
