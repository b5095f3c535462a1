import { describe, expect, it } from '@jest/globals';
import { BUDGET_WINDOW_RETRY_PERIODS, SlidingWindow, clientGoBudget } from './budget.js';

describe("client-go's request budget", () => {
  it('allows 11 tries of 3 requests plus 8 for transitions, and 26 watch opens, per 10 retry periods', () => {
    const budget = clientGoBudget(800, 0.01);
    expect(budget.windowMs).toBe(BUDGET_WINDOW_RETRY_PERIODS * 800);
    expect(budget.maxApiRequests).toBe(41);
    expect(budget.maxWatchOpens).toBe(26);
  });

  it('is the same for every retry period (the window scales with it)', () => {
    expect(clientGoBudget(300, 0.01).maxApiRequests).toBe(clientGoBudget(2000, 0.01).maxApiRequests);
  });
});

describe('SlidingWindow', () => {
  it('counts the events of the last window only, and remembers the peak', () => {
    const w = new SlidingWindow(1000);
    expect([0, 100, 200].map((t) => w.add(t))).toEqual([1, 2, 3]);
    expect(w.add(1050)).toBe(3); // 0 dropped: (50, 1050]
    expect(w.add(2300)).toBe(1);
    expect(w.peak).toBe(3);
  });

  it('keeps counting correctly over many events', () => {
    const w = new SlidingWindow(100);
    let last = 0;
    for (let t = 0; t < 100_000; t += 10) last = w.add(t);
    expect(last).toBe(10);
    expect(w.peak).toBe(10);
  });
});
