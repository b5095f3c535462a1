/**
 * A sharded run's fault schedule. The run alternates calm and storm phases: in a storm every
 * kind fires (API error episodes with lost responses, latency spikes, pauses, stalled and
 * dropped watches, clock rate changes within the drift bound); membership events (crash,
 * graceful restart, leave, join) fire in both, so calm phases show what balance and takeover
 * look like with nothing else going on (the windows BAL and UNOWNED judge).
 */
import { changeClockRate, latencySpike } from '../common-faults.js';
import { ERROR_KINDS } from './shard-network.js';
import { crashIncarnation, pauseIncarnation, signalStop, startShardIncarnation } from './shard-replicas.js';
import type { ShardFaultKind, ShardInc } from './shard-types.js';
import type { ShardWorld } from './shard-world.js';

type Scheduled = Exclude<ShardFaultKind, 'lost-response'>;

/** Rates per virtual minute while they may fire. */
export const SHARD_RATES: Record<Scheduled, number> = {
  'api-episode': 1.5,
  'latency-spike': 0.5,
  pause: 1.2,
  'watch-stall': 0.8,
  'watch-drop': 0.8,
  'clock-rate-change': 0.6,
  crash: 0.5,
  'graceful-restart': 0.4,
  leave: 0.2,
  join: 0.3,
};

const MEMBERSHIP_EVENTS: readonly Scheduled[] = ['crash', 'graceful-restart', 'leave', 'join'];

/** Calm phases last 1 to 4 virtual minutes, storms 1 to 3 (the first phase is calm: the set forms). */
export function schedulePhases(w: ShardWorld): void {
  const next = (storm: boolean): void => {
    const durationMs = storm ? w.schedule.between(60_000, 180_000) : w.schedule.between(60_000, 240_000);
    w.at(durationMs, () => {
      if (w.shuttingDown) return;
      w.storm = !storm;
      w.trace.add(w.storm ? 'phase: storm' : 'phase: calm');
      if (w.storm) w.disturbBegin();
      else w.disturbEnd();
      next(!storm);
    });
  };
  next(false);
  for (const kind of Object.keys(SHARD_RATES) as Scheduled[]) scheduleNext(w, kind);
}

function scheduleNext(w: ShardWorld, kind: Scheduled): void {
  w.at(w.schedule.exponential(60_000 / SHARD_RATES[kind]), () => {
    if (w.shuttingDown) return;
    if (w.storm || MEMBERSHIP_EVENTS.includes(kind)) inject(w, kind);
    scheduleNext(w, kind);
  });
}

function pick(w: ShardWorld, filter: (inc: ShardInc) => boolean = () => true): ShardInc | undefined {
  const candidates = w.running().filter(filter);
  return candidates.length === 0 ? undefined : w.schedule.pick(candidates);
}

function inject(w: ShardWorld, kind: Scheduled): void {
  const L = w.timing.leaseDurationMs;
  const R = w.timing.retryPeriodMs;
  switch (kind) {
    case 'api-episode': {
      const target = w.schedule.chance(0.5) ? undefined : pick(w)?.slot;
      // Half of them fail with one kind throughout (an etcd outage: 500s), the others with any.
      const kinds = w.schedule.chance(0.5) ? [w.schedule.pick(ERROR_KINDS)] : ERROR_KINDS;
      const episode = { target, probability: w.schedule.pick([0.3, 0.6, 1]), kinds, lostResponses: w.schedule.chance(0.5) };
      const durationMs = w.schedule.between(300, 2.5 * L);
      w.apiEpisodes.add(episode);
      w.faults['api-episode']++;
      w.disturbBegin();
      w.trace.add(`fault: API failing ${Math.round(episode.probability * 100)}% of calls (${kinds.map(([k]) => k).join(', ')})${episode.lostResponses ? ' (writes may lose their answer)' : ''} for ${target?.id ?? 'everyone'} for ${Math.round(durationMs)} ms`);
      w.at(durationMs, () => {
        w.apiEpisodes.delete(episode);
        w.trace.add('fault end: API episode');
        w.disturbEnd();
      });
      return;
    }
    case 'latency-spike':
      return latencySpike(w, w.timing);
    case 'pause': {
      const inc = pick(w, (i) => !i.clock.suspended);
      if (!inc) return;
      const roll = w.schedule.random();
      pauseIncarnation(w, inc, roll < 0.4 ? w.schedule.between(20, R) : roll < 0.7 ? w.schedule.between(R, L) : w.schedule.between(L, 3 * L));
      return;
    }
    case 'watch-stall': {
      const inc = pick(w, (i) => !i.slot.stalled && i.client.openStreams > 0);
      if (!inc) return;
      inc.slot.stalled = true;
      inc.client.stallWatches();
      w.faults['watch-stall']++;
      w.disturbBegin();
      const durationMs = w.schedule.between(0.5 * L, 3 * L);
      w.trace.add(`fault: ${inc.key}'s set watch stalls for ${Math.round(durationMs)} ms`);
      w.at(durationMs, () => {
        inc.slot.stalled = false;
        inc.client.unstallWatches();
        w.trace.add(`fault end: ${inc.key}'s set watch delivers again`);
        w.disturbEnd();
      });
      return;
    }
    case 'watch-drop': {
      const inc = pick(w, (i) => i.client.openStreams > 0);
      if (!inc) return;
      inc.client.dropWatches();
      w.faults['watch-drop']++;
      w.disturbNow();
      w.trace.add(`fault: ${inc.key}'s set watch dropped`);
      return;
    }
    case 'clock-rate-change': {
      const inc = pick(w);
      if (!inc) return;
      changeClockRate(w, inc);
      w.disturbNow();
      return;
    }
    case 'crash': {
      const inc = pick(w);
      if (!inc) return;
      w.faults.crash++;
      crashIncarnation(w, inc);
      // Most come back with the same identity (sooner or later than the lease); some never do.
      if (w.schedule.chance(0.75)) w.at(w.schedule.between(0.1 * L, 4 * L), () => startShardIncarnation(w, inc.slot));
      else inc.slot.left = true;
      return;
    }
    case 'graceful-restart':
    case 'leave': {
      const inc = pick(w);
      if (!inc || (kind === 'leave' && w.running().length < 2)) return;
      w.faults[kind]++;
      inc.slot.left = kind === 'leave';
      inc.state = 'stopping';
      w.trace.add(`fault: ${inc.key} ${kind === 'leave' ? 'leaves the set' : 'shuts down gracefully to restart'} (holding ${inc.sharded.heldShards().length} shards)`);
      signalStop(inc);
      w.liveMaybeChanged();
      return;
    }
    case 'join': {
      const slots = w.slots.filter((s) => s.left && !(s.current?.state === 'running' || s.current?.state === 'stopping'));
      if (slots.length === 0) return;
      const slot = w.schedule.pick(slots);
      slot.left = false;
      w.faults.join++;
      w.trace.add(`fault: ${slot.id} joins the set`);
      startShardIncarnation(w, slot);
      return;
    }
  }
}
