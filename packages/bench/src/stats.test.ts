import { describe, expect, it } from '@jest/globals';
import { percentile, round, summarize } from './stats.js';

describe('stats', () => {
  it('takes nearest-rank percentiles, so every figure is a measured sample', () => {
    const samples = Array.from({ length: 20 }, (_, i) => i + 1); // 1..20
    expect(percentile(samples, 50)).toBe(10);
    expect(percentile(samples, 95)).toBe(19);
    expect(percentile(samples, 100)).toBe(20);
    expect(percentile([7], 95)).toBe(7);
  });

  it('does not depend on the order of the samples', () => {
    expect(percentile([5, 1, 4, 2, 3], 50)).toBe(3);
  });

  it('summarises nothing as NaN with n 0, so a missing figure cannot pass for a measured one', () => {
    const s = summarize([]);
    expect(s.n).toBe(0);
    expect(Number.isNaN(s.p50)).toBe(true);
    expect(Number.isNaN(s.p95)).toBe(true);
  });

  it('reports min, max and mean alongside', () => {
    expect(summarize([1, 2, 6])).toEqual({ p50: 2, p95: 6, n: 3, min: 1, max: 6, mean: 3 });
  });

  it('rounds for reports', () => {
    expect(round(12.345)).toBe(12.3);
    expect(round(12.346, 2)).toBe(12.35);
  });
});
