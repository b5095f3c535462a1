/**
 * What a shard set's holders show (the bench reads them from the server's Leases, `pnpm demo
 * --shards` from the replicas' events; `@leasekit/demo/shard-tracker`): each shard's holder, the moves
 * (a shard's holder changing from one replica to another, a release in between or not) and
 * acquisitions (a shard nobody had held taken), and whether the set is balanced: every shard held
 * by a live replica and every live replica holding floor(N/M) or ceil(N/M) of them.
 */

/** One holder change of one shard, at a monotonic time. */
export interface ShardMove {
  readonly shard: number;
  /** The previous holder ('' for an acquisition: nobody had held it). */
  readonly from: string;
  readonly to: string;
  readonly at: number;
}

/** True when every shard is held by one of `live` and each of them holds floor or ceil of N/M. */
export function isBalanced(holders: readonly string[], live: readonly string[]): boolean {
  if (live.length === 0) return false;
  const floor = Math.floor(holders.length / live.length);
  const ceil = Math.ceil(holders.length / live.length);
  const counts = heldCounts(holders, live);
  if (holders.some((h) => !counts.has(h))) return false;
  return [...counts.values()].every((n) => n === floor || n === ceil);
}

/** Shards held by each of `live` (0 for those holding none), in the order of `live`. */
export function heldCounts(holders: readonly string[], live: readonly string[]): Map<string, number> {
  const counts = new Map(live.map((identity) => [identity, 0]));
  for (const h of holders) if (counts.has(h)) counts.set(h, counts.get(h)! + 1);
  return counts;
}

/** The shards' holders as the server's Leases show them, and every move since the start. */
export class ShardTracker {
  /** The holder each shard's Lease names now ('' when none, or released). */
  readonly holders: string[];
  /** Every move and acquisition, in order. */
  readonly moves: ShardMove[] = [];
  /** The last replica that held each shard ('' when none ever did): a release keeps it. */
  private readonly lastHolder: string[];

  constructor(shards: number) {
    this.holders = new Array<string>(shards).fill('');
    this.lastHolder = new Array<string>(shards).fill('');
  }

  /** Records what shard `shard`'s Lease names at `at`; the move it makes, if any. */
  observe(shard: number, holder: string, at: number): ShardMove | undefined {
    this.holders[shard] = holder;
    if (holder === '' || holder === this.lastHolder[shard]) return undefined;
    const move = { shard, from: this.lastHolder[shard]!, to: holder, at };
    this.lastHolder[shard] = holder;
    this.moves.push(move);
    return move;
  }

  /** Moves from one replica to another at or after `since` (acquisitions not counted). */
  movesSince(since: number): ShardMove[] {
    return this.moves.filter((m) => m.at >= since && m.from !== '');
  }

  /** Acquisitions (shards nobody had held) at or after `since`. */
  acquisitionsSince(since: number): number {
    return this.moves.filter((m) => m.at >= since && m.from === '').length;
  }
}
