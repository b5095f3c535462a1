/**
 * Fresh-eyes probes of commit c1042b0's membership-refresh rule in SetView.observe (docs/sharding.md,
 * "How a replica decides"): on the same Lease (uid), a write is a refresh only when its renewTime is
 * past the last one seen and differs from the one last taken as a refresh; a new uid counts as a
 * seen delete, then a first sight. SetView fed directly: who is counted (members), suspected and
 * backed off after sequences of restores, re-applies, MicroTime forms and uid changes.
 * Times: t ms of local monotonic time; this replica's wall clock is WALL0 + t.
 */
import { describe, expect, it } from '@jest/globals';
import type { Lease } from '../lease.js';
import { MEMBER_OF_LABEL, membershipLeaseName } from '../membership.js';
import { formatMicroTime, nextRenewTimeMs, parseMicroTime } from '../record.js';
import { HANDOVER_ANNOTATION } from '../records.js';
import { SetView } from './set-view.js';

const SET = 'work';
const SHARDS = ['work-0', 'work-1', 'work-2'];
const WALL0 = Date.UTC(2025, 0, 1);
/** Shard lease duration (the back-off unit). */
const L = 6_000;
/** Membership timings of the defaults' ratios: 60 s, refreshed every 20 s, silent after 20 s + 2 retry periods of 1 s. */
const MEMBER_S = 60;
const RENEW_MS = 20_000;
const SILENT_MS = 22_000;

function shardLease(holder: string, renewWallMs: number, handedFrom?: string): Lease {
  const annotations = handedFrom === undefined ? {} : { annotations: { [HANDOVER_ANNOTATION]: handedFrom } };
  return { metadata: { name: 'shard', ...annotations }, spec: { holderIdentity: holder, leaseDurationSeconds: L / 1000, renewTime: formatMicroTime(renewWallMs) } };
}

function memberLease(id: string, renewTime: string, uid: string | undefined): Lease {
  return {
    metadata: { name: membershipLeaseName(SET, id), ...(uid === undefined ? {} : { uid }), annotations: { [MEMBER_OF_LABEL]: SET } },
    spec: { holderIdentity: id, leaseDurationSeconds: MEMBER_S, renewTime },
  };
}

/** Replica a's view of members a, b, x (uids `<id>-1`, first seen at t = 0 with renewTime WALL0); a holds work-0 and work-1, b holds work-2. */
function world() {
  const v = new SetView(SET, SHARDS, 'a', L);
  const shard = (name: string, lease: Lease, t: number): void => void v.observe(name, lease, t, WALL0 + t);
  /** `id`'s membership Lease seen at t (undefined: deleted); renew as epoch ms or a MicroTime string; uid null: none in the answer. */
  const member = (id: string, renew: number | string | undefined, t: number, uid: string | null = `${id}-1`): void =>
    void v.observe(membershipLeaseName(SET, id), renew === undefined ? undefined : memberLease(id, typeof renew === 'string' ? renew : formatMicroTime(renew), uid ?? undefined), t, WALL0 + t);
  for (const id of ['a', 'b', 'x']) member(id, WALL0, 0);
  shard('work-0', shardLease('a', WALL0), 0);
  shard('work-1', shardLease('a', WALL0), 0);
  shard('work-2', shardLease('b', WALL0), 0);
  const state = (id: string, t: number) => ({
    counted: v.members(t, SILENT_MS).includes(id),
    suspected: v.suspected(t, SILENT_MS).includes(id),
    backedOff: v.backedOffMembers(t).includes(id),
  });
  /**
   * x takes work-2 (handed over by b) and renews it; refreshes its membership at 20 s (R1) and 40 s
   * (R2), renews work-2 at 40.5 s and stops (crash, or a pause); b takes work-2 by expiry: the time.
   */
  const xStops = (uid = 'x-1'): number => {
    shard('work-2', shardLease('x', WALL0 + 1_000, 'b'), 1_000);
    shard('work-2', shardLease('x', WALL0 + 2_000, 'b'), 2_000);
    member('x', WALL0 + 20_000, 20_000, uid);
    member('x', WALL0 + 40_000, 40_000, uid);
    shard('work-2', shardLease('x', WALL0 + 40_500, 'b'), 40_500);
    const takenAt = 40_500 + L + 50;
    shard('work-2', shardLease('b', WALL0 + takenAt), takenAt);
    return takenAt;
  };
  /** a hands work-0 to x at t; x never renews it; a takes it back by expiry: x backed off for L from then. */
  const failedHandover = (t: number): number => {
    shard('work-0', shardLease('x', WALL0 + t, 'a'), t);
    shard('work-0', shardLease('a', WALL0 + t + L + 50), t + L + 50);
    return t + L + 50;
  };
  return { v, shard, member, state, xStops, failedHandover };
}

/** x's last refresh before it stopped (see xStops): silent from then + SILENT_MS. */
const LAST_REFRESH_T = 40_000;
const DEAD = { counted: false, suspected: true, backedOff: false };
const LIVE = { counted: true, suspected: false, backedOff: false };

describe('SetView refresh rule: restores and re-applies on the same Lease (a dead member)', () => {
  // Found by this file (first expected DEAD right after the restores): the second restore moves
  // the renewTime forward from the first and differs from the last refresh, so it reads as one.
  // Decided (docs/sharding.md, "How a replica decides"): others' writes may make a dead member look
  // alive, for at most the silence threshold from the write, as a member that just crashed is
  // counted; refusing any renewTime at or below the highest refresh would instead drop a live
  // member whose clock stepped back for as long as the step (set-view-fix-probes.test.ts).
  it('a dead member\'s Lease restored back to its first backup, then to a newer backup still older than its last refresh (two restores), makes it count at most until silent from the second restore', () => {
    const { member, state, xStops } = world();
    const takenAt = xStops();
    member('x', WALL0, takenAt + 500); // kubectl replace from the oldest backup (R0)
    member('x', WALL0 + 20_000, takenAt + 1_000); // then from a newer one (R1 < R2, its last refresh)
    expect(state('x', takenAt + 1_000 + SILENT_MS + 100).counted).toBe(false);
  });

  it('a dead member\'s Lease restored back, then its last refreshed renewTime re-applied (the restore undone), gives no sign of life', () => {
    const { member, state, xStops } = world();
    const takenAt = xStops();
    member('x', WALL0 + 20_000, takenAt + 500);
    member('x', WALL0 + 40_000, takenAt + 1_000);
    expect({ afterUndo: state('x', takenAt + 1_100), whenSilent: state('x', LAST_REFRESH_T + SILENT_MS + 100) }).toEqual({ afterUndo: DEAD, whenSilent: DEAD });
  });

  it('an operator re-applying the same backup YAML to a dead member\'s Lease again and again, with label edits by another tool in between, gives no sign of life', () => {
    const { member, state, xStops } = world();
    const takenAt = xStops();
    const seen: ReturnType<typeof state>[] = [];
    for (let i = 0; i < 5; i++) {
      const t = takenAt + 500 + i * 3_000;
      member('x', WALL0 + 20_000, t); // the YAML, exported at 20 s
      member('x', '2025-01-01T00:00:20.000000Z', t + 1_000); // a label edit: the renewTime unchanged
      seen.push(state('x', t + 1_100));
    }
    expect({ seen: seen.every((s) => !s.counted && s.suspected), whenSilent: state('x', LAST_REFRESH_T + SILENT_MS + 100) }).toEqual({ seen: true, whenSilent: DEAD });
  });

  it('after a restore back, the last refreshed renewTime written in other MicroTime forms (an offset, no fraction, 7 and 9 digits) gives no sign of life', () => {
    const { member, state, xStops } = world();
    const takenAt = xStops();
    member('x', WALL0 + 20_000, takenAt + 100);
    const forms = ['2025-01-01T01:00:40.000000+01:00', '2025-01-01T00:00:40Z', '2025-01-01T00:00:40.0000009Z', '2025-01-01T00:00:40.000000000-00:00'];
    const seen = forms.map((form, i) => {
      member('x', WALL0 + 20_000, takenAt + 200 + i * 200); // back again between forms
      member('x', form, takenAt + 300 + i * 200);
      return state('x', takenAt + 350 + i * 200);
    });
    expect({ seen, whenSilent: state('x', LAST_REFRESH_T + SILENT_MS + 100) }).toEqual({ seen: forms.map(() => DEAD), whenSilent: DEAD });
  });

  it('restores and label edits on a backed-off member\'s Lease (same uid) do not end its back-off', () => {
    const { member, state, failedHandover } = world();
    const failedAt = failedHandover(1_000);
    member('x', WALL0 - 10_000, failedAt + 100); // restore back
    member('x', WALL0 - 5_000, failedAt + 200); // a newer restore, forward
    member('x', WALL0 - 5_000, failedAt + 300); // label edit
    expect(state('x', failedAt + 400).backedOff).toBe(true);
  });
});

describe('SetView refresh rule: a live member (refreshing as Membership does) around restores', () => {
  /**
   * x refreshes every RENEW_MS from t = 20 s; each write is Membership's: nextRenewTimeMs(its wall
   * clock, the Lease's renewTime as stored), one retry period after a restore changed the Lease
   * (its update conflicted, it read the Lease again). Returns the times x was uncounted or suspected
   * after its first refresh following the restores.
   */
  function liveAround(restores: { t: number; renew: number | string }[], xWall: (t: number) => number, suspendShardAt?: number): string[] {
    const { member, shard, state } = world();
    let stored = WALL0;
    let restoredSince = false;
    let firstAfter: number | undefined;
    const bad: string[] = [];
    if (suspendShardAt !== undefined) {
      // x held work-2 and stopped renewing it (paused), b took it by expiry: x suspected.
      shard('work-2', shardLease('x', WALL0 + 1_000, 'b'), 1_000);
      shard('work-2', shardLease('x', WALL0 + 2_000, 'b'), 2_000);
      shard('work-2', shardLease('b', WALL0 + suspendShardAt), suspendShardAt);
    }
    const pending = [...restores];
    for (let t = RENEW_MS; t <= 160_000; t += RENEW_MS) {
      while (pending.length > 0 && pending[0]!.t < t) {
        const r = pending.shift()!;
        member('x', r.renew, r.t);
        stored = typeof r.renew === 'number' ? r.renew : parseMicroTime(r.renew)!;
        restoredSince = true;
      }
      const at = restoredSince ? t + 1_000 : t;
      restoredSince = false;
      stored = nextRenewTimeMs(xWall(at), stored);
      member('x', stored, at);
      if (pending.length === 0 && firstAfter === undefined && restores.every((r) => r.t < at)) firstAfter = at;
      if (firstAfter !== undefined) {
        const s = state('x', at + 100);
        if (!s.counted || s.suspected) bad.push(`${at + 100}: ${JSON.stringify(s)}`);
      }
    }
    return bad;
  }

  it('a live member whose Lease is restored back, then forward to an older backup (two restores), is counted and unsuspected at each of its refreshes from its first one after them', () => {
    expect(liveAround([{ t: 45_000, renew: WALL0 }, { t: 50_000, renew: WALL0 + 20_000 }], (t) => WALL0 + t)).toEqual([]);
  });

  it('a live member suspected from a takeover by expiry of its shard, its Lease then restored back, is unsuspected and counted from its next refresh', () => {
    expect(liveAround([{ t: 47_000, renew: WALL0 + 20_000 }], (t) => WALL0 + t, 40_000)).toEqual([]);
  });

  it('a live member whose wall clock lags 2 minutes, its Lease restored back past several of its refreshes, is counted from its next refresh', () => {
    expect(liveAround([{ t: 85_000, renew: WALL0 - 150_000 }], (t) => WALL0 + t - 120_000)).toEqual([]);
  });

  it('a live member whose wall clock stands still (1 us steps), its Lease restored to the renewTime before its last refresh, is counted again no later than one renew interval after its next refresh', () => {
    // Its refreshes step 1 us past the stored renewTime; after the restore its next write brings
    // back the one last taken as a refresh (no sign of life by the rule); the one after it counts.
    const bad = liveAround([{ t: 65_000, renew: '2025-01-01T00:00:00.000002Z' }], () => WALL0 - 1);
    const late = bad.map((b) => Number(b.split(':')[0])).filter((t) => t > 81_100 + RENEW_MS);
    expect(late).toEqual([]);
  });
});

describe('SetView refresh rule: uid changes', () => {
  it('a watch event without a uid does not make the view forget the uid it saw: a relist showing the Lease with a new uid (deleted and created again in a watch gap) ends the back-off, as a seen delete does', () => {
    const { member, state, failedHandover } = world();
    const failedAt = failedHandover(1_000);
    member('x', WALL0 + failedAt, failedAt + 100, null); // a watch event from a client that drops the uid (a refresh)
    member('x', WALL0 + failedAt + 500, failedAt + 600, 'x-2'); // the relist after a gap: x left and joined again
    expect(state('x', failedAt + 700)).toEqual(LIVE);
  });

  it('a backed-off member\'s Lease recreated with a new uid and the same renewTime (seen by a relist) ends its back-off', () => {
    const { member, state, failedHandover } = world();
    const failedAt = failedHandover(1_000);
    member('x', WALL0 + failedAt, failedAt + 100);
    member('x', WALL0 + failedAt, failedAt + 200, 'x-2');
    expect(state('x', failedAt + 300)).toEqual(LIVE);
  });

  it('a dead suspected member\'s Lease without a uid in the answer, with a moved-back renewTime, is no sign of life (not taken for a new Lease)', () => {
    const { member, state, xStops } = world();
    const takenAt = xStops();
    member('x', WALL0 + 20_000, takenAt + 500, null);
    expect({ after: state('x', takenAt + 600), whenSilent: state('x', LAST_REFRESH_T + SILENT_MS + 100) }).toEqual({ after: DEAD, whenSilent: DEAD });
  });

  // Found by this file (first expected: not counted at all): a re-created Lease is a first sight,
  // dated by its renewTime's age; decided as above: counted at most until silent, timed from
  // that renewTime (its age on the local wall clock), the same as a member that crashed then.
  it('a dead member suspected from a takeover by expiry, its Lease recreated with a new uid and the renewTime it had when the suspicion arose (a restore by delete and create), counts at most until silent from that renewTime (delete seen or hidden by a relist)', () => {
    const outcome = (deleteSeen: boolean) => {
      const { member, state, xStops } = world();
      const takenAt = xStops();
      if (deleteSeen) member('x', undefined, takenAt + 300);
      member('x', WALL0 + 40_000, takenAt + 500, 'x-2');
      return state('x', LAST_REFRESH_T + SILENT_MS + 100).counted;
    };
    expect({ deleteSeen: outcome(true), relistHidesTheDelete: outcome(false) }).toEqual({ deleteSeen: false, relistHidesTheDelete: false });
  });

  // Found by this file (first expected DEAD at once): each uid change is a seen delete and a first
  // sight; decided as above: the dead member counts at most until silent from its last renewTime.
  it('a stale relist that shows a dead suspected member\'s older Lease object (uid back to an older one), then the current object again, makes the dead member count at most until silent from its last renewTime', () => {
    const { member, state, xStops } = world();
    // x restarted at 10 s: its Lease deleted and created again (x-2); it then refreshed and stopped.
    member('x', undefined, 10_000);
    member('x', WALL0 + 10_000, 10_000, 'x-2');
    const takenAt = xStops('x-2');
    member('x', WALL0, takenAt + 500, 'x-1'); // a relist from a lagging cache: the old object
    member('x', WALL0 + 40_000, takenAt + 1_000, 'x-2'); // the watch again: the current one
    expect(state('x', LAST_REFRESH_T + SILENT_MS + 100).counted).toBe(false);
  });

  it('a live member whose wall clock lags 2 minutes, through a stale relist flipping its uid to an older one and back, is counted from its next refresh', () => {
    const { member, state } = world();
    const behind = 120_000;
    member('x', undefined, 10_000);
    member('x', WALL0 + 10_000 - behind, 10_000, 'x-2');
    for (const t of [30_000, 50_000]) member('x', WALL0 + t - behind, t, 'x-2');
    member('x', WALL0, 55_000, 'x-1');
    member('x', WALL0 + 50_000 - behind, 56_000, 'x-2');
    member('x', WALL0 + 70_000 - behind, 70_000, 'x-2');
    expect(state('x', 70_100)).toEqual(LIVE);
  });
});
