/**
 * Summary statistics for latency samples. Percentiles use the nearest-rank method (the smallest
 * sample with at least p% of the samples at or below it), so every reported figure is a value
 * that was actually measured, and p95 of 20 samples is the 19th smallest.
 */

/** p50, p95 and the sample count, the shape the JSON report asks for, plus extremes and mean. */
export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly n: number;
  readonly min: number;
  readonly max: number;
  readonly mean: number;
}

/** The nearest-rank percentile `p` (0-100] of `samples`; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** Summarises samples; every figure is NaN (and n 0) when there are none. */
export function summarize(samples: readonly number[]): LatencySummary {
  const n = samples.length;
  return {
    p50: percentile(samples, 50),
    p95: percentile(samples, 95),
    n,
    min: n === 0 ? Number.NaN : Math.min(...samples),
    max: n === 0 ? Number.NaN : Math.max(...samples),
    mean: n === 0 ? Number.NaN : samples.reduce((a, b) => a + b, 0) / n,
  };
}

/** Rounds to `digits` decimals (for reports: a tenth of a millisecond is plenty). */
export function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
