/** The fault schedule: when each kind fires, what it does (spikes, watch faults, pauses, crashes, restarts, clock rate changes, wall clocks). */
import { actorDelete, startReadDeleter, actorRewrite } from './actors.js';
import { changeClockRate, latencySpike, resumeAfter } from './common-faults.js';
import { HANDOVER_FAULTS, WALL_CLOCK_FAULTS, type ScheduledFault } from './faults.js';
import { actorPreferHolder, directedHandover } from './handover.js';
import { crashGo } from './go-process.js';
import { apiEpisode, partition, forbidWrites } from './network.js';
import { startIncarnation, signalStop } from './replicas.js';
import { startRollout } from './rollout-actor.js';
import type { Incarnation } from './sim-types.js';
import { freezeWallClock, stepWallClockBack } from './wall-clock-fault.js';
import type { World } from './world.js';

export function scheduleNext(w: World, kind: ScheduledFault): void {
  const rate = w.rates[kind];
  if (!(rate > 0)) return;
  const draw = WALL_CLOCK_FAULTS.includes(kind) ? w.wallClockDraw : HANDOVER_FAULTS.includes(kind) ? w.handoverDraw : w.schedule;
  w.at(draw.exponential(60_000 / rate), () => {
    if (w.shuttingDown) return;
    inject(w, kind);
    scheduleNext(w, kind);
  });
}

export function inject(w: World, kind: ScheduledFault): void {
  const L = w.fleetTiming.leaseDurationMs;
  switch (kind) {
    case 'api-episode':
      return apiEpisode(w);
    case 'latency-spike':
      return latencySpike(w, w.fleetTiming);
    case 'partition': {
      const proc = w.pickAnyTarget();
      if (!proc || proc.slot.partition) return;
      const mode = w.schedule.chance(0.5) ? 'refuse' : 'blackhole';
      partition(w, proc, mode, w.schedule.between(0.5 * L, 4 * L));
      w.faults.partition++;
      return;
    }
    case 'watch-stall': {
      const inc = w.pickTarget({ watching: true });
      if (!inc || inc.slot.stalled || inc.client.openStreams === 0) return;
      const slot = inc.slot;
      slot.stalled = true;
      inc.client.stallWatches();
      w.faults['watch-stall']++;
      w.disturbBegin();
      const duration = w.schedule.between(0.5 * L, 3 * L);
      w.trace.add(`fault: ${inc.key}'s watch stalls for ${Math.round(duration)} ms`);
      w.at(duration, () => {
        slot.stalled = false;
        if (slot.partition !== 'blackhole') inc.client.unstallWatches();
        w.trace.add(`fault end: ${inc.key}'s watch delivers again`);
        w.disturbEnd();
      });
      return;
    }
    case 'watch-drop': {
      const inc = w.pickTarget({ watching: true });
      if (!inc || inc.client.openStreams === 0) return;
      inc.client.dropWatches();
      w.faults['watch-drop']++;
      w.disturbNow();
      w.trace.add(`fault: ${inc.key}'s watch stream dropped`);
      return;
    }
    case 'watch-reset-all': {
      const ended = w.store.stopAllWatches();
      w.faults['watch-reset-all']++;
      let compacted = false;
      if (w.schedule.chance(0.3)) {
        w.store.compact();
        w.faults['watch-410-compaction']++;
        compacted = true;
      }
      w.disturbNow();
      w.trace.add(`fault: API server ended all ${ended} watch streams${compacted ? ' and compacted its history' : ''}`);
      return;
    }
    case 'pause': {
      const inc = w.pickTarget({ notSuspended: true });
      if (!inc) return;
      const roll = w.schedule.random();
      const R = w.fleetTiming.retryPeriodMs;
      const duration = roll < 0.4 ? w.schedule.between(20, R) : roll < 0.7 ? w.schedule.between(R, L) : w.schedule.between(L, 3 * L);
      pauseProcess(w, inc, duration, 'pause', '');
      return;
    }
    case 'pause-in-flight': {
      // The leader half of the time: its next write is a renewal (the answer that would extend
      // its guarantee waits while the process is stopped).
      const target = w.pickTarget();
      if (!target) return;
      const slot = target.slot;
      if (slot.pauseOnNextWriteMs !== undefined) return;
      slot.pauseOnNextWriteMs = w.schedule.chance(0.2) ? w.schedule.between(20, L) : w.schedule.between(L, 3 * L);
      w.trace.detail(`armed: ${slot.id} pauses when its next write reaches the server`);
      // Disarm if it has not written for a while: the fault is about that moment only.
      w.at(4 * L, () => {
        slot.pauseOnNextWriteMs = undefined;
      });
      return;
    }
    case 'crash': {
      const proc = w.pickAnyTarget();
      if (!proc) return;
      if (proc.kind === 'go') crashGo(w, proc);
      else crash(w, proc);
      return;
    }
    case 'graceful-restart': {
      const inc = w.pickTarget();
      if (!inc) return;
      inc.state = 'stopping';
      w.faults['graceful-stop']++;
      w.disturbBegin();
      w.trace.add(`fault: ${inc.key} shuts down gracefully${inc.elector.isLeader() ? ' (while leading)' : ''}`);
      // Delivered through its clock: a paused process handles SIGTERM when it runs again.
      signalStop(w, inc);
      return;
    }
    case 'clock-rate-change': {
      const inc = w.pickTarget();
      if (!inc) return;
      changeClockRate(w, inc);
      return;
    }
    case 'wall-clock-freeze':
      return freezeWallClock(w);
    case 'wall-clock-step-back':
      return stepWallClockBack(w);
    case 'actor-delete-lease':
      return actorDelete(w);
    case 'actor-rewrite-holder':
      return actorRewrite(w);
    case 'actor-delete-before-read':
      return startReadDeleter(w);
    case 'write-forbidden':
      return forbidWrites(w);
    case 'rollout':
      return startRollout(w);
    case 'directed-handover':
      return directedHandover(w);
    case 'actor-prefer-holder':
      return actorPreferHolder(w);
  }
}

export function pauseProcess(w: World, inc: Incarnation, durationMs: number, kind: 'pause' | 'pause-in-flight', detail: string): void {
  inc.clock.pause();
  w.checker.suspended(inc);
  w.faults[kind]++;
  w.disturbBegin();
  w.trace.add(`fault: ${inc.key} paused for ${Math.round(durationMs)} ms${detail ? ` ${detail}` : ''}${inc.elector.isLeader() ? ' (while leading)' : ''}`);
  resumeAfter(w, inc, durationMs);
}

export function crash(w: World, inc: Incarnation): void {
  const wasLeader = inc.elector.isLeader();
  const wasSuspended = inc.clock.suspended;
  const wasStopping = inc.state === 'stopping';
  inc.state = 'crashed';
  w.configVersion++;
  inc.clock.kill();
  inc.client.kill();
  w.checker.crashed(inc);
  w.faults.crash++;
  if (wasSuspended) w.disturbEnd();
  if (wasStopping) w.disturbEnd();
  w.disturbNow();
  w.trace.add(`fault: ${inc.key} crashed${wasLeader ? ' (while leading)' : ''}`);
  const L = w.fleetTiming.leaseDurationMs;
  w.at(w.schedule.between(0.2 * L, 2 * L), () => {
    w.disturbNow();
    w.faults.restart++;
    startIncarnation(w, inc.slot);
  });
}
