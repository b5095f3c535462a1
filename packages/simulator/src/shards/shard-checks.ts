/**
 * The sharded run's own checks, at every main-loop step (S1 and S2 are the per-shard
 * InvariantCheckers'): S3 (a live term past its own write's lease, on its own clock), UNOWNED
 * (a crashed holder's shard led again within U), BAL (fair share once stable for T), and the
 * requests-per-minute figures. Bounds: shard-bounds.ts.
 */
import { addSample } from '../histogram.js';
import { balanceBoundMs, unownedBoundMs } from './shard-bounds.js';
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

/** UNOWNED: a shard whose holder crashed is led again within U of the crash (or of the last disturbance after it). */
export function checkOrphans(w: ShardWorld): void {
  const now = w.clock.now();
  const boundMs = unownedBoundMs(w.timing);
  for (const orphan of [...w.orphans]) {
    if (w.disturbances > 0 || w.quietSinceMs > orphan.sinceMs) orphan.disturbed = true;
    const led = w.participants[orphan.shard]!.some((p) => p.alive() && p.isLeader());
    const startMs = Math.max(orphan.sinceMs, w.quietSinceMs);
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
  const stable = w.stableSinceMs;
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
