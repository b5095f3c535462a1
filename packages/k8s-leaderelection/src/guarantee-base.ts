/** Owns the send time a write's guarantee counts from: a write a client-go follower cannot tell from an earlier one counts from that one. */
import { goFollowerKey, type LeaderElectionRecord } from './record.js';

/**
 * Records this replica tried to write as holder, by how a client-go follower sees them, with the
 * send time of the first attempt of each (entries older than a lease duration are dropped).
 */
export class GuaranteeBase {
  private readonly attempts = new Map<string, { record: LeaderElectionRecord; sentAt: number }>();

  /**
   * @param leaseDurationMs attempts older than this give no guarantee any more and are forgotten.
   * @param visible whether a client-go follower that saw `previous` would see `next` as a change.
   */
  constructor(
    private readonly leaseDurationMs: number,
    private readonly visible: (previous: LeaderElectionRecord, next: LeaderElectionRecord) => boolean,
  ) {}

  /**
   * The send time a write of `record` sent at `sentAt` may count its guarantee from. A client-go
   * follower notices a renewal only when the record's JSON (whole-second times) changes, and may
   * miss records in between (a wall clock stepped back can bring an old second back), so a write
   * that looks the same to it as any earlier attempt counts from that attempt's send time.
   */
  sentAtFor(record: LeaderElectionRecord, sentAt: number): number {
    for (const [key, attempt] of this.attempts) {
      if (attempt.sentAt < sentAt - this.leaseDurationMs) this.attempts.delete(key); // gives no guarantee any more
    }
    const key = goFollowerKey(record);
    const earlier = this.attempts.get(key);
    if (earlier !== undefined && !this.visible(earlier.record, record)) return earlier.sentAt;
    this.attempts.set(key, { record, sentAt });
    return sentAt;
  }
}
