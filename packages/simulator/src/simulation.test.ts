import { describe, expect, it } from '@jest/globals';
import { runInChild } from './__tests__/child.js';
import { DEFAULT_RATES, FAULT_KINDS } from './faults.js';
import { runSimulation, type SimOptions, type SimResult } from './simulation.js';
import { formatViolation } from './sweep.js';
import { VARIANTS, type ElectorFactory } from './variants.js';

/** One seed, run in a child process (full speed, see __tests__/child.ts). */
async function simulate(options: Omit<SimOptions, 'factory' | 'onTrace'>): Promise<SimResult> {
  const { results } = await runInChild({ mode: 'simulation', options });
  return results[0]!;
}

describe('runSimulation', () => {
  it('replays a seed exactly: same digest, faults, terms and violations', async () => {
    const [first, second] = await Promise.all([simulate({ seed: 7, minutes: 3 }), simulate({ seed: 7, minutes: 3 })]);
    expect(second.digest).toBe(first.digest);
    expect(second.events).toBe(first.events);
    expect(second.faults).toEqual(first.faults);
    expect(second.terms).toBe(first.terms);
    expect(second.leaderMs).toBe(first.leaderMs);
    expect(second.violations).toEqual(first.violations);
    expect(first.events).toBeGreaterThan(20);
  });

  it('runs a different world for a different seed', async () => {
    const [a, b] = await Promise.all([simulate({ seed: 7, minutes: 3 }), simulate({ seed: 8, minutes: 3 })]);
    expect(b.digest).not.toBe(a.digest);
  });

  it('replays a violating seed of an unsafe variant exactly, violations and traces included', async () => {
    const options = { seed: 3, minutes: 3, variant: 'ignores-renew-deadline' } as const;
    const [first, second] = await Promise.all([simulate(options), simulate(options)]);
    expect(first.violations.filter((v) => !v.lateStart).length).toBeGreaterThan(0);
    expect(second.violations).toEqual(first.violations);
    expect(second.digest).toBe(first.digest);
  });

  it('prints a violation with its seed, a replay command and the events that led to it', async () => {
    const result = await simulate({ seed: 3, minutes: 3, variant: 'ignores-renew-deadline' });
    const violation = result.violations[0]!;
    expect(violation.trace.length).toBeGreaterThan(5);
    expect(violation.trace.length).toBeLessThanOrEqual(40);
    expect(violation.trace[violation.trace.length - 1]).toContain(`VIOLATION ${violation.invariant}`);
    const text = formatViolation(3, violation);
    expect(text).toContain(`seed 3: ${violation.invariant} violated at t=`);
    expect(text).toContain('pnpm sim --seed 3 --trace');
    expect(text.split('\n').length).toBe(3 + violation.trace.length);
  });

  it('streams every event to a trace sink, requests and log lines included in verbose mode', async () => {
    const lines: string[] = [];
    const result = await runSimulation({ seed: 11, minutes: 0.5, onTrace: (line) => lines.push(line), verbose: true });
    expect(lines.some((l) => l.includes('seed 11:'))).toBe(true);
    expect(lines.some((l) => / (acquire|renew) (get|update|create) /.test(l))).toBe(true); // requests, verbose only
    expect(lines.length).toBeGreaterThan(result.events);
  });

  it('runs every elector of a leasekit-only fleet with clientGoFollowers: false, and leaves it at its default beside client-go', async () => {
    const seen: { fleet: string; clientGoFollowers: boolean | undefined }[] = [];
    const recording =
      (fleet: string): ElectorFactory =>
      (config, ...rest) => {
        seen.push({ fleet, clientGoFollowers: config.clientGoFollowers });
        return VARIANTS.safe(config, ...rest);
      };
    const only = await runSimulation({ seed: 4, minutes: 0.2, fleet: 'leasekit-only', factory: recording('only') });
    const mixed = await runSimulation({ seed: 4, minutes: 0.2, fleet: 'leasekit-only', clientGo: 'record', factory: recording('mixed') });
    expect(only.leasekitOnly).toBe(true);
    expect(mixed.leasekitOnly).toBe(false);
    expect(seen.filter((s) => s.fleet === 'only').map((s) => s.clientGoFollowers)).toEqual(Array.from({ length: only.replicas }, () => false));
    expect(seen.filter((s) => s.fleet === 'mixed').every((s) => s.clientGoFollowers === undefined)).toBe(true);
  });

  it('draws leases too short for client-go followers only in leasekit-only fleets, and runs them', async () => {
    const [only, mixed] = await Promise.all([
      runInChild({ mode: 'sweep', options: { seeds: 30, minutes: 0.1, fleet: 'leasekit-only', clientGo: 'none' } }),
      runInChild({ mode: 'sweep', options: { seeds: 30, minutes: 0.1, fleet: 'default' } }),
    ]);
    const short = (r: SimResult): boolean => r.timing.leaseDurationMs < 2500;
    expect(only.results.some(short)).toBe(true);
    expect(only.results.every((r) => r.leasekitOnly)).toBe(true);
    expect(mixed.results.some(short)).toBe(false);
    expect(mixed.results.some((r) => r.leasekitOnly)).toBe(false);
  });

  it('counts every kind of fault it injects by name, and only known kinds', async () => {
    const result = await simulate({ seed: 5, minutes: 10 });
    expect(Object.keys(result.faults).sort()).toEqual([...FAULT_KINDS].sort());
    const injected = Object.values(result.faults).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(20);
  });

  it('injects no scheduled fault when every rate is zero, and then has a leader from the first election on', async () => {
    const rates = Object.fromEntries(Object.keys(DEFAULT_RATES).map((kind) => [kind, 0]));
    const result = await simulate({ seed: 9, minutes: 5, rates });
    expect(Object.values(result.faults).every((n) => n === 0)).toBe(true);
    expect(result.violations).toEqual([]);
    expect(result.terms).toBe(1);
    // Only the first election lacks a leader: staggered starts (up to a lease duration of 5 s), and
    // when the Lease does not exist yet, the creator's claim held for 15 s (maxPeerLeaseDurationMs)
    // plus a poll.
    expect(result.availabilityPercent).toBeGreaterThan(100 * (1 - 25_000 / 300_000));
  });
});
