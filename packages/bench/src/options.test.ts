import { describe, expect, it } from '@jest/globals';
import { UsageError, parseBenchArgs } from './options.js';

describe('parseBenchArgs', () => {
  it('defaults to the full run the issue asks for', () => {
    const o = parseBenchArgs([]);
    expect(o).toMatchObject({
      smoke: false,
      only: ['handover', 'failover', 'cost', 'scale'],
      handoverTrials: 20,
      failoverTrials: 10,
      trialTimings: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 },
      replicas: 3,
      costDurationMs: 60_000,
      scaleElectors: 1000,
      scaleDurationMs: 60_000,
      jsonPath: undefined,
    });
  });

  it('shrinks everything for the smoke run', () => {
    const o = parseBenchArgs(['--smoke']);
    expect(o).toMatchObject({ handoverTrials: 3, failoverTrials: 2, costDurationMs: 5000, scaleElectors: 50, scaleDurationMs: 5000 });
  });

  it('lets --trials set both trial counts and the specific flags override it', () => {
    expect(parseBenchArgs(['--trials', '7'])).toMatchObject({ handoverTrials: 7, failoverTrials: 7 });
    expect(parseBenchArgs(['--trials', '7', '--failover-trials', '4'])).toMatchObject({ handoverTrials: 7, failoverTrials: 4 });
  });

  it('runs a subset with --only and refuses an unknown scenario', () => {
    expect(parseBenchArgs(['--only', 'cost,scale']).only).toEqual(['cost', 'scale']);
    expect(() => parseBenchArgs(['--only', 'speed'])).toThrow(UsageError);
  });

  it('refuses counts that are not whole numbers', () => {
    expect(() => parseBenchArgs(['--trials', '0'])).toThrow(/--trials/);
    expect(() => parseBenchArgs(['--scale-seconds', '1.5'])).toThrow(/--scale-seconds/);
  });
});
