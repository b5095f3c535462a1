import { describe, expect, it } from '@jest/globals';
import { UsageError, parseBenchArgs } from './options.js';

describe('parseBenchArgs', () => {
  it('defaults to the full run the issue asks for', () => {
    const o = parseBenchArgs([]);
    expect(o).toMatchObject({
      smoke: false,
      only: ['handover', 'failover', 'cost', 'scale', 'storm', 'rollout', 'shards'],
      shards: 64,
      shardReplicas: 5,
      shardSteadyMs: 60_000,
      shardTimings: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 },
      rolloutRuns: 3,
      handoverTrials: 20,
      failoverTrials: 10,
      trialTimings: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 500 },
      replicas: 3,
      costDurationMs: 60_000,
      scaleElectors: 1000,
      scaleDurationMs: 60_000,
      stormDurationMs: 10_000,
      stormTimings: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2000 },
      stormKinds: ['500', '503', '403', 'hang'],
      jsonPath: undefined,
    });
  });

  it('shrinks everything for the smoke run', () => {
    const o = parseBenchArgs(['--smoke']);
    expect(o).toMatchObject({ handoverTrials: 3, failoverTrials: 2, costDurationMs: 5000, scaleElectors: 50, scaleDurationMs: 5000, stormDurationMs: 1000, rolloutRuns: 1 });
    expect(o.stormTimings).toEqual({ leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 250 });
  });

  it('lets --trials set both trial counts and the specific flags override it', () => {
    expect(parseBenchArgs(['--trials', '7'])).toMatchObject({ handoverTrials: 7, failoverTrials: 7 });
    expect(parseBenchArgs(['--trials', '7', '--failover-trials', '4'])).toMatchObject({ handoverTrials: 7, failoverTrials: 4 });
  });

  it('runs a subset with --only and refuses an unknown scenario', () => {
    expect(parseBenchArgs(['--only', 'cost,scale']).only).toEqual(['cost', 'scale']);
    expect(() => parseBenchArgs(['--only', 'speed'])).toThrow(UsageError);
  });

  it('takes the retry-storm window, failure kinds and timings from flags', () => {
    const o = parseBenchArgs(['--only', 'storm', '--storm-seconds', '30', '--storm-kinds', '500,hang', '--storm-timings', '4000,3000,1000']);
    expect(o).toMatchObject({ only: ['storm'], stormDurationMs: 30_000, stormKinds: ['500', 'hang'] });
    expect(o.stormTimings).toEqual({ leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 1000 });
  });

  it("refuses an unknown failure kind and timings the elector would refuse", () => {
    expect(() => parseBenchArgs(['--storm-kinds', '500,418'])).toThrow(/--storm-kinds/);
    expect(() => parseBenchArgs(['--storm-timings', '2000,1500'])).toThrow(/--storm-timings/);
    // The renew deadline must be shorter than the lease: the elector's own rule, reported as a usage error.
    expect(() => parseBenchArgs(['--storm-timings', '2000,2000,500'])).toThrow(UsageError);
  });

  it('runs the rollout alone with --only rollout and takes --rollout-runs', () => {
    expect(parseBenchArgs(['--only', 'rollout', '--rollout-runs', '5'])).toMatchObject({ only: ['rollout'], rolloutRuns: 5 });
    expect(() => parseBenchArgs(['--rollout-runs', '0'])).toThrow(/--rollout-runs/);
  });

  it('runs the sharding scenario alone with --only shards and takes its size and window', () => {
    expect(parseBenchArgs(['--only', 'shards', '--shards', '32', '--shard-replicas', '4', '--shard-seconds', '30'])).toMatchObject({
      only: ['shards'], shards: 32, shardReplicas: 4, shardSteadyMs: 30_000,
    });
    expect(parseBenchArgs(['--smoke'])).toMatchObject({ shards: 16, shardReplicas: 3, shardSteadyMs: 2000 });
    // One replica would leave nobody to hand the leaver's shards to (1 + join - crash - leave = 0).
    expect(() => parseBenchArgs(['--shard-replicas', '1'])).toThrow(/--shard-replicas/);
    expect(() => parseBenchArgs(['--shards', '1001'])).toThrow(/--shards/);
  });

  it('refuses counts that are not whole numbers', () => {
    expect(() => parseBenchArgs(['--trials', '0'])).toThrow(/--trials/);
    expect(() => parseBenchArgs(['--scale-seconds', '1.5'])).toThrow(/--scale-seconds/);
  });
});
