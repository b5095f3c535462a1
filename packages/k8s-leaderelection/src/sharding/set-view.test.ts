/**
 * SetView's back-off of members that failed handovers (docs/sharding.md, "A member that cannot take
 * shards"): what placement counts (members()) after handovers, takeovers by expiry and renewals.
 */
import { describe, expect, it } from '@jest/globals';
import type { Lease } from '../lease.js';
import { MEMBER_OF_LABEL, membershipLeaseName } from '../membership.js';
import { formatMicroTime } from '../record.js';
import { HANDOVER_ANNOTATION } from '../records.js';
import { MAX_HANDOVER_BACKOFF_LEASES, SetView } from './set-view.js';

const SET = 'work';
const L = 6_000;
const WALL0 = Date.UTC(2025, 0, 1);
const SHARDS = ['work-0', 'work-1', 'work-2'];

function shard(holder: string, renewedAtMs: number, handedFrom?: string): Lease {
  return {
    metadata: { name: 'x', ...(handedFrom ? { annotations: { [HANDOVER_ANNOTATION]: handedFrom } } : {}) },
    spec: { holderIdentity: holder, leaseDurationSeconds: L / 1000, renewTime: formatMicroTime(WALL0 + renewedAtMs) },
  };
}

function member(identity: string, renewedAtMs: number): Lease {
  return {
    metadata: { name: membershipLeaseName(SET, identity), annotations: { [MEMBER_OF_LABEL]: SET } },
    spec: { holderIdentity: identity, leaseDurationSeconds: 60, renewTime: formatMicroTime(WALL0 + renewedAtMs) },
  };
}

/** A view from replica 'a' over members a, b, x, all refreshed at `at`; 'a' holds work-0 and work-1. */
function view(at = 0): { v: SetView; refresh: (id: string, atMs: number) => void } {
  const v = new SetView(SET, SHARDS, 'a', L);
  const refresh = (id: string, atMs: number): void => void v.observe(membershipLeaseName(SET, id), member(id, atMs), atMs, WALL0 + atMs);
  for (const id of ['a', 'b', 'x']) refresh(id, at);
  v.observe('work-0', shard('a', at), at, WALL0 + at);
  v.observe('work-1', shard('a', at), at, WALL0 + at);
  v.observe('work-2', shard('b', at), at, WALL0 + at);
  return { v, refresh };
}

/** `from` hands `name` to x at `at`; x never renews it; `standby` takes it over by expiry L later. */
function failedHandover(v: SetView, name: string, from: string, standby: string, at: number): number {
  v.observe(name, shard('x', at, from), at, WALL0 + at);
  v.observe(name, shard(standby, at + L, from), at + L, WALL0 + at + L);
  return at + L;
}

describe('SetView: members that failed handovers are backed off', () => {
  it("a member handed a shard it never renewed is not counted for L after the takeover, whatever its membership refreshes, then counted again", () => {
    const { v, refresh } = view();
    const seen = failedHandover(v, 'work-0', 'a', 'a', 1_000);
    refresh('x', seen + 10);
    expect(v.members(seen + 20, Infinity)).toEqual(['a', 'b']);
    expect(v.backedOffMembers(seen + 20)).toEqual(['x']);
    expect(v.members(seen + L - 1, Infinity)).toEqual(['a', 'b']);
    expect(v.members(seen + L, Infinity)).toEqual(['a', 'b', 'x']);
  });

  it("the k-th failed handover in a row backs off L * 2^(k-1), at most 32 L; two shards handed in one round count once", () => {
    const { v, refresh } = view();
    let at = 1_000;
    const holds: number[] = [];
    for (let k = 1; k <= 8; k++) {
      const seen = failedHandover(v, 'work-0', 'a', 'a', at);
      failedHandover(v, 'work-2', 'b', 'b', at + 100); // the same round, from another giver
      refresh('x', seen + 200);
      let until = seen;
      while (v.backedOffMembers(until).includes('x')) until += 100;
      holds.push(until - seen);
      at = until + 1_000;
    }
    const expected = [1, 2, 4, 8, 16, 32, 32, 32].map((n) => n * L);
    expect(Math.max(...holds.map((h, i) => Math.abs(h - expected[i]!)))).toBeLessThanOrEqual(100);
    expect(MAX_HANDOVER_BACKOFF_LEASES).toBe(32);
  });

  it('seeing the member renew a shard ends its back-off and resets the count', () => {
    const { v, refresh } = view();
    let seen = failedHandover(v, 'work-0', 'a', 'a', 1_000);
    seen = failedHandover(v, 'work-0', 'a', 'a', seen + L + 10); // k = 2: 2 L
    expect(v.backedOffMembers(seen + L)).toEqual(['x']);
    // x takes a handover of work-2 and renews it.
    v.observe('work-2', shard('x', seen + 100, 'b'), seen + 100, WALL0 + seen + 100);
    v.observe('work-2', shard('x', seen + 1_100, 'b'), seen + 1_100, WALL0 + seen + 1_100);
    expect(v.backedOffMembers(seen + 1_100)).toEqual([]);
    refresh('x', seen + 1_200); // clears the suspicion the takeovers raised
    expect(v.members(seen + 1_200, Infinity)).toContain('x');
    // The next failure is a first one again: L.
    const next = failedHandover(v, 'work-0', 'a', 'a', seen + 2_000);
    expect(v.backedOffMembers(next + L - 1)).toEqual(['x']);
    expect(v.backedOffMembers(next + L)).toEqual([]);
  });

  it('a crashed holder (its shards renewed, then taken over by expiry) is suspected until its next refresh, never backed off', () => {
    const { v, refresh } = view();
    v.observe('work-2', shard('b', 3_000), 3_000, WALL0 + 3_000);
    v.observe('work-2', shard('a', 3_000 + L), 3_000 + L, WALL0 + 3_000 + L);
    expect(v.members(3_000 + L, Infinity)).toEqual(['a', 'x']);
    expect(v.backedOffMembers(3_000 + L)).toEqual([]);
    refresh('b', 3_000 + L + 10);
    expect(v.members(3_000 + L + 10, Infinity)).toEqual(['a', 'b', 'x']);
  });

  it('a handover its target renewed, then a takeover by expiry (it crashed later), is no failed handover', () => {
    const { v, refresh } = view();
    v.observe('work-0', shard('x', 1_000, 'a'), 1_000, WALL0 + 1_000);
    v.observe('work-0', shard('x', 2_000, 'a'), 2_000, WALL0 + 2_000);
    v.observe('work-0', shard('a', 2_000 + L, 'a'), 2_000 + L, WALL0 + 2_000 + L);
    expect(v.backedOffMembers(2_000 + L)).toEqual([]);
    refresh('x', 2_000 + L + 10);
    expect(v.members(2_000 + L + 10, Infinity)).toContain('x');
  });

  it('a member that leaves (its membership Lease deleted) and joins again starts without a back-off', () => {
    const { v, refresh } = view();
    const seen = failedHandover(v, 'work-0', 'a', 'a', 1_000);
    v.observe(membershipLeaseName(SET, 'x'), undefined, seen + 100, WALL0 + seen + 100);
    refresh('x', seen + 200);
    expect(v.members(seen + 200, Infinity)).toEqual(['a', 'b', 'x']);
  });
});
