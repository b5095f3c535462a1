/**
 * A shard set as its replicas' events show it (`pnpm demo --shards`): every shard term from its
 * `shard.acquired` to its `shard.lost` (or the death of its process), each shard's holder, the
 * moves (through {@link ShardTracker}), two terms of one shard that overlap, and the gaps in which
 * a shard that had been led was led by nobody. Pure: fed events and times, in any arrival order.
 */
import { ShardTracker } from './shard-tracker.js';

/** One term of one shard, as the events show it. */
export interface ShardTerm {
  readonly shard: number;
  readonly identity: string;
  readonly token: number;
  readonly startAt: number;
  /** Its `shard.lost`, or its process's death; undefined while it runs. */
  endAt: number | undefined;
  /** The `shard.lost` reason, or how the process died (`SIGKILL`). */
  endedBy: string | undefined;
}

/** Two terms of one shard that were open at the same time. */
export interface ShardOverlap {
  readonly shard: number;
  readonly first: ShardTerm;
  readonly second: ShardTerm;
}

/** A stretch in which a shard that had been led was led by nobody. */
export interface UnownedGap {
  readonly shard: number;
  /** The previous term's end. */
  readonly from: number;
  /** The next term's start. */
  readonly to: number;
  /** Who led it before, and how that ended. */
  readonly after: string;
}

/** The set's terms and holders, from the events. */
export class ShardLedger {
  /** Holders (a dead process's shards keep its name until taken: its Lease still names it) and moves. */
  readonly tracker: ShardTracker;
  readonly terms: ShardTerm[] = [];
  /** Replicas whose process died without `shard.lost` for its shards. */
  readonly dead = new Set<string>();

  constructor(readonly shards: number) {
    this.tracker = new ShardTracker(shards);
  }

  /** Each shard's holder ('' for none). */
  get holders(): readonly string[] {
    return this.tracker.holders;
  }

  /** `shard.acquired`: `identity` leads `shard` from `at`. */
  acquired(identity: string, shard: number, token: number, at: number): void {
    this.terms.push({ shard, identity, token, startAt: at, endAt: undefined, endedBy: undefined });
    this.tracker.observe(shard, identity, at);
  }

  /** `shard.lost`: `identity`'s term of `shard` ended at `at`. */
  lost(identity: string, shard: number, reason: string, at: number): void {
    const term = this.terms.find((t) => t.shard === shard && t.identity === identity && t.endAt === undefined);
    if (term) {
      term.endAt = at;
      term.endedBy = reason;
    }
    // The next holder's `shard.acquired` may have arrived first (another process, another pipe).
    if (this.tracker.holders[shard] === identity) this.tracker.observe(shard, '', at);
  }

  /** The process of `identity` died at `at` (`how`: `SIGKILL`, ...): its terms end; its Leases still name it. Returns its shards. */
  died(identity: string, how: string, at: number): number[] {
    this.dead.add(identity);
    const ended: number[] = [];
    for (const term of this.terms) {
      if (term.identity !== identity || term.endAt !== undefined) continue;
      term.endAt = at;
      term.endedBy = how;
      ended.push(term.shard);
    }
    return ended.sort((a, b) => a - b);
  }

  /** The shards `identity` holds now, ascending. */
  heldBy(identity: string): number[] {
    return this.holders.flatMap((h, s) => (h === identity ? [s] : []));
  }

  /** Pairs of terms of one shard open at the same time (a term still open counts as open until `now`). */
  overlaps(now: number): ShardOverlap[] {
    const found: ShardOverlap[] = [];
    for (let shard = 0; shard < this.shards; shard++) {
      let latest: ShardTerm | undefined;
      for (const term of this.termsOf(shard)) {
        if (latest && (latest.endAt ?? now) > term.startAt) found.push({ shard, first: latest, second: term });
        if (!latest || (term.endAt ?? now) > (latest.endAt ?? now)) latest = term;
      }
    }
    return found;
  }

  /** Every stretch in which a shard that had been led was led by nobody, until the next term began. */
  unownedGaps(): UnownedGap[] {
    const gaps: UnownedGap[] = [];
    for (let shard = 0; shard < this.shards; shard++) {
      const terms = this.termsOf(shard);
      terms.forEach((term, i) => {
        const next = terms[i + 1];
        if (next && term.endAt !== undefined && next.startAt > term.endAt) {
          gaps.push({ shard, from: term.endAt, to: next.startAt, after: `${term.identity} ${term.endedBy ?? '?'}` });
        }
      });
    }
    return gaps;
  }

  private termsOf(shard: number): ShardTerm[] {
    return this.terms.filter((t) => t.shard === shard).sort((a, b) => a.startAt - b.startAt);
  }
}
