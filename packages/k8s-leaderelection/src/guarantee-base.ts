/** Owns the send time a write's guarantee counts from: a write a client-go follower cannot tell from an earlier one (ours, or a record naming us we took over) counts from that one. */
import { goFollowerKey, type LeaderElectionRecord } from './record.js';

/**
 * Records this replica tried to write as holder, by how a client-go follower sees them, with the
 * send time of the first attempt of each. Attempts older than a lease duration are dropped, and
 * what is left of them is the range of renewTime seconds written in the current term: a record
 * that falls in that range without a remembered attempt may repeat a forgotten one.
 */
export class GuaranteeBase {
  private readonly attempts = new Map<string, { record: LeaderElectionRecord; sentAt: number }>();
  /** The current term's records without their renewTime, and the renewTime seconds it has written. */
  private term: { key: string; lowestSecond: number; highestSecond: number } | undefined;

  /**
   * @param leaseDurationMs attempts older than this give no guarantee any more and are forgotten.
   * @param visible whether a follower that saw `previous` would see `next` as a change.
   */
  constructor(
    private readonly leaseDurationMs: number,
    private readonly visible: (previous: LeaderElectionRecord, next: LeaderElectionRecord) => boolean,
  ) {}

  /**
   * The send time a write of `record` sent at `sentAt` may count its guarantee from. A client-go
   * follower notices a renewal only when the record's JSON (whole-second times) changes, and may
   * miss records in between (a wall clock stepped back, standing still or oscillating can bring an
   * old second back), so a write that looks the same to it as any earlier attempt counts from
   * that attempt's send time: a follower that saw that attempt, and none of the records between,
   * times the lease from then. An attempt forgotten (older than a lease duration) gives no
   * guarantee, so a write that may repeat one counts from -Infinity: it gives none either.
   */
  /**
   * A record naming this replica that it did not write in this process (a directed handover's
   * record, or one a previous incarnation of this identity wrote), first observed at `observedAtMs`
   * and about to be written over. A client-go follower that saw it cannot tell a write of ours in
   * the same whole second from it, and times both from when it saw it: such a write counts from
   * `observedAtMs`, not from its own later send time. An earlier entry for the same view is kept.
   */
  seed(record: LeaderElectionRecord, observedAtMs: number): void {
    const key = goFollowerKey(record);
    const earlier = this.attempts.get(key);
    if (earlier === undefined || observedAtMs < earlier.sentAt) this.attempts.set(key, { record, sentAt: observedAtMs });
  }

  sentAtFor(record: LeaderElectionRecord, sentAt: number): number {
    for (const [key, attempt] of this.attempts) {
      if (attempt.sentAt < sentAt - this.leaseDurationMs) this.attempts.delete(key); // gives no guarantee any more
    }
    const key = goFollowerKey(record);
    const earlier = this.attempts.get(key);
    if (earlier !== undefined && !this.visible(earlier.record, record)) return earlier.sentAt;
    const repeatsForgotten = earlier === undefined && this.mayRepeatForgotten(record);
    this.attempts.set(key, { record, sentAt: repeatsForgotten ? -Infinity : sentAt });
    return repeatsForgotten ? -Infinity : sentAt;
  }

  /**
   * Whether `record`, of which no attempt is remembered, may look like one written earlier in this
   * term and forgotten since: a repeat would not be seen as a change (always so for a client-go
   * follower when the whole-second JSON is the same) and its renewTime second lies within those
   * this term has written. Records of another term (holder, acquireTime, token...) never repeat
   * this term's; a new term starts the range afresh.
   */
  private mayRepeatForgotten(record: LeaderElectionRecord): boolean {
    const second = record.renewTimeMs === null ? null : Math.floor(record.renewTimeMs / 1000);
    const termKey = goFollowerKey({ ...record, renewTimeMs: null });
    if (this.term?.key !== termKey || second === null) {
      this.term = second === null ? undefined : { key: termKey, lowestSecond: second, highestSecond: second };
      return false;
    }
    const inRange = second >= this.term.lowestSecond && second <= this.term.highestSecond;
    this.term.lowestSecond = Math.min(this.term.lowestSecond, second);
    this.term.highestSecond = Math.max(this.term.highestSecond, second);
    return inRange && !this.visible(record, record);
  }
}
