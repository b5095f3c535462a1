/**
 * Owns what one replica sees of a shard set through its feed: each shard's holder, the live
 * members (membership Leases), the members suspected dead (a shard of theirs was taken over
 * by expiry, not handed over or released, and their membership has not been refreshed since; or
 * their membership stopped changing on the feed), and the shards whose record stopped changing.
 * Silence is judged on local monotonic observation times, never on the wall clock.
 * A hint for placement only: who leads a shard is decided by that shard's Elector alone.
 */
import { MEMBER_OF_LABEL } from '../membership.js';
import type { Lease } from '../lease.js';
import { parseMicroTime } from '../record.js';
import { HANDOVER_ANNOTATION } from '../records.js';
import { isNewerVersion } from './set-feed.js';

/** A live member as read from its membership Lease (wall times, epoch ms). */
interface MemberRecord {
  readonly identity: string;
  readonly renewedAtMs: number;
  readonly durationMs: number;
  readonly resourceVersion: string | undefined;
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
  return { identity, renewedAtMs, durationMs: seconds * 1000, resourceVersion: meta.resourceVersion };
}

export class SetView {
  /** Shard Lease name -> shard index. */
  private readonly shardIndex: Map<string, number>;
  /** Each shard's holder as last seen ('' for none, a released record, or a missing Lease). */
  private readonly holderOf: string[];
  /** Membership Lease name -> member. */
  private readonly memberOf = new Map<string, MemberRecord>();
  /** Suspected member -> the resourceVersion its membership Lease had when the suspicion arose. */
  private readonly suspects = new Map<string, string | undefined>();
  /** Each shard's Lease: local monotonic time its resourceVersion was last seen to change. */
  private readonly shardChangedAtMs: number[];
  /** Membership Lease name -> local monotonic time its resourceVersion was last seen to change. */
  private readonly memberChangedAtMs = new Map<string, number>();

  constructor(
    private readonly setName: string,
    shardNames: readonly string[],
    private readonly self: string,
  ) {
    this.shardIndex = new Map(shardNames.map((name, i) => [name, i]));
    this.holderOf = shardNames.map(() => '');
    this.shardChangedAtMs = shardNames.map(() => 0);
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
      return this.observeShard(shard, lease);
    }
    const before = this.memberOf.get(name);
    const member = lease && memberRecordOf(lease, this.setName);
    let cleared = false;
    if (member) {
      if (!this.memberChangedAtMs.has(name)) {
        const ageMs = Math.min(Math.max(0, wallNowMs - member.renewedAtMs), member.durationMs);
        this.memberChangedAtMs.set(name, nowMs - (Number.isFinite(ageMs) ? ageMs : 0));
      } else if (before?.resourceVersion !== member.resourceVersion) this.memberChangedAtMs.set(name, nowMs);
      this.memberOf.set(name, member);
      // A refreshed membership clears a suspicion: the member is alive after all.
      if (this.suspects.has(member.identity) && isNewerVersion(member.resourceVersion, this.suspects.get(member.identity))) {
        cleared = this.suspects.delete(member.identity);
      }
    } else {
      this.memberOf.delete(name);
      this.memberChangedAtMs.delete(name);
      if (before) this.suspects.delete(before.identity); // gone for good: nothing left to suspect
    }
    return cleared || before?.identity !== member?.identity;
  }

  private observeShard(shard: number, lease: Lease | undefined): boolean {
    const previous = this.holderOf[shard]!;
    const holder = lease?.spec?.holderIdentity ?? '';
    if (holder === previous) return false;
    this.holderOf[shard] = holder;
    // previous -> holder without a release or a handover naming previous: taken over by expiry.
    if (previous !== '' && holder !== '' && previous !== this.self && lease?.metadata?.annotations?.[HANDOVER_ANNOTATION] !== previous) {
      const member = [...this.memberOf.values()].find((m) => m.identity === previous);
      this.suspects.set(previous, member?.resourceVersion);
    }
    return true;
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
      if (nowMs - seenAtMs < m.durationMs && !this.suspects.has(m.identity) && !silent.has(m.identity)) live.add(m.identity);
    }
    return [...live].sort();
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
    return next;
  }

  /** Members currently suspected dead: a shard of theirs taken over by expiry, or a silent membership (for snapshots and tests). */
  suspected(nowMs: number, silentMs: number): string[] {
    return [...new Set([...this.suspects.keys(), ...this.silentMembers(nowMs, silentMs)])].sort();
  }
}
