import { describe, expect, it } from '@jest/globals';
import { GuaranteeBase } from './guarantee-base.js';
import { sameForGoFollower, type LeaderElectionRecord } from './record.js';

const D = 15_000;
const T0 = Date.UTC(2025, 0, 1);

function record(renewTimeMs: number): LeaderElectionRecord {
  return { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTimeMs: T0, renewTimeMs, leaseTransitions: 1 };
}

/** What the elector uses when client-go followers may share the Lease. */
const goFollowers = (previous: LeaderElectionRecord, next: LeaderElectionRecord): boolean => !sameForGoFollower(previous, next);

describe('GuaranteeBase', () => {
  it('counts a write a client-go follower sees as a change from its own send time', () => {
    const base = new GuaranteeBase(D, goFollowers);
    expect(base.sentAtFor(record(T0), 100)).toBe(100);
    expect(base.sentAtFor(record(T0 + 1_000), 1_100)).toBe(1_100);
  });

  it('counts a write in the same whole second as an earlier attempt from that attempt', () => {
    const base = new GuaranteeBase(D, goFollowers);
    expect(base.sentAtFor(record(T0 + 100), 100)).toBe(100);
    expect(base.sentAtFor(record(T0 + 900), 900)).toBe(100); // a Go follower sees one record, timed from the first
  });

  it('also when the wall clock stepped back and brought an old second back', () => {
    const base = new GuaranteeBase(D, goFollowers);
    base.sentAtFor(record(T0 + 100), 100);
    base.sentAtFor(record(T0 + 2_000), 2_000);
    expect(base.sentAtFor(record(T0 + 500), 3_000)).toBe(100);
  });

  it('forgets attempts older than a lease duration: a write that may repeat one gives no guarantee', () => {
    const base = new GuaranteeBase(D, goFollowers);
    base.sentAtFor(record(T0 + 100), 100);
    // The same whole second after the first attempt is forgotten: a client-go follower may have
    // seen only that record since, so this write counts from -Infinity (the leader steps down).
    expect(base.sentAtFor(record(T0 + 200), 100 + D + 1)).toBe(-Infinity);
    // A second this term has not written is a change every follower sees.
    expect(base.sentAtFor(record(T0 + 5_000), 100 + D + 2)).toBe(100 + D + 2);
  });

  it('a wall clock oscillating between two seconds: once the first attempts are forgotten, no write guarantees anything', () => {
    const base = new GuaranteeBase(D, goFollowers);
    const sent: number[] = [];
    for (let t = 0; t <= 20_000; t += 2_000) sent.push(base.sentAtFor(record(T0 + ((t / 2_000) % 2) * 1_000), t));
    // t = 0 and 2000 are new; 4000..14000 count from them; from 16000 on they are forgotten.
    expect(sent).toEqual([0, 2_000, 0, 2_000, 0, 2_000, 0, 2_000, -Infinity, -Infinity, -Infinity]);
  });

  it('a new term starts afresh: its seconds may overlap the last term', () => {
    const base = new GuaranteeBase(D, goFollowers);
    base.sentAtFor(record(T0 + 100), 100);
    const nextTerm: LeaderElectionRecord = { ...record(T0 + 200), leaseTransitions: 2 };
    expect(base.sentAtFor(nextTerm, 100 + D + 1)).toBe(100 + D + 1);
  });

  it('counts every write from itself when no client-go follower needs to see it', () => {
    const base = new GuaranteeBase(D, () => true);
    base.sentAtFor(record(T0 + 100), 100);
    expect(base.sentAtFor(record(T0 + 900), 900)).toBe(900);
  });
});
