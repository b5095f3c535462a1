import { describe, expect, it } from '@jest/globals';
import { ShardTracker, heldCounts, isBalanced } from './shard-tracker.js';

describe('isBalanced', () => {
  it('accepts floor or ceil of N/M shards on every live replica, every shard held', () => {
    // 7 shards over 3 replicas: 2 or 3 each.
    expect(isBalanced(['a', 'a', 'a', 'b', 'b', 'c', 'c'], ['a', 'b', 'c'])).toBe(true);
    expect(isBalanced(['a', 'a', 'a', 'a', 'b', 'b', 'c'], ['a', 'b', 'c'])).toBe(false);
  });

  it('refuses a set with a free shard, or a shard still named for a replica that is gone', () => {
    expect(isBalanced(['a', 'a', 'b', 'b', ''], ['a', 'b'])).toBe(false);
    // The crashed replica's record stays until someone takes it: not balanced yet.
    expect(isBalanced(['a', 'a', 'b', 'b', 'dead'], ['a', 'b'])).toBe(false);
  });

  it('refuses a live replica holding nothing when its share is at least one', () => {
    expect(isBalanced(['a', 'a', 'b', 'b'], ['a', 'b', 'joiner'])).toBe(false);
    expect(heldCounts(['a', 'a', 'b', 'b'], ['a', 'b', 'joiner'])).toEqual(new Map([['a', 2], ['b', 2], ['joiner', 0]]));
  });

  it('is never true without a live replica', () => {
    expect(isBalanced(['', ''], [])).toBe(false);
  });
});

describe('ShardTracker', () => {
  it('counts a first holder as an acquisition and a change of holder as one move, a release in between or not', () => {
    const t = new ShardTracker(2);
    t.observe(0, 'a', 1);
    t.observe(1, 'a', 1);
    t.observe(0, 'b', 2); // directed handover: one write
    t.observe(1, '', 3); // release ...
    t.observe(1, 'c', 4); // ... then taken: still one move
    expect(t.acquisitionsSince(0)).toBe(2);
    expect(t.movesSince(0).map((m) => [m.shard, m.from, m.to])).toEqual([
      [0, 'a', 'b'],
      [1, 'a', 'c'],
    ]);
    expect(t.movesSince(3).map((m) => m.shard)).toEqual([1]);
    expect(t.holders).toEqual(['b', 'c']);
  });

  it('does not count a renewal, or a holder taking its own shard back, as a move', () => {
    const t = new ShardTracker(1);
    t.observe(0, 'a', 1);
    t.observe(0, 'a', 2); // renewal
    t.observe(0, '', 3); // released ...
    t.observe(0, 'a', 4); // ... and taken again by the same replica
    expect(t.movesSince(0)).toEqual([]);
    expect(t.acquisitionsSince(0)).toBe(1);
  });
});
