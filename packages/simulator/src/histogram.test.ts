import { describe, expect, it } from '@jest/globals';
import { addSample, maxSample, mergeHistograms, percentile, sampleCount, type Histogram } from './histogram.js';

describe('histograms of requests per replica-minute', () => {
  it('give the median and the maximum', () => {
    const h: Histogram = {};
    for (const v of [40, 45, 45, 50, 120]) addSample(h, v);
    expect(percentile(h, 0.5)).toBe(45);
    expect(maxSample(h)).toBe(120);
    expect(sampleCount(h)).toBe(5);
  });

  it('merge by summing, so worker results add up exactly', () => {
    const a: Histogram = {};
    const b: Histogram = {};
    addSample(a, 10);
    addSample(b, 10);
    addSample(b, 30);
    const merged = mergeHistograms(a, b);
    expect(merged).toEqual({ 10: 2, 30: 1 });
    expect(a).toEqual({ 10: 1 });
  });

  it('are 0 when empty', () => {
    expect(percentile({}, 0.5)).toBe(0);
    expect(maxSample({})).toBe(0);
  });
});
