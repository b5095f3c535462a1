import { describe, expect, it } from '@jest/globals';
import { FollowerSchedule, MAX_RETRY_AFTER_MS, failureBackoffMs, type ScheduleConfig } from './schedule.js';
import { FakeClock } from './testing/fake-clock.js';

const R = 2_000;
const D = 15_000;

/** A random source that returns `values` in turn (the last one forever), counting its draws. */
function scripted(...values: number[]): { random: () => number; draws: () => number } {
  let i = 0;
  return { random: () => values[Math.min(i++, values.length - 1)]!, draws: () => i };
}

function setup(values: number[] = [0.5], overrides: Partial<ScheduleConfig> = {}) {
  const clock = new FakeClock();
  const source = scripted(...values);
  const config: ScheduleConfig = { retryPeriodMs: R, leaseDurationMs: D, random: source.random, ...overrides };
  const schedule = new FollowerSchedule({ clock, config });
  return { clock, config, schedule, draws: source.draws };
}

describe('failureBackoffMs', () => {
  const config = (u: number, leaseDurationMs = D): ScheduleConfig => ({ retryPeriodMs: R, leaseDurationMs, random: () => u });

  it("waits client-go's jittered [R, 2.2R) after the first failure", () => {
    expect(failureBackoffMs(config(0), 1)).toBe(R);
    expect(failureBackoffMs(config(0.5), 1)).toBeCloseTo(1.6 * R);
    expect(failureBackoffMs(config(0.999999), 1)).toBeLessThan(2.2 * R);
  });

  it('doubles for each further failure up to 4R before jitter', () => {
    expect([1, 2, 3, 4, 10, 1000].map((n) => failureBackoffMs(config(0, 60_000), n))).toEqual([R, 2 * R, 4 * R, 4 * R, 4 * R, 4 * R]);
  });

  it('caps the backoff at half the lease duration, but never below R', () => {
    expect(failureBackoffMs(config(0, 6_000), 5)).toBe(3_000);
    expect(failureBackoffMs(config(0, 3_000), 5)).toBe(R);
  });
});

describe('FollowerSchedule', () => {
  it("makes a polling follower wait client-go's jittered [R, 2.2R), one random draw per wait", () => {
    const { schedule, draws } = setup([0, 0.5]);
    expect(schedule.delayMs(undefined, undefined)).toBe(R);
    expect(schedule.delayMs(undefined, undefined)).toBeCloseTo(1.6 * R);
    expect(draws()).toBe(2);
  });

  it('makes a watching follower try 1 ms after the observed lease expires, at most a lease duration away', async () => {
    const { clock, schedule, draws } = setup();
    await clock.advance(1_000);
    expect(schedule.delayMs({ free: false, expiresAtMs: 5_000 }, undefined)).toBe(4_001);
    expect(schedule.delayMs({ free: false, expiresAtMs: 1_000_000 }, undefined)).toBe(D); // the slow safety poll
    expect(draws()).toBe(0);
  });

  it('makes a watching follower try at once, with no herd jitter and no random draw, when the lease is free or already expired', async () => {
    const { clock, schedule, draws } = setup([0.5]);
    await clock.advance(1_000);
    expect(schedule.delayMs({ free: true, expiresAtMs: 1_000 }, undefined)).toBe(0);
    expect(schedule.delayMs({ free: false, expiresAtMs: 900 }, undefined)).toBe(0);
    expect(schedule.delayMs({ free: false, expiresAtMs: 1_000 }, undefined)).toBe(0);
    expect(draws()).toBe(0);
  });

  it('keeps a follower away for the backoff after a failed attempt, even when its watch says the lease is free', async () => {
    const { clock, schedule } = setup([0]);
    const observed = {};
    schedule.attemptStarted();
    schedule.attemptEnded(true, observed); // backoff R from t=0
    expect(schedule.consecutiveFailures).toBe(1);
    expect(schedule.delayMs({ free: true, expiresAtMs: 0 }, observed)).toBe(R);
    await clock.advance(500);
    expect(schedule.delayMs({ free: true, expiresAtMs: 0 }, observed)).toBe(R - 500);
  });

  it('backs off longer for each consecutive failure and forgets failures once an attempt gets an answer', () => {
    const { schedule } = setup([0], { leaseDurationMs: 60_000 });
    for (let i = 0; i < 3; i++) schedule.attemptEnded(true, undefined);
    expect(schedule.consecutiveFailures).toBe(3);
    expect(schedule.delayMs({ free: true, expiresAtMs: 0 }, undefined)).toBe(4 * R);
    schedule.attemptEnded(false, undefined);
    expect(schedule.consecutiveFailures).toBe(0);
    expect(schedule.delayMs({ free: true, expiresAtMs: 0 }, undefined)).toBe(0);
  });

  it('drops the backoff after a lost write race once the winning record has been seen, not before', () => {
    const { schedule } = setup([0]);
    const before = {};
    schedule.attemptStarted();
    schedule.conflicted();
    schedule.attemptEnded(true, before);
    expect(schedule.delayMs({ free: false, expiresAtMs: 0 }, before)).toBe(R); // winner not seen yet: back off
    expect(schedule.delayMs({ free: false, expiresAtMs: 0 }, {})).toBe(0); // a newer observation: usual schedule
  });

  it('keeps the backoff after a failure that was no conflict, whatever is observed since', () => {
    const { schedule } = setup([0]);
    schedule.attemptStarted();
    schedule.conflicted();
    schedule.attemptEnded(true, undefined);
    schedule.attemptStarted(); // the next attempt fails without a conflict
    schedule.attemptEnded(true, undefined);
    expect(schedule.delayMs({ free: false, expiresAtMs: 0 }, {})).toBe(2 * R);
  });

  it("never tries before the server's Retry-After, capped at one minute; zero or none changes nothing", async () => {
    const { clock, schedule } = setup([0]);
    schedule.retryAfter(0);
    schedule.retryAfter(undefined);
    expect(schedule.delayMs(undefined, undefined)).toBe(R);
    schedule.retryAfter(10);
    expect(schedule.delayMs(undefined, undefined)).toBe(10_000);
    await clock.advance(4_000);
    expect(schedule.delayMs(undefined, undefined)).toBe(6_000);
    schedule.retryAfter(3_600);
    expect(schedule.delayMs(undefined, undefined)).toBe(MAX_RETRY_AFTER_MS);
  });

  it('holds attempts back during a cooldown; a new cooldown replaces the old, an extension keeps the longer', async () => {
    const { clock, schedule } = setup([0]);
    expect(schedule.cooledDown()).toBe(true);
    schedule.startCooldown(30_000);
    expect(schedule.cooledDown()).toBe(false);
    expect(schedule.delayMs(undefined, undefined)).toBe(30_000);
    schedule.extendCooldown(5_000);
    expect(schedule.delayMs(undefined, undefined)).toBe(30_000);
    schedule.startCooldown(5_000);
    expect(schedule.delayMs(undefined, undefined)).toBe(5_000);
    schedule.extendCooldown(8_000);
    expect(schedule.delayMs(undefined, undefined)).toBe(8_000);
    await clock.advance(8_000);
    expect(schedule.cooledDown()).toBe(true);
  });

  it('asks an injected backoff for the wait after each failure, with the failure count', () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const schedule = new FollowerSchedule({
      clock,
      config: { retryPeriodMs: R, leaseDurationMs: D, random: () => 0 },
      backoffMs: (failures) => {
        asked.push(failures);
        return 123;
      },
    });
    schedule.attemptEnded(true, undefined);
    schedule.attemptEnded(true, undefined);
    expect(asked).toEqual([1, 2]);
    expect(schedule.delayMs({ free: true, expiresAtMs: 0 }, undefined)).toBe(123);
  });
});
