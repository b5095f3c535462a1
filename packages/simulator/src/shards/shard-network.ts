/** The network and API server a sharded run's processes see: per-call faults of API episodes (errors, timeouts, lost responses of writes). */
import type { MemoryCall, Fault } from '@leasekit/k8s-leaderelection/testing';
import { apiFault } from '../network.js';
import type { ApiFaultKind } from '../sim-types.js';
import type { ShardInc, ShardSlot } from './shard-types.js';
import type { ShardWorld } from './shard-world.js';

/** The error kinds of an API episode (a lost write answer is added where the episode has them). */
export const ERROR_KINDS: readonly (readonly [ApiFaultKind, number])[] = [
  ['api-409-conflict', 1],
  ['api-429-retry-after', 1],
  ['api-500-internal', 1],
  ['api-503-unavailable', 1],
  ['api-timeout', 1],
];

export function shardCallFault(w: ShardWorld, slot: ShardSlot, inc: ShardInc | undefined, call: MemoryCall): Fault | undefined {
  if (inc?.state === 'crashed') return undefined; // a dead process's last request still arrives
  if (call.verb === 'watch' || call.verb === 'watchSet') return undefined; // watch trouble has its own faults
  const write = call.verb === 'create' || call.verb === 'update' || call.verb === 'delete';
  for (const episode of w.apiEpisodes) {
    if (episode.target !== undefined && episode.target !== slot) continue;
    if (!w.callFaults.chance(episode.probability)) continue;
    const kinds: (readonly [ApiFaultKind, number])[] = episode.kinds.filter(([kind]) => write || kind !== 'api-409-conflict');
    // A lost response: the write commits, the answer never reaches the process (an ambiguous write).
    if (write && episode.lostResponses) kinds.push(['api-ambiguous-write', 3]);
    if (kinds.length === 0) continue;
    const kind = w.callFaults.weighted(kinds);
    if (kind === 'api-ambiguous-write') w.faults['lost-response']++;
    w.trace.detail(`${inc?.key ?? slot.id} ${call.verb} ${call.name}: injected ${kind}`);
    return apiFault(kind, call);
  }
  return undefined;
}
