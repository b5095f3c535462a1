/** Owns what this process saw of the Lease and when (its monotonic time): record, observed time, expiry, missing since, highest tokens. */
import { isClaim } from './claim.js';
import type { Clock } from './clock.js';
import type { Lease } from './lease.js';
import type { SafeLogger } from './logger.js';
import { recordFromLease, sameRecord, type LeaderElectionRecord } from './record.js';

/** What this process saw of the lease, and when (its own monotonic time). */
export interface Observation {
  record: LeaderElectionRecord;
  /** The object as read (its metadata makes the next write a compare-and-swap). */
  lease: Lease;
  /** Monotonic time this process first saw this record. */
  atMs: number;
}

export interface LeaseObservationOptions {
  readonly clock: Clock;
  readonly log: SafeLogger;
  /** The duration assumed for a held record without a usable one (our own lease duration). */
  readonly fallbackDurationMs: number;
}

/**
 * The observation bookkeeping of one elector. Expiry is judged only from this process's own
 * observation time plus the duration written in the record: server timestamps (renewTime) are
 * never compared with the local clock.
 */
export class LeaseObservation {
  /** The last record observed (undefined before any). Replaced, not mutated, when the record changes. */
  current: Observation | undefined;
  /** Monotonic time since which the Lease has been seen missing (404 or a DELETED event), if it is. */
  missingSince: number | undefined;
  /** The highest fencing token (leaseTransitions) seen in a record that is not a claim; -1 before any. */
  highestToken = -1;
  /** The highest token seen in any record, claims included (a claim's token may become a term's). */
  highestTokenAny = -1;
  /** The longest lease duration (ms) seen in any held record. */
  longestSeenDurationMs = 0;
  /** The last malformed-content report logged, so a bad Lease is reported once, not every poll. */
  private lastProblems = '';

  constructor(private readonly options: LeaseObservationOptions) {}

  /** The Lease was found missing; the first time counts (until it is seen again). */
  markMissing(): void {
    this.missingSince ??= this.options.clock.now();
  }

  /**
   * Records a Lease as read at `atMs`. Returns the current observation and whether it is a new
   * one: a changed record, or the same record in a recreated object (a new uid), restarts the
   * observed time; the same record again only refreshes the object's metadata.
   */
  record(lease: Lease, atMs = this.options.clock.now()): { observation: Observation; changed: boolean } {
    this.missingSince = undefined;
    const { record, problems } = recordFromLease(lease);
    if (problems.length > 0) {
      const key = problems.join('; ');
      if (key !== this.lastProblems) {
        this.lastProblems = key;
        this.options.log.warn('Malformed lease content; treating it conservatively', { problems });
      }
    }
    // A claim's token is what is checked against the highest seen, so claims count separately.
    if (!isClaim(lease)) this.highestToken = Math.max(this.highestToken, record.leaseTransitions);
    this.highestTokenAny = Math.max(this.highestTokenAny, record.leaseTransitions);
    if (record.holderIdentity !== '' && record.leaseDurationSeconds !== null) {
      this.longestSeenDurationMs = Math.max(this.longestSeenDurationMs, record.leaseDurationSeconds * 1000);
    }
    if (this.current && sameRecord(this.current.record, record) && sameObject(this.current.lease, lease)) {
      this.current.lease = lease; // same record, possibly newer metadata
      return { observation: this.current, changed: false };
    }
    this.current = { record, lease, atMs };
    return { observation: this.current, changed: true };
  }

  /**
   * Monotonic time at which `obs` expires: its observed time for a free lease, else its observed
   * time plus the duration written in it (a missing or unusable duration never means "expired
   * now": the fallback duration applies).
   */
  expiresAtMs(obs: Observation): number {
    if (obs.record.holderIdentity === '') return obs.atMs;
    const durationMs = obs.record.leaseDurationSeconds === null ? this.options.fallbackDurationMs : obs.record.leaseDurationSeconds * 1000;
    return obs.atMs + durationMs;
  }

  /** Whether `obs` has expired by now. */
  isExpired(obs: Observation): boolean {
    return this.expiresAtMs(obs) <= this.options.clock.now();
  }
}

/** Whether two reads are of the same Lease object (a deleted and recreated Lease has a new uid). */
function sameObject(a: Lease, b: Lease): boolean {
  return a.metadata?.uid === b.metadata?.uid;
}
