/**
 * Integer histograms that merge by summing (so sweeps split over workers add up exactly), for
 * "requests per replica per minute": each sample is one replica's request count in one virtual
 * minute.
 */

/** value -> how many samples had it (keys are integers as strings: plain JSON). */
export type Histogram = Record<string, number>;

export function addSample(histogram: Histogram, value: number): void {
  const key = String(Math.round(value));
  histogram[key] = (histogram[key] ?? 0) + 1;
}

export function mergeHistograms(a: Histogram, b: Histogram): Histogram {
  const merged: Histogram = { ...a };
  for (const [key, count] of Object.entries(b)) merged[key] = (merged[key] ?? 0) + count;
  return merged;
}

export function sampleCount(histogram: Histogram): number {
  return Object.values(histogram).reduce((sum, n) => sum + n, 0);
}

/** The smallest value v with at least fraction `p` of the samples <= v (0 for no samples). */
export function percentile(histogram: Histogram, p: number): number {
  const entries = Object.entries(histogram)
    .map(([key, count]) => [Number(key), count] as const)
    .sort((x, y) => x[0] - y[0]);
  const total = entries.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return 0;
  const wanted = Math.max(1, Math.ceil(p * total));
  let seen = 0;
  for (const [value, count] of entries) {
    seen += count;
    if (seen >= wanted) return value;
  }
  return entries[entries.length - 1]![0];
}

export function maxSample(histogram: Histogram): number {
  let max = 0;
  for (const [key, count] of Object.entries(histogram)) if (count > 0) max = Math.max(max, Number(key));
  return max;
}
