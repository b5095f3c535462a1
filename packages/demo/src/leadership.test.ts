import { describe, expect, it } from '@jest/globals';
import { countLeadership, type LeaderTerm } from './leadership.js';

const term = (identity: string, startAt: number, endAt?: number): LeaderTerm => ({ identity, startAt, endAt });

describe('countLeadership', () => {
  it('counts every move and adds up every gap', () => {
    const terms = [term('old-1', 0, 1000), term('old-2', 1020, 2000), term('new-1', 2050)];
    expect(countLeadership(terms, 500, 3000)).toEqual({ changes: 2, leaderlessMs: 20 + 50, leaders: ['old-1', 'old-2', 'new-1'] });
  });

  it('leaves out terms outside the window and counts leaderless time at its edges', () => {
    const terms = [term('a', 0, 100), term('b', 300, 400), term('c', 2000)];
    expect(countLeadership(terms, 200, 900)).toEqual({ changes: 1, leaderlessMs: 100 + 500, leaders: ['b'] });
  });
});
