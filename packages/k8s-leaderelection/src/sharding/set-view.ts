/**
 * Owns what one replica sees of a shard set through its feed: each shard's holder, the live
 * members (membership Leases), the members suspected dead (a shard of theirs was taken over
 * by expiry, not handed over or released, and their membership has not been refreshed since; or
 * their membership stopped changing on the feed), the members backed off as handover targets (a
 * shard handed to them was taken over by expiry before they renewed it), and the shards whose
 * record stopped changing.
 * Silence is judged on local monotonic observation times, never on the wall clock.
 * A hint for placement only: who leads a shard is decided by that shard's Elector alone.
 */
import { MEMBER_OF_LABEL } from '../membership.js';
import type { Lease } from '../lease.js';
import { parseMicroTime } from '../record.js';
import { HANDOVER_ANNOTATION } from '../records.js';

/** A live member as read from its membership Lease (wall times, epoch ms). */
interface MemberRecord {
  readonly identity: string;
  readonly renewedAtMs: number;
  readonly durationMs: number;
  /** The Lease object's uid: a new one is a new Lease (deleted and created again), judged afresh. */
  readonly uid: string | undefined;
}

/** The membership Lease of set `setName` read as a member, or undefined when it is not one. */
function memberRecordOf(lease: Lease, setName: string): MemberRecord | undefined {
  const meta = lease.metadata;
  if (meta?.annotations?.[MEMBER_OF_LABEL] !== setName) return undefined;
  const spec = lease.spec;
  const identity = spec?.holderIdentity;
  const renewedAtMs = parseMicroTime(spec?.renewTime);
  const seconds = spec?.leaseDurationSeconds;
  if (typeof identity !== 'string' || identity === '' || renewedAtMs === null) return undefined;
  if (typeof seconds !== 'number' || !(seconds > 0)) return undefined;
  return { identity, renewedAtMs, durationMs: seconds * 1000, uid: meta?.uid };
}

/** The longest back-off of a member that failed handovers, in lease durations (see {@link SetView}). */
export const MAX_HANDOVER_BACKOFF_LEASES = 32;

/**
 * A member's failed handovers since it was last seen renewing a shard, when (local monotonic) the
 * last back-off began, and until when it is no target.
 */
interface Backoff {
  readonly failures: number;
  readonly sinceMs: number;
  readonly untilMs: number;
}

export class SetView {
  /** Shard Lease name -> shard index. */
  private readonly shardIndex: Map<string, number>;
  /** Each shard's holder as last seen ('' for none, a released record, or a missing Lease). */
  private readonly holderOf: string[];
  /** Membership Lease name -> member. */
  private readonly memberOf = new Map<string, MemberRecord>();
  /** Suspected member -> the renewTime its membership Lease had when the suspicion arose. */
  private readonly suspects = new Map<string, number | undefined>();
  /** Each shard's Lease: local monotonic time its resourceVersion was last seen to change. */
  private readonly shardChangedAtMs: number[];
  /**
   * Membership Lease name -> local monotonic time its renewTime was last seen to change (a refresh;
   * a write that renews nothing, such as an operator's label, is no sign of life).
   */
  private readonly memberChangedAtMs = new Map<string, number>();
  /** Membership Lease name -> the renewTime (epoch ms) last taken as a refresh (a sign of life). */
  private readonly refreshedRenewTimeOf = new Map<string, number>();
  /** Each shard's renewTime as last seen. */
  private readonly renewTimeOf: (string | undefined)[];
  /** Each shard: the member a handover named, while that member has not renewed it yet, and when (local monotonic) that handover was seen. */
  private readonly handedTo: (string | undefined)[];
  private readonly handedAtMs: number[];
  /** Members backed off as handover targets (see the constructor). */
  private readonly backoffs = new Map<string, Backoff>();

  /**
   * @param backoffUnitMs the back-off unit (the shard lease duration): a member that failed its
   *   k-th handover in a row (a shard handed to it was taken over by expiry before it renewed it)
   *   is not counted for backoffUnitMs * 2^(k-1), at most {@link MAX_HANDOVER_BACKOFF_LEASES}
   *   units, from when the take over was seen; seeing it renew a shard (or its membership Lease
   *   deleted) ends the back-off and resets k.
   */
  constructor(
    private readonly setName: string,
    shardNames: readonly string[],
    private readonly self: string,
    private readonly backoffUnitMs = 0,
  ) {
    this.shardIndex = new Map(shardNames.map((name, i) => [name, i]));
    this.holderOf = shardNames.map(() => '');
    this.shardChangedAtMs = shardNames.map(() => 0);
    this.renewTimeOf = shardNames.map(() => undefined);
    this.handedTo = shardNames.map(() => undefined);
    this.handedAtMs = shardNames.map(() => 0);
  }

  /**
   * Records a change of Lease `name` (undefined: deleted) seen at local monotonic time `nowMs`;
   * true when a holder or the member set changed. A membership Lease seen for the first time
   * counts as changed when its renewTime says, by the local wall clock `wallNowMs`, but never
   * earlier than its duration ago nor later than now: a replica that starts after a member died
   * must not count that member's leftover Lease as fresh (a skewed clock only shortens or
   * lengthens that first guess; every later change is timed on the monotonic clock).
   */
  observe(name: string, lease: Lease | undefined, nowMs: number, wallNowMs: number): boolean {
    const shard = this.shardIndex.get(name);
    if (shard !== undefined) {
      this.shardChangedAtMs[shard] = nowMs;
      return this.observeShard(shard, lease, nowMs);
    }
    const before = this.memberOf.get(name);
    const read = lease && memberRecordOf(lease, this.setName);
    // An answer without a uid (a client that drops it) is the object last seen, not a new one.
    const member = read && read.uid === undefined && before !== undefined ? { ...read, uid: before.uid } : read;
    let cleared = false;
    if (member) {
      if (before !== undefined && before.uid !== undefined && member.uid !== undefined && before.uid !== member.uid) {
        // Deleted and created again while this view did not see it (a relist after a watch gap):
        // as if it had seen the delete (nothing left to suspect, no back-off), then a first sight.
        this.suspects.delete(before.identity);
        cleared = this.backoffs.delete(before.identity);
        this.memberChangedAtMs.delete(name);
        this.refreshedRenewTimeOf.delete(name);
      }
      // Others' writes (a restore, a re-create, a stale relist) may make a dead member look alive
      // here; it is then counted until it turns silent, as a member that just crashed is.
      let alive = true;
      if (!this.memberChangedAtMs.has(name)) {
        const ageMs = Math.min(Math.max(0, wallNowMs - member.renewedAtMs), member.durationMs);
        this.memberChangedAtMs.set(name, nowMs - (Number.isFinite(ageMs) ? ageMs : 0));
      } else {
        // A member's own refreshes move its Lease's renewTime forward from the last one (Membership
        // steps it past it): one that moves it back (a restore from a backup), leaves it, or
        // brings back the one last taken as a refresh, is no sign of life; the next refresh,
        // forward from there, is (even below a time seen before the restore).
        alive = before !== undefined && member.renewedAtMs > before.renewedAtMs && member.renewedAtMs !== this.refreshedRenewTimeOf.get(name);
        if (alive) this.memberChangedAtMs.set(name, nowMs);
      }
      if (alive || !this.refreshedRenewTimeOf.has(name)) this.refreshedRenewTimeOf.set(name, member.renewedAtMs);
      this.memberOf.set(name, member);
      // A refresh clears a suspicion: the member is alive after all.
      if (alive && this.suspects.delete(member.identity)) cleared = true;
    } else {
      this.memberOf.delete(name);
      this.memberChangedAtMs.delete(name);
      this.refreshedRenewTimeOf.delete(name);
      if (before) {
        // Gone for good (left): nothing left to suspect; a later join starts afresh.
        this.suspects.delete(before.identity);
        cleared = this.backoffs.delete(before.identity);
      }
    }
    return cleared || before?.identity !== member?.identity;
  }

  private observeShard(shard: number, lease: Lease | undefined, nowMs: number): boolean {
    const previous = this.holderOf[shard]!;
    const holder = lease?.spec?.holderIdentity ?? '';
    const renewTime = lease?.spec?.renewTime ?? undefined;
    const renewed = renewTime !== this.renewTimeOf[shard];
    this.renewTimeOf[shard] = renewTime;
    if (holder === previous) {
      // A new renewTime still naming its holder: the holder writes shards (it renewed or took it).
      if (holder === '' || !renewed) return false;
      this.handedTo[shard] = undefined;
      return this.backoffs.delete(holder);
    }
    this.holderOf[shard] = holder;
    const handedOver = previous !== '' && lease?.metadata?.annotations?.[HANDOVER_ANNOTATION] === previous;
    // previous -> holder without a release or a handover naming previous: taken over by expiry.
    if (previous !== '' && holder !== '' && !handedOver) {
      if (previous !== this.self) {
        const member = [...this.memberOf.values()].find((m) => m.identity === previous);
        this.suspects.set(previous, member?.renewedAtMs);
      }
      // Handed to previous, which never renewed it: a failed handover (it may not be able to
      // write shards at all, while its membership refreshes): back it off, longer each time. A
      // member that left meanwhile is no target any more: its next join starts afresh.
      if (this.handedTo[shard] === previous && this.isMember(previous)) this.backOff(previous, this.handedAtMs[shard]!, nowMs);
    }
    this.handedTo[shard] = handedOver && holder !== '' ? holder : undefined;
    this.handedAtMs[shard] = nowMs;
    return true;
  }

  private isMember(identity: string): boolean {
    for (const m of this.memberOf.values()) if (m.identity === identity) return true;
    return false;
  }

  /**
   * One more failed handover of `member` (handed at `handedAtMs`). The shards handed to it in one
   * round count once: a failure while it is backed off, or of a shard handed before its last
   * back-off began, adds nothing.
   */
  private backOff(member: string, handedAtMs: number, nowMs: number): void {
    const last = this.backoffs.get(member);
    if (this.backedOff(member, nowMs) || (last !== undefined && handedAtMs < last.sinceMs)) return;
    const failures = (last?.failures ?? 0) + 1;
    const holdMs = this.backoffUnitMs * Math.min(2 ** (failures - 1), MAX_HANDOVER_BACKOFF_LEASES);
    this.backoffs.set(member, { failures, sinceMs: nowMs, untilMs: nowMs + holdMs });
  }

  /** Each shard's holder as last seen ('' when none). */
  holders(): string[] {
    return [...this.holderOf];
  }

  /**
   * The members placement may count on, sorted: live (its membership Lease was last seen to change
   * less than its duration before `nowMs`, on this replica's monotonic clock: the renewTime is
   * another machine's wall clock and is never compared with ours), not suspected dead, and not
   * silent (another member whose membership Lease was last seen to change more than `silentMs`
   * before `nowMs`: it stopped refreshing). This replica counts when it is live.
   */
  members(nowMs: number, silentMs: number): string[] {
    const live = new Set<string>();
    const silent = new Set(this.silentMembers(nowMs, silentMs));
    for (const [name, m] of this.memberOf) {
      const seenAtMs = this.memberChangedAtMs.get(name) ?? nowMs;
      if (nowMs - seenAtMs < m.durationMs && !this.suspects.has(m.identity) && !silent.has(m.identity) && !this.backedOff(m.identity, nowMs)) live.add(m.identity);
    }
    return [...live].sort();
  }

  /** True while `member` is backed off as a handover target (it failed its last handover). */
  private backedOff(member: string, nowMs: number): boolean {
    return (this.backoffs.get(member)?.untilMs ?? -Infinity) > nowMs;
  }

  /** Members backed off now as handover targets (a shard handed to them expired unrenewed), sorted (for snapshots and tests). */
  backedOffMembers(nowMs: number): string[] {
    return [...this.backoffs.keys()].filter((m) => this.backedOff(m, nowMs)).sort();
  }

  /** Other members whose membership Lease was last seen to change more than `silentMs` before `nowMs`. */
  private silentMembers(nowMs: number, silentMs: number): string[] {
    const silent: string[] = [];
    for (const [name, m] of this.memberOf) {
      if (m.identity !== this.self && nowMs - (this.memberChangedAtMs.get(name) ?? nowMs) > silentMs) silent.push(m.identity);
    }
    return silent;
  }

  /**
   * Shards another replica holds whose record was last seen to change more than `silentMs`
   * before `nowMs` (its holder is not renewing, as far as this view shows), ascending.
   */
  silentShards(nowMs: number, silentMs: number): number[] {
    const silent: number[] = [];
    this.holderOf.forEach((holder, s) => {
      if (holder !== '' && holder !== this.self && nowMs - this.shardChangedAtMs[s]! > silentMs) silent.push(s);
    });
    return silent;
  }

  /** The earliest time after `nowMs` a shard or a member held by another replica turns silent (Infinity: none). */
  nextSilenceAtMs(nowMs: number, shardSilentMs: number, memberSilentMs: number): number {
    let next = Infinity;
    this.holderOf.forEach((holder, s) => {
      const at = this.shardChangedAtMs[s]! + shardSilentMs;
      if (holder !== '' && holder !== this.self && at >= nowMs) next = Math.min(next, at);
    });
    for (const [name, m] of this.memberOf) {
      const at = (this.memberChangedAtMs.get(name) ?? nowMs) + memberSilentMs;
      if (m.identity !== this.self && at >= nowMs) next = Math.min(next, at);
    }
    for (const { untilMs } of this.backoffs.values()) if (untilMs >= nowMs) next = Math.min(next, untilMs);
    return next;
  }

  /** Members currently suspected dead: a shard of theirs taken over by expiry, or a silent membership (for snapshots and tests). */
  suspected(nowMs: number, silentMs: number): string[] {
    return [...new Set([...this.suspects.keys(), ...this.silentMembers(nowMs, silentMs)])].sort();
  }
}
