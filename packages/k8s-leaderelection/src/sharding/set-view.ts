/**
 * Owns what one replica sees of a shard set through its feed: each shard's holder, the live
 * members (membership Leases), and the members suspected dead (a shard of theirs was taken over
 * by expiry, not handed over or released, and their membership has not been refreshed since).
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

  constructor(
    private readonly setName: string,
    shardNames: readonly string[],
    private readonly self: string,
  ) {
    this.shardIndex = new Map(shardNames.map((name, i) => [name, i]));
    this.holderOf = shardNames.map(() => '');
  }

  /** Records a change of Lease `name` (undefined: deleted); true when a holder or the member set changed. */
  observe(name: string, lease: Lease | undefined): boolean {
    const shard = this.shardIndex.get(name);
    if (shard !== undefined) return this.observeShard(shard, lease);
    const before = this.memberOf.get(name);
    const member = lease && memberRecordOf(lease, this.setName);
    let cleared = false;
    if (member) {
      this.memberOf.set(name, member);
      // A refreshed membership clears a suspicion: the member is alive after all.
      if (this.suspects.has(member.identity) && isNewerVersion(member.resourceVersion, this.suspects.get(member.identity))) {
        cleared = this.suspects.delete(member.identity);
      }
    } else {
      this.memberOf.delete(name);
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
   * The members placement may count on, sorted: live (renewTime plus duration after `wallNowMs`,
   * as `Membership.members()` judges) and not suspected dead. This replica counts when it is live.
   */
  members(wallNowMs: number): string[] {
    const live = new Set<string>();
    for (const m of this.memberOf.values()) {
      if (m.renewedAtMs + m.durationMs > wallNowMs && !this.suspects.has(m.identity)) live.add(m.identity);
    }
    return [...live].sort();
  }

  /** Members currently suspected dead (for snapshots and tests). */
  suspected(): string[] {
    return [...this.suspects.keys()].sort();
  }
}
