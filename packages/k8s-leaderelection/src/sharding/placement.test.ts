import { describe, expect, it } from '@jest/globals';
import { seededRandom } from '../random.js';
import { fairShare, plan, plannedMoves, rendezvousScore } from './placement.js';

function countsOf(owners: readonly (string | undefined)[], members: readonly string[]): number[] {
  return members.map((m) => owners.filter((o) => o === m).length);
}

function isFair(counts: number[], shards: number): boolean {
  const { floor, ceil } = fairShare(shards, counts.length);
  return counts.every((c) => c === floor || c === ceil) && counts.reduce((a, b) => a + b, 0) === shards;
}

/** The least number of shards any fair placement must move from `holders` (see plan's doc). */
function minimumMoves(shards: number, members: string[], holders: string[]): number {
  const { floor, ceil } = fairShare(shards, members.length);
  const held = members.map((m) => holders.filter((h) => h === m).length).sort((a, b) => b - a);
  const extra = shards % members.length;
  const surplus = held.reduce((sum, c, i) => sum + Math.max(0, c - (i < extra ? ceil : floor)), 0);
  const free = holders.filter((h) => !members.includes(h)).length;
  return surplus + free;
}

describe('rendezvous placement', () => {
  it('scores (identity, shard) stably: the same inputs always give the same 48-bit score', () => {
    expect(rendezvousScore('pod-a', 3)).toBe(rendezvousScore('pod-a', 3));
    expect(rendezvousScore('pod-a', 3)).not.toBe(rendezvousScore('pod-a', 4));
    expect(rendezvousScore('pod-a', 3)).not.toBe(rendezvousScore('pod-b', 3));
    expect(rendezvousScore('pod-a', 3)).toBeLessThan(2 ** 48);
    // Pinned: a change of the hash would reshuffle every running set on upgrade.
    expect(rendezvousScore('pod-a', 0)).toBe(39557268379979);
  });

  it('places N free shards fairly over M members, each where it scores highest among members with room', () => {
    const members = ['a', 'b', 'c'];
    const owners = plan(10, members, new Array<string>(10).fill(''));
    expect(isFair(countsOf(owners, members), 10)).toBe(true);
    expect(owners.every((o) => o !== undefined)).toBe(true);
    // A free shard goes to the member with room that scores it highest (rendezvous).
    const winners = new Set<string>();
    for (let k = 0; k < 20; k++) {
      const pair = [`x${k}`, `y${k}`];
      const best = [...pair].sort((p, q) => rendezvousScore(q, 0) - rendezvousScore(p, 0))[0]!;
      expect(plan(2, pair, ['', ''])[0]).toBe(best);
      winners.add(best[0]!);
    }
    expect(winners.size).toBeGreaterThan(1); // not simply the first or the smallest identity
  });

  it('plans no move for a balanced set, whatever the scores prefer (hysteresis)', () => {
    const members = ['a', 'b', 'c', 'd'];
    const holders = ['d', 'd', 'd', 'c', 'c', 'c', 'b', 'b', 'b', 'a', 'a', 'a', 'a'];
    expect(plannedMoves(holders, plan(13, members, holders))).toEqual([]);
  });

  it('on a join moves exactly the joiner\'s share, and only from members above their quota', () => {
    const members = ['a', 'b', 'c'];
    const holders = plan(12, members, new Array<string>(12).fill('')) as string[];
    const joined = [...members, 'd'];
    const owners = plan(12, joined, holders);
    const moves = plannedMoves(holders, owners);
    expect(moves).toHaveLength(3);
    expect(moves.every((s) => owners[s] === 'd')).toBe(true);
    expect(countsOf(owners, joined)).toEqual([3, 3, 3, 3]);
  });

  it("on a leave moves only the leaver's shards", () => {
    const members = ['a', 'b', 'c', 'd'];
    const holders = plan(12, members, new Array<string>(12).fill('')) as string[];
    const owners = plan(12, ['a', 'b', 'd'], holders);
    const moves = plannedMoves(holders, owners);
    expect(moves.sort()).toEqual(holders.flatMap((h, s) => (h === 'c' ? [s] : [])).sort());
    expect(isFair(countsOf(owners, ['a', 'b', 'd']), 12)).toBe(true);
  });

  it('for random holdings always reaches a fair share with the fewest moves (200 seeds)', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const random = seededRandom(seed);
      const shards = 1 + Math.floor(random() * 40);
      const members = Array.from({ length: 1 + Math.floor(random() * 7) }, (_, i) => `m${i}`);
      const everyone = [...members, 'gone', ''];
      const holders = Array.from({ length: shards }, () => everyone[Math.floor(random() * everyone.length)]!);
      const owners = plan(shards, members, holders);
      expect(isFair(countsOf(owners, members), shards)).toBe(true);
      expect(plannedMoves(holders, owners)).toHaveLength(minimumMoves(shards, members, holders));
      // Deterministic: every replica computes the same plan from the same view.
      expect(plan(shards, [...members].reverse(), holders)).toEqual(owners);
    }
  });

  it('plans nothing without members', () => {
    expect(plan(3, [], ['a', '', 'b'])).toEqual([undefined, undefined, undefined]);
  });
});
