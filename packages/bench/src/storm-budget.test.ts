import { describe, expect, it } from '@jest/globals';
import { clientGoBudget, emptyTally, judge } from './storm-budget.js';

describe("client-go's retry budget", () => {
  it('allows one try at once and one per full retry period after it', () => {
    expect(clientGoBudget(10_000, 2000)).toEqual({ tries: 6, total: 12 });
    expect(clientGoBudget(9_999, 2000)).toEqual({ tries: 5, total: 10 });
    expect(clientGoBudget(2_013, 200)).toEqual({ tries: 11, total: 22 });
    expect(clientGoBudget(0, 2000)).toEqual({ tries: 1, total: 2 });
  });

  it('refuses a retry period that is not positive', () => {
    expect(() => clientGoBudget(10_000, 0)).toThrow(RangeError);
  });
});

describe('judging a follower', () => {
  const budget = clientGoBudget(10_000, 2000);

  it('groups verbs into GETs, writes and watches', () => {
    const tally = { ...emptyTally(), get: 3, update: 2, create: 1, watch: 1, list: 1 };
    expect(judge(tally, budget)).toEqual({ gets: 3, writes: 3, watches: 2, total: 8, overBudget: false, reasons: [] });
  });

  it("is within budget at exactly client-go's pace", () => {
    expect(judge({ ...emptyTally(), get: 6, update: 6 }, budget).overBudget).toBe(false);
  });

  it('marks a follower over budget for too many GETs, writes or requests in all, and says which', () => {
    expect(judge({ ...emptyTally(), get: 225, update: 225 }, budget).reasons).toEqual(['GETs 225 > 6', 'writes 225 > 6', 'total 450 > 12']);
    expect(judge({ ...emptyTally(), get: 7, update: 1 }, budget)).toMatchObject({ overBudget: true, reasons: ['GETs 7 > 6'] });
    // At client-go's pace plus watches that keep reconnecting: the total gives it away.
    expect(judge({ ...emptyTally(), get: 6, update: 6, watch: 3 }, budget)).toMatchObject({ overBudget: true, reasons: ['total 15 > 12'] });
  });
});
