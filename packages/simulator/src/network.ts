/** The network and the API server as the electors see them: latency, per-call faults, API and 403 episodes, partitions. */
import { ApiError, NetworkError } from '@leasekit/k8s-leaderelection';
import { makeStatus } from '@leasekit/k8s-leaderelection/internal';
import { leaseErrors, type Fault, type MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { deleteBeforeRead } from './actors.js';
import { pauseProcess } from './fault-schedule.js';
import type { Slot, Process, ApiEpisode, ApiFaultKind } from './sim-types.js';
import type { World } from './world.js';

export function healthyLatency(w: World): number {
  return 0.5 + Math.min(40, w.latency.exponential(4));
}

export function requestLatency(w: World): number {
  const spike = w.latencySpike;
  return spike ? w.latency.between(spike.minMs, spike.maxMs) : healthyLatency(w);
}

export function callFault(w: World, slot: Slot, proc: Process | undefined, call: MemoryCall): Fault | undefined {
  if (proc?.state === 'crashed') return undefined; // a dead process's last request still arrives
  if (slot.partition === 'refuse') return { kind: 'error', error: new NetworkError('connect ECONNREFUSED 10.96.0.1:443') };
  if (slot.partition === 'blackhole') return { kind: 'hang' };
  if (call.verb === 'watch') return undefined; // watch trouble has its own faults
  const write = call.verb === 'create' || call.verb === 'update';
  if (call.verb === 'get' && w.readDeleter === slot) deleteBeforeRead(w, slot, proc);
  const inc = proc?.kind === 'leasekit' ? proc : undefined;
  if (write && slot.pauseOnNextWriteMs !== undefined && inc?.state === 'running' && !inc.clock.suspended) {
    const durationMs = slot.pauseOnNextWriteMs;
    slot.pauseOnNextWriteMs = undefined;
    pauseProcess(w, inc, durationMs, 'pause-in-flight', `while its ${call.verb} is at the server`);
  }
  if (write) {
    for (const episode of w.forbiddenEpisodes) {
      if (episode.target !== undefined && episode.target !== slot) continue;
      w.faults['api-403-forbidden']++;
      w.trace.detail(`${proc?.key ?? slot.id} ${call.verb}: rejected with 403`);
      return {
        kind: 'error',
        error: new ApiError(
          makeStatus(403, 'Forbidden', `admission webhook "leases.policy.example.com" denied the request: ${call.verb} of leases.coordination.k8s.io "${call.name}" is not allowed`),
        ),
      };
    }
  }
  for (const episode of w.apiEpisodes) {
    if (episode.target !== undefined && episode.target !== slot) continue;
    if (!w.callFaults.chance(episode.probability)) continue;
    const kinds = episode.kinds.filter(([kind]) => write || (kind !== 'api-409-conflict' && kind !== 'api-ambiguous-write'));
    if (kinds.length === 0) continue;
    const kind = w.callFaults.weighted(kinds);
    w.faults[kind]++;
    w.trace.detail(`${proc?.key ?? slot.id} ${call.verb}: injected ${kind}`);
    return apiFault(kind, call);
  }
  return undefined;
}

export function apiEpisode(w: World): void {
  const all: (readonly [ApiFaultKind, number])[] = [
    ['api-409-conflict', 1],
    ['api-429-retry-after', 1],
    ['api-500-internal', 1],
    ['api-503-unavailable', 1],
    ['api-timeout', 1],
    ['api-ambiguous-write', 1.5],
  ];
  const kinds = w.schedule.chance(0.5) ? [w.schedule.weighted(all.map(([k, w]) => [[k, w] as const, w] as const))] : all;
  const L = w.fleetTiming.leaseDurationMs;
  const target = w.schedule.chance(0.5) ? undefined : w.pickTarget()?.slot;
  const episode: ApiEpisode = { target, probability: w.schedule.pick([0.3, 0.6, 1]), kinds };
  w.apiEpisodes.add(episode);
  w.disturbBegin();
  const duration = w.schedule.between(300, 2.5 * L);
  w.trace.add(
    `fault: API failing ${Math.round(episode.probability * 100)}% of calls (${kinds.map(([k]) => k).join(', ')}) for ${target ? target.id : 'everyone'} for ${Math.round(duration)} ms`,
  );
  w.at(duration, () => {
    w.apiEpisodes.delete(episode);
    w.trace.add('fault end: API episode');
    w.disturbEnd();
  });
}

/** Cuts one process off the API (refused, or blackholed with its watch stalled) for `durationMs`. */
export function partition(w: World, proc: Process, mode: 'refuse' | 'blackhole', durationMs: number): void {
  const slot = proc.slot;
  slot.partition = mode;
  if (mode === 'blackhole') proc.client.stallWatches();
  else proc.client.dropWatches();
  w.disturbBegin();
  w.trace.add(`fault: ${slot.id} partitioned from the API (${mode}) for ${Math.round(durationMs)} ms${proc.isLeader() ? ' (while leading)' : ''}`);
  w.at(durationMs, () => {
    slot.partition = undefined;
    // A blackholed connection is dead by now: its streams end.
    slot.current?.client.dropWatches();
    w.trace.add(`fault end: ${slot.id} partition healed`);
    w.disturbEnd();
  });
}

/** For a while, every write (or one replica's) is rejected with 403: an admission webhook, or RBAC. */
export function forbidWrites(w: World): void {
  const target = w.schedule.chance(0.5) ? undefined : w.pickTarget()?.slot;
  const episode = { target };
  w.forbiddenEpisodes.add(episode);
  w.disturbBegin();
  const duration = w.schedule.between(0.5, 3) * w.fleetTiming.leaseDurationMs;
  w.trace.add(`fault: writes rejected with 403 (webhook or RBAC) for ${target ? target.id : 'everyone'} for ${Math.round(duration)} ms`);
  w.at(duration, () => {
    w.forbiddenEpisodes.delete(episode);
    w.trace.add('fault end: writes allowed again');
    w.disturbEnd();
  });
}

export function apiFault(kind: ApiFaultKind, call: MemoryCall): Fault {
  switch (kind) {
    case 'api-409-conflict':
      return { kind: 'error', error: leaseErrors.conflict(call.name) };
    case 'api-429-retry-after':
      return {
        kind: 'error',
        error: new ApiError(makeStatus(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 }), { retryAfterSeconds: 1 }),
      };
    case 'api-500-internal':
      return { kind: 'error', error: leaseErrors.internal('Internal error occurred: etcdserver: request timed out') };
    case 'api-503-unavailable':
      return { kind: 'error', error: new ApiError(makeStatus(503, 'ServiceUnavailable', 'the server is currently unable to handle the request')) };
    case 'api-timeout':
      return { kind: 'hang' };
    case 'api-ambiguous-write':
      return { kind: 'drop-response' };
  }
}
