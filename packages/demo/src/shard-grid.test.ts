import { describe, expect, it } from '@jest/globals';
import { shardGridLine, shortName } from './shard-grid.js';

describe('the shard grid', () => {
  it('names each shard’s holder by its short name, marks a dead holder and a free shard, and counts the live replicas', () => {
    const line = shardGridLine(['replica-1', 'replica-2', 'replica-3', ''], ['replica-1', 'replica-2'], new Set(['replica-3']));
    expect(line).toBe('0:r1 1:r2 2:r3+ 3:--  | r1 1, r2 1');
  });

  it('says balanced only when every shard has a live holder and every live replica holds floor or ceil of N/M', () => {
    expect(shardGridLine(['replica-1', 'replica-1', 'replica-2'], ['replica-1', 'replica-2'], new Set())).toBe('0:r1 1:r1 2:r2  | r1 2, r2 1  balanced');
    expect(shardGridLine(['replica-1', 'replica-1', 'replica-1'], ['replica-1', 'replica-2'], new Set())).not.toContain('balanced');
  });

  it('shortens only the demo’s replica names', () => {
    expect(shortName('replica-12')).toBe('r12');
    expect(shortName('shard-1')).toBe('shard-1');
  });
});
