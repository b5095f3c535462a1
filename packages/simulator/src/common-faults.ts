/**
 * The faults a single-Lease run (fault-schedule.ts) and a sharded run (shards/shard-faults.ts)
 * inject alike: a latency spike, a replica's clock rate change, a paused process resuming.
 */
import type { ReplicaClock } from './replica-clock.js';
import type { Draw } from './rng.js';
import { drawDriftRate } from './timings.js';
import type { Trace } from './trace.js';

/** What these faults act on: the run's shared state (a World or a ShardWorld). */
export interface FaultWorld {
  readonly schedule: Draw;
  readonly trace: Trace;
  readonly faults: Record<'latency-spike' | 'clock-rate-change', number>;
  latencySpike: { minMs: number; maxMs: number } | undefined;
  at(delayMs: number, run: () => void): void;
  disturbBegin(): void;
  disturbEnd(): void;
}

/** One replica process of either run. */
export interface FaultTarget {
  readonly key: string;
  readonly state: string;
  readonly slot: { driftRate: number };
  readonly clock: ReplicaClock;
}

/** Every request slower, up to 1.5 renew deadlines, for 0.5 s to 2 lease durations (one spike at a time). */
export function latencySpike(w: FaultWorld, timing: { readonly leaseDurationMs: number; readonly renewDeadlineMs: number }): void {
  if (w.latencySpike) return;
  const maxMs = w.schedule.between(200, 1.5 * timing.renewDeadlineMs);
  w.latencySpike = { minMs: Math.min(100, maxMs / 2), maxMs };
  w.faults['latency-spike']++;
  w.disturbBegin();
  const durationMs = w.schedule.between(500, 2 * timing.leaseDurationMs);
  w.trace.add(`fault: latency spike up to ${Math.round(maxMs)} ms for ${Math.round(durationMs)} ms`);
  w.at(durationMs, () => {
    w.latencySpike = undefined;
    w.trace.add('fault end: latency spike');
    // Requests sent during the spike may still be on their way (a crashed leader's last
    // renewal, say): the API is healthy only once they have landed.
    w.at(maxMs, () => w.disturbEnd());
  });
}

/** The replica's clock runs at a new rate error, within the drift bound. */
export function changeClockRate(w: FaultWorld, inc: FaultTarget): void {
  const rate = drawDriftRate(w.schedule);
  inc.slot.driftRate = rate;
  inc.clock.setDriftRate(rate);
  w.faults['clock-rate-change']++;
  w.trace.add(`fault: ${inc.key}'s clock rate error is now ${(rate * 100).toFixed(2)}%`);
}

/** A paused process resumes `durationMs` from now, unless it crashed meanwhile (its clock's onCaughtUp ends the disturbance). */
export function resumeAfter(w: FaultWorld, inc: FaultTarget, durationMs: number): void {
  w.at(durationMs, () => {
    if (inc.state === 'crashed') return;
    w.trace.add(`fault end: ${inc.key} resumes (${inc.clock.queuedTimers} timer(s) came due meanwhile)`);
    inc.clock.resume();
  });
}
