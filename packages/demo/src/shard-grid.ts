/**
 * The text picture of a shard set for `pnpm demo --shards`: one line with every shard's holder
 * (`0:r1 1:r3 2:r2+ 3:--`) and how many shards each live replica holds, and its legend. Pure.
 */
import { heldCounts, isBalanced } from './shard-tracker.js';

/** `replica-3` -> `r3`; any other name stays as it is. */
export function shortName(identity: string): string {
  const m = /^replica-(\d+)$/.exec(identity);
  return m ? `r${m[1]}` : identity;
}

/** What the grid's marks mean, in one line. */
export const SHARD_GRID_LEGEND = 'shard:holder, rN = replica-N, -- = nobody, rN+ = the Lease still names replica-N, whose process is dead (until the lease expires)';

/**
 * One picture of the set: each shard with its holder, then each live replica's count, then
 * whether it is balanced (floor or ceil of N/M on every live replica, every shard held by one).
 */
export function shardGridLine(holders: readonly string[], live: readonly string[], dead: ReadonlySet<string>): string {
  const cells = holders.map((h, s) => `${s}:${h === '' ? '--' : `${shortName(h)}${dead.has(h) ? '+' : ''}`}`);
  const counts = [...heldCounts(holders, live)].map(([id, n]) => `${shortName(id)} ${n}`).join(', ');
  return `${cells.join(' ')}  | ${counts || 'no replica running'}${isBalanced(holders, live) ? '  balanced' : ''}`;
}
