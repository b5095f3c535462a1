import { describe, expect, it } from '@jest/globals';
import { countLeadership, type LeaderTerm } from './leadership.js';

const term = (identity: string, startAt: number, endAt?: number): LeaderTerm => ({ identity, startAt, endAt });

describe('countLeadership (the demo\'s and the bench\'s rollout scenes)', () => {
  it('counts one change and its gap for a single handover inside the window', () => {
    const terms = [term('old-1', 0, 1000), term('new-1', 1004)];
    expect(countLeadership(terms, 500, 3000)).toEqual({ changes: 1, leaderlessMs: 4, leaders: ['old-1', 'new-1'] });
  });

  it('counts every move and adds up every gap when leadership hops across the old replicas', () => {
    const terms = [term('old-1', 0, 1000), term('old-2', 1020, 2000), term('old-3', 2030, 3000), term('new-3', 3050)];
    expect(countLeadership(terms, 500, 4000)).toEqual({ changes: 3, leaderlessMs: 20 + 30 + 50, leaders: ['old-1', 'old-2', 'old-3', 'new-3'] });
  });

  it('leaves out terms that ended before the window and does not count the term open at its start as a change', () => {
    const terms = [term('a', 0, 100), term('b', 150)];
    expect(countLeadership(terms, 200, 900)).toEqual({ changes: 0, leaderlessMs: 0, leaders: ['b'] });
  });

  it('counts leaderless time at the window edges and a term that began and ended inside it', () => {
    // Nobody leads from 100 to 300, c leads 300-400, nobody again until 700, d until the end.
    const terms = [term('b', 0, 100), term('c', 300, 400), term('d', 700)];
    expect(countLeadership(terms, 50, 1000)).toEqual({ changes: 2, leaderlessMs: 200 + 300, leaders: ['b', 'c', 'd'] });
  });

  it('counts the whole window as leaderless when nobody led in it', () => {
    expect(countLeadership([], 10, 60)).toEqual({ changes: 0, leaderlessMs: 50, leaders: [] });
  });

  it('counts every move and adds up every gap', () => {
    const terms = [term('old-1', 0, 1000), term('old-2', 1020, 2000), term('new-1', 2050)];
    expect(countLeadership(terms, 500, 3000)).toEqual({ changes: 2, leaderlessMs: 20 + 50, leaders: ['old-1', 'old-2', 'new-1'] });
  });

  it('leaves out terms outside the window and counts leaderless time at its edges', () => {
    const terms = [term('a', 0, 100), term('b', 300, 400), term('c', 2000)];
    expect(countLeadership(terms, 200, 900)).toEqual({ changes: 1, leaderlessMs: 100 + 500, leaders: ['b'] });
  });
});
