/** The sweep the test suite runs on every CI build: sized to finish well under a minute. */
export const CI_SWEEP = { firstSeed: 1, seeds: 200, minutes: 2 } as const;

/** Generous per-test timeout for sweeps (they are measured, never asserted, for speed). */
export const SWEEP_TIMEOUT_MS = 180_000;
