import { describe, expect, it } from '@jest/globals';
import { ShardLedger } from './shard-ledger.js';

describe('ShardLedger', () => {
  it('follows a directed handover whichever process’s message arrives first, and counts it as one move', () => {
    const ledger = new ShardLedger(1);
    ledger.acquired('a', 0, 1, 100);
    // b's shard.acquired comes in before a's shard.lost (two processes, two pipes).
    ledger.acquired('b', 0, 2, 130);
    ledger.lost('a', 0, 'handed_over', 110);
    expect(ledger.holders).toEqual(['b']);
    expect(ledger.tracker.movesSince(0).map((m) => [m.from, m.to])).toEqual([['a', 'b']]);
    expect(ledger.overlaps(200)).toEqual([]);
    expect(ledger.unownedGaps()).toEqual([{ shard: 0, from: 110, to: 130, after: 'a handed_over' }]);
  });

  it('finds two terms of one shard open at the same time, by their times', () => {
    const ledger = new ShardLedger(2);
    ledger.acquired('a', 0, 1, 100);
    ledger.acquired('b', 0, 2, 150); // a never said shard.lost before this
    ledger.lost('a', 0, 'renew_failed', 160);
    ledger.acquired('a', 1, 1, 100);
    ledger.lost('a', 1, 'released', 120);
    ledger.acquired('b', 1, 2, 120); // starts exactly when the other ended: no overlap
    const overlaps = ledger.overlaps(1000);
    expect(overlaps.map((o) => [o.shard, o.first.identity, o.second.identity])).toEqual([[0, 'a', 'b']]);
  });

  it('counts a term still open as open until now, and no longer once its shard.lost arrives', () => {
    const ledger = new ShardLedger(1);
    ledger.acquired('a', 0, 1, 100);
    ledger.acquired('b', 0, 2, 150);
    expect(ledger.overlaps(1000)).toHaveLength(1);
    ledger.lost('a', 0, 'renew_failed', 140);
    expect(ledger.overlaps(1000)).toEqual([]);
  });

  it('ends a killed process’s terms at its death, keeps its name on its shards until taken, and measures the gap from the death', () => {
    const ledger = new ShardLedger(3);
    ledger.acquired('a', 0, 1, 10);
    ledger.acquired('a', 2, 1, 10);
    ledger.acquired('b', 1, 1, 10);
    expect(ledger.died('a', 'SIGKILL', 500)).toEqual([0, 2]);
    expect(ledger.holders).toEqual(['a', 'b', 'a']);
    expect(ledger.dead).toEqual(new Set(['a']));
    ledger.acquired('b', 0, 2, 2600);
    expect(ledger.heldBy('b')).toEqual([0, 1]);
    expect(ledger.unownedGaps()).toEqual([{ shard: 0, from: 500, to: 2600, after: 'a SIGKILL' }]);
    expect(ledger.terms.filter((t) => t.identity === 'a').map((t) => [t.endAt, t.endedBy])).toEqual([
      [500, 'SIGKILL'],
      [500, 'SIGKILL'],
    ]);
  });

  it('counts no gap before a shard’s first term and none after its last', () => {
    const ledger = new ShardLedger(1);
    ledger.acquired('a', 0, 1, 100);
    ledger.lost('a', 0, 'released', 200);
    expect(ledger.unownedGaps()).toEqual([]);
    expect(ledger.holders).toEqual(['']);
  });
});
