/**
 * The sharded run's own checks, at every main-loop step (S1 and S2 are the per-shard
 * InvariantCheckers'): S3 (a live term past its own write's lease, on its own clock), UNOWNED
 * (a crashed holder's shard led again within U), BAL (fair share once stable for T, and no
 * back-off longer than its bound), and the requests-per-minute figures. Bounds: shard-bounds.ts.
 */
import { addSample } from '../histogram.js';
import { backoffBoundMs, balanceBoundMs, unownedBoundMs } from './shard-bounds.js';
import type { ShardInc } from './shard-types.js';
import type { ShardWorld } from './shard-world.js';

/** S3: every running process's live shard term ends before the lease its latest answered write counted from, on its own clock. */
export function checkTermsWithinLease(w: ShardWorld): void {
  const L = w.timing.leaseDurationMs;
  for (const inc of w.incarnations) {
    if ((inc.state !== 'running' && inc.state !== 'stopping') || inc.clock.suspended) continue;
    const now = inc.clock.now();
    for (let s = 0; s < w.shards; s++) {
      const term = inc.terms[s];
      if (!term || term.signal.aborted || inc.s3Reported.has(term.id)) continue;
      const sentAt = inc.ownWriteSentAt[s]!;
      if (now > sentAt + L) {
        inc.s3Reported.add(term.id);
        w.report('S3', `shard ${s}: ${inc.key}'s term (token ${term.token}) is still live ${Math.round(now - sentAt - L)} ms past the lease of its last answered write (sent at its ${Math.round(sentAt)} ms, lease ${L} ms)`);
      }
    }
  }
}

/**
 * UNOWNED: a shard whose holder crashed is led again within U of the crash, of the end of the last
 * fault after it, or of the last change of the live set after it (a replica that starts, or one
 * that is left after its would-be taker died, judges the record's expiry from its own first sight
 * of it: seed 162, where the replica about to take the shard crashed just before its wait ended).
 */
export function checkOrphans(w: ShardWorld): void {
  const now = w.clock.now();
  const boundMs = unownedBoundMs(w.timing);
  for (const orphan of [...w.orphans]) {
    if (w.disturbances > 0 || w.stableSinceMs > orphan.sinceMs) orphan.disturbed = true;
    const led = w.participants[orphan.shard]!.some((p) => p.alive() && p.isLeader());
    const startMs = Math.max(orphan.sinceMs, w.stableSinceMs);
    if (led) {
      if (!orphan.disturbed) {
        w.orphansJudged++;
        w.longestUnownedMs = Math.max(w.longestUnownedMs, now - orphan.sinceMs);
      }
      w.orphans.splice(w.orphans.indexOf(orphan), 1);
      continue;
    }
    if (w.disturbances > 0 || w.shuttingDown || now - startMs <= boundMs) continue;
    w.orphans.splice(w.orphans.indexOf(orphan), 1);
    if (!orphan.disturbed) w.orphansJudged++;
    w.report('UNOWNED', `shard ${orphan.shard}, held by ${orphan.holder} when it crashed at ${(orphan.sinceMs / 1000).toFixed(3)}s, still unled ${Math.round(now - startMs)} ms later with ${w.live().length} live replica(s) and nothing else disturbing (bound ${Math.round(boundMs)} ms)`);
  }
}

/**
 * The members `inc` does not count now because handovers to them failed: what its
 * `snapshot().backedOff` lists, read from its view directly (a whole snapshot at every step
 * would cost the run more than the check).
 */
function backedOffBy(inc: ShardInc): string[] {
  const view = (inc.sharded as unknown as { view?: { backedOffMembers?: (nowMs: number) => string[] } }).view;
  if (typeof view?.backedOffMembers !== 'function') throw new Error('ShardedElector has no view.backedOffMembers: update shard-checks.ts');
  return view.backedOffMembers(inc.clock.now());
}

/**
 * BAL's part on back-offs: marks when a live replica last listed a live member as backed off
 * (the balance window starts after it), and reports a replica that lists a member without a
 * break for longer than backoffBoundMs (a back-off must end, or it postpones the balance for ever).
 */
export function checkBackoffs(w: ShardWorld): void {
  const now = w.clock.now();
  const liveIds = new Set(w.live().map((inc) => inc.slot.id));
  const listed = new Set<string>();
  for (const inc of w.incarnations) {
    if (inc.state !== 'running') continue;
    for (const member of backedOffBy(inc)) {
      const key = `${inc.key} ${member}`;
      listed.add(key);
      if (liveIds.has(inc.slot.id) && liveIds.has(member)) w.backoffSeenAtMs = now;
      const since = w.backoffSince.get(key);
      if (since === undefined) {
        w.backoffSince.set(key, now);
        w.backoffs++;
        continue;
      }
      w.longestBackoffMs = Math.max(w.longestBackoffMs, now - since);
      const boundMs = backoffBoundMs(w.timing);
      if (now - since > boundMs && !w.backoffReported.has(key)) {
        w.backoffReported.add(key);
        w.report('BAL', `${inc.key} has not counted ${member} for ${Math.round(now - since)} ms without a break (back-off bound ${Math.round(boundMs)} ms)`);
      }
    }
  }
  for (const key of w.backoffSince.keys()) if (!listed.has(key)) w.backoffSince.delete(key);
}

/** BAL: once the live set and the fault mix have stood still for T, every live replica holds floor or ceil of N/M. */
export function checkBalance(w: ShardWorld): void {
  if (w.disturbances > 0 || w.shuttingDown) return;
  const live = w.live();
  const M = live.length;
  if (M === 0) {
    // No one to lead: whatever waits for a replica waits from when one is back.
    w.disturbNow();
    return;
  }
  const now = w.clock.now();
  // A member some live replica does not count yet (backed off): the window starts after that.
  const stable = Math.max(w.stableSinceMs, w.backoffSeenAtMs);
  const counts = live.map((inc) => inc.sharded.heldShards().length);
  const lo = Math.floor(w.shards / M);
  const hi = Math.ceil(w.shards / M);
  const balanced = counts.every((c) => c >= lo && c <= hi);
  if (balanced && w.balancedFor !== stable) {
    w.balancedFor = stable;
    w.longestBalanceMs = Math.max(w.longestBalanceMs, now - stable);
  }
  const boundMs = balanceBoundMs(w.timing, w.shards, M);
  if (now - stable < boundMs || w.balanceReportedFor === stable) return;
  if (w.balanceJudgedFor !== stable) {
    w.balanceJudgedFor = stable;
    w.balanceJudged++;
  }
  if (balanced) return;
  w.balanceReportedFor = stable;
  const held = live.map((inc, i) => `${inc.key} ${counts[i]}`).join(', ');
  w.report('BAL', `${M} live replicas, ${w.shards} shards, stable for ${Math.round(now - stable)} ms (bound ${Math.round(boundMs)} ms), yet not each at ${lo === hi ? lo : `${lo} or ${hi}`}: ${held}`);
}

/** At each virtual minute's end: one sample per replica running then. */
export function countRequestsPerMinute(w: ShardWorld): void {
  const minute = Math.floor(w.clock.now() / 60_000);
  if (minute <= w.statsMinute || w.shuttingDown) return;
  w.statsMinute = minute;
  for (const slot of w.slots) {
    const state = slot.current?.state;
    if (state === 'running' || state === 'stopping') addSample(w.requestsPerReplicaMinute, slot.requestsThisMinute);
    slot.requestsThisMinute = 0;
  }
}
