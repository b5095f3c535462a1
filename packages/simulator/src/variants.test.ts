import { beforeAll, describe, expect, it } from '@jest/globals';
import { CI_SWEEP, SWEEP_TIMEOUT_MS } from './__tests__/ci-sweep.js';
import { runInChild } from './__tests__/child.js';
import type { SweepOptions } from './sweep.js';
import { UNSAFE_VARIANTS, type VariantName } from './variants.js';

/** Runs a sweep in a child process; returns its results. */
async function sweep(options: Omit<SweepOptions, 'factory' | 'onResult'>) {
  return (await runInChild({ mode: 'sweep', options })).results;
}

/** The CI sweep with each variant, started together (each in its own process). */
const variantSweeps = new Map<VariantName, ReturnType<typeof sweep>>();
beforeAll(() => {
  for (const variant of UNSAFE_VARIANTS) {
    const running = sweep({ ...CI_SWEEP, variant });
    running.catch(() => undefined); // awaited (and reported) by the variant's own test
    variantSweeps.set(variant, running);
  }
});

/** The CI sweep's violations for a variant (late starts, a fixed elector bug, are tagged and left out). */
async function ownViolations(variant: VariantName): Promise<{ invariant: string; seed: number }[]> {
  const results = await variantSweeps.get(variant)!;
  return results.flatMap((r) => r.violations.filter((v) => !v.lateStart).map((v) => ({ invariant: v.invariant, seed: r.seed })));
}

describe('unsafe variants are caught by the CI sweep', () => {
  it('lists the three variants the issue asks for', () => {
    expect([...UNSAFE_VARIANTS].sort()).toEqual(['ignores-renew-deadline', 'releases-without-check', 'trusts-server-renew-time']);
  });

  it(
    'catches an elector that ignores the renew deadline (two leaders while its renewals fail)',
    async () => {
      const violations = await ownViolations('ignores-renew-deadline');
      expect(violations.filter((v) => v.invariant === 'S1').length).toBeGreaterThan(0);
      expect(violations.filter((v) => v.invariant === 'S2').length).toBeGreaterThan(0);
    },
    SWEEP_TIMEOUT_MS,
  );

  it(
    "catches an elector that trusts the server's renewTime against its own skewed wall clock",
    async () => {
      const violations = await ownViolations('trusts-server-renew-time');
      expect(violations.filter((v) => v.invariant === 'S1').length).toBeGreaterThan(0);
    },
    SWEEP_TIMEOUT_MS,
  );

  it(
    'catches an elector that releases the lease without checking it still holds it',
    async () => {
      const violations = await ownViolations('releases-without-check');
      expect(violations.filter((v) => v.invariant === 'S1' || v.invariant === 'S2').length).toBeGreaterThan(0);
    },
    SWEEP_TIMEOUT_MS,
  );
});

describe('outside-actor actions excluded from the guarantee, and why', () => {
  // No lease protocol can defend against these: the Lease is the only shared state, and these
  // writes forge it. They are off by default; this shows they do break the invariants.
  it.each(['forge-live-holder', 'force-release'] as const)(
    '%s breaks "at most one leader" even with the real elector',
    async (outsideActor) => {
      const results = await sweep({ firstSeed: 1, seeds: 20, minutes: 3, outsideActor, rates: { 'actor-rewrite-holder': 2 } });
      const own = results.flatMap((r) => r.violations.filter((v) => !v.lateStart));
      expect(own.filter((v) => v.invariant === 'S1').length).toBeGreaterThan(0);
    },
    SWEEP_TIMEOUT_MS,
  );

  it(
    'rewriting the holder to an identity no replica has, and deleting the Lease, break nothing',
    async () => {
      const results = await sweep({ firstSeed: 1, seeds: 20, minutes: 3, rates: { 'actor-rewrite-holder': 2, 'actor-delete-lease': 2 } });
      const injected = results.reduce((n, r) => n + r.faults['actor-rewrite-holder'] + r.faults['actor-delete-lease'], 0);
      expect(injected).toBeGreaterThan(100);
      expect(results.flatMap((r) => r.violations.filter((v) => !v.lateStart))).toEqual([]);
    },
    SWEEP_TIMEOUT_MS,
  );
});
