import { describe, expect, it } from '@jest/globals';
import { GuaranteeBase } from './guarantee-base.js';
import { MAX_INT32, sameForGoFollower, type LeaderElectionRecord } from './record.js';

const D = 15_000;
const T0 = Date.UTC(2025, 0, 1);

/** A record naming 'b' at the token cap (a take cannot raise the token), renewed at `renewTimeMs`. */
function record(renewTimeMs: number): LeaderElectionRecord {
  return { holderIdentity: 'b', leaseDurationSeconds: 15, acquireTimeMs: renewTimeMs, renewTimeMs, leaseTransitions: MAX_INT32 };
}

const goFollowers = (previous: LeaderElectionRecord, next: LeaderElectionRecord): boolean => !sameForGoFollower(previous, next);

describe('GuaranteeBase.seed: a record naming us that we did not write', () => {
  it('a write a client-go follower cannot tell from the seeded record counts from when that record was first seen', () => {
    const base = new GuaranteeBase(D, goFollowers);
    base.seed(record(T0 + 10), 1_000);
    expect(base.sentAtFor(record(T0 + 400), 1_400)).toBe(1_000);
  });

  it('a write in another wall second counts from its own send time', () => {
    const base = new GuaranteeBase(D, goFollowers);
    base.seed(record(T0 + 10), 1_000);
    expect(base.sentAtFor(record(T0 + 1_010), 2_000)).toBe(2_000);
  });

  it('keeps an earlier attempt of our own with the same view (the earlier time counts)', () => {
    const base = new GuaranteeBase(D, goFollowers);
    expect(base.sentAtFor(record(T0 + 10), 500)).toBe(500);
    base.seed(record(T0 + 20), 1_000);
    expect(base.sentAtFor(record(T0 + 30), 1_200)).toBe(500);
  });

  it('changes nothing when no client-go follower needs to see the writes', () => {
    const base = new GuaranteeBase(D, () => true);
    base.seed(record(T0 + 10), 1_000);
    expect(base.sentAtFor(record(T0 + 400), 1_400)).toBe(1_400);
  });
});
