import { describe, expect, it } from '@jest/globals';
import { SHARD_TIMINGS, backoffBoundMs, balanceBoundMs, memberSilentMs, movesNeeded, shardBudget, unownedBoundMs } from './shard-bounds.js';

const defaults = SHARD_TIMINGS.find((t) => t.leaseDurationMs === 15000)!;

describe('sharded bounds', () => {
  it('gives a crashed holder\'s shard silence (1.5 R), the lease on a slow clock, two try slots and latency: U = 27.2 s at the defaults', () => {
    expect(unownedBoundMs(defaults)).toBeCloseTo(1.5 * 2000 + 15000 / 0.99 + 2 * 2.2 * 2000 + 250, 6);
    expect(Math.round(unownedBoundMs(defaults))).toBe(27202);
  });

  it('counts the surplus one replica may have to hand over: N - floor(N/M), none alone', () => {
    expect([1, 2, 3, 5, 8].map((m) => movesNeeded(8, m))).toEqual([0, 4, 6, 7, 7]);
  });

  it('adds view, settle and one handover interval plus a tick per move: T = 98.5 s for 8 shards over 3 replicas at the defaults', () => {
    expect(memberSilentMs(defaults)).toBe(24000);
    expect(balanceBoundMs(defaults, 8, 3)).toBeCloseTo(unownedBoundMs(defaults) + 24000 + 5000 + 6 * 7000 + 250, 6);
    expect(balanceBoundMs(defaults, 8, 3)).toBeGreaterThan(balanceBoundMs(defaults, 8, 1));
  });

  it('bounds an unbroken back-off by the last failure of a round (L after the first, seen within U) plus the 32 L cap, on a slow clock: 527.2 s at the defaults', () => {
    expect(backoffBoundMs(defaults)).toBeCloseTo((33 * 15000) / 0.99 + unownedBoundMs(defaults), 6);
    expect(SHARD_TIMINGS.map((t) => Math.round(backoffBoundMs(t) / 100) / 10)).toEqual([212.2, 527.2, 142.3]);
  });

  it('budgets each shard as one client-go replica, the membership by its retry period and the set watch by R', () => {
    const b = shardBudget(defaults, 8);
    expect(b.windowMs).toBe(20000);
    expect(b.perShard).toBe(41);
    expect(b.membership).toBe(3 * 11 + 4);
    expect(b.lists).toBe(13);
    expect(b.watchOpens).toBe(13);
    expect(b.total).toBe(8 * 41 + 37 + 13 + 13);
  });

  it('leaves room for a healthy replica leading every shard (a renewal per R each, a refresh, one watch) in every timing', () => {
    for (const t of SHARD_TIMINGS) {
      const b = shardBudget(t, 8);
      const renewalsPerShard = Math.ceil((b.windowMs * 1.01) / t.retryPeriodMs);
      expect(renewalsPerShard).toBeLessThan(b.perShard);
      expect(Math.ceil(b.windowMs / t.membershipRenewIntervalMs) + 1).toBeLessThan(b.membership);
    }
  });
});
