import { describe, expect, it } from '@jest/globals';
import { DEFAULT_MAX_PEER_FLOOR_MS, effectiveMaxPeer, planRollout, type ReplicaConfig } from './rollout.js';

const SHORT = { leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 600 };
const MID = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 800 };
const LONG = { leaseDurationMs: 12000, renewDeadlineMs: 8000, retryPeriodMs: 2000 };

const fleet = (config: ReplicaConfig, n = 3): ReplicaConfig[] => Array.from({ length: n }, () => config);

describe('rollout plans', () => {
  it('defaults maxPeerLeaseDurationMs to the longer of the lease duration and 15 s', () => {
    expect(effectiveMaxPeer({ timing: SHORT, maxPeerLeaseDurationMs: undefined })).toBe(DEFAULT_MAX_PEER_FLOOR_MS);
    expect(effectiveMaxPeer({ timing: SHORT, maxPeerLeaseDurationMs: 4000 })).toBe(4000);
  });

  it('shortening with an explicit setting: the new replicas wait for the old, longer duration', () => {
    const steps = planRollout(fleet({ timing: LONG, maxPeerLeaseDurationMs: undefined }), SHORT, true, [2, 0, 1]);
    expect(steps.map((s) => s.slot)).toEqual([2, 0, 1]);
    expect(steps.every((s) => s.phase === 'duration' && s.config.timing === SHORT && s.config.maxPeerLeaseDurationMs === LONG.leaseDurationMs)).toBe(true);
  });

  it('between durations both under 15 s, the default covers both: nothing is set', () => {
    const steps = planRollout(fleet({ timing: MID, maxPeerLeaseDurationMs: undefined }), LONG, false, [0, 1, 2]);
    expect(steps.map((s) => s.config.maxPeerLeaseDurationMs)).toEqual([undefined, undefined, undefined]);
  });

  it('lengthening past what old replicas were told: first restarts them with a setting that covers it', () => {
    const steps = planRollout(fleet({ timing: SHORT, maxPeerLeaseDurationMs: MID.leaseDurationMs }), LONG, true, [1, 0, 2]);
    expect(steps.map((s) => `${s.phase}:${s.slot}`)).toEqual(['cover:1', 'cover:0', 'cover:2', 'duration:1', 'duration:0', 'duration:2']);
    for (const step of steps) expect(effectiveMaxPeer(step.config)).toBeGreaterThanOrEqual(LONG.leaseDurationMs);
    expect(steps[0]!.config.timing).toBe(SHORT);
  });

  it('refuses a default-setting rollout beyond the 15 s default', () => {
    expect(() => planRollout(fleet({ timing: SHORT, maxPeerLeaseDurationMs: undefined }), { ...LONG, leaseDurationMs: 20_000 }, false, [0])).toThrow(RangeError);
  });
});
