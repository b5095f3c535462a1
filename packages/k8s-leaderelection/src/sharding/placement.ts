/**
 * Owns shard placement: the rendezvous score of (identity, shard), the fair share of N shards over
 * M members, and the plan (who should hold each shard) that reaches a fair share with the fewest
 * moves. Pure functions: no I/O, no clock; the same inputs give the same plan on every replica.
 */
import { createHash } from 'node:crypto';

/** A member's preference for a shard: higher is preferred. */
export type ScoreFn = (identity: string, shard: number) => number;

/**
 * The rendezvous (highest-random-weight) score of `identity` for `shard`: the first 48 bits of
 * SHA-256 over the identity, a NUL and the shard index. Stable across processes and versions.
 */
export function rendezvousScore(identity: string, shard: number): number {
  return createHash('sha256').update(`${identity}\u0000${shard}`, 'utf8').digest().readUIntBE(0, 6);
}

/** Caches {@link rendezvousScore} (members and shards rarely change). */
export function cachedScores(): ScoreFn {
  const cache = new Map<string, number>();
  return (identity, shard) => {
    const key = `${shard}\u0000${identity}`;
    let score = cache.get(key);
    if (score === undefined) {
      if (cache.size > 100_000) cache.clear(); // bounded: a long run with many identities
      score = rendezvousScore(identity, shard);
      cache.set(key, score);
    }
    return score;
  };
}

/** The fair share of `shards` over `members` members: every member holds `floor` or `ceil`. */
export function fairShare(shards: number, members: number): { floor: number; ceil: number } {
  if (members <= 0) return { floor: 0, ceil: 0 };
  const floor = Math.floor(shards / members);
  return { floor, ceil: shards % members === 0 ? floor : floor + 1 };
}

function byIdentity(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Who should hold each shard. `holders[s]` is the current holder of shard `s` ('' or a non-member
 * when nobody in `members` holds it). The plan:
 *
 * 1. Quotas: `N mod M` members get `ceil(N/M)`, the rest `floor(N/M)`; the ceil quotas go to the
 *    members holding the most shards (ties: identity), so a balanced set has no surplus at all.
 * 2. A member above its quota keeps the shards it scores highest and gives up the rest.
 * 3. The given-up shards and the shards no member holds go, in shard order, each to the member
 *    with room left that scores it highest (rendezvous).
 *
 * So the number of shards that change hands is the least any fair placement needs (the surplus
 * above the quotas), a balanced set plans no move, and which shards move is decided by the
 * stable hash. Returns `undefined` for every shard when there is no member.
 */
export function plan(shards: number, members: readonly string[], holders: readonly string[], score: ScoreFn = rendezvousScore): (string | undefined)[] {
  const owners: (string | undefined)[] = new Array<string | undefined>(shards).fill(undefined);
  if (members.length === 0) return owners;
  const held = new Map<string, number[]>(members.map((m) => [m, []]));
  const pool: number[] = [];
  for (let s = 0; s < shards; s++) {
    const list = held.get(holders[s] ?? '');
    if (list) list.push(s);
    else pool.push(s);
  }
  const { floor } = fairShare(shards, members.length);
  const extra = shards % members.length;
  const ranked = [...members].sort((a, b) => held.get(b)!.length - held.get(a)!.length || byIdentity(a, b));
  const room = new Map<string, number>();
  ranked.forEach((member, i) => {
    const quota = floor + (i < extra ? 1 : 0);
    const mine = held.get(member)!.sort((a, b) => score(member, b) - score(member, a) || a - b);
    mine.slice(0, quota).forEach((s) => (owners[s] = member));
    pool.push(...mine.slice(quota));
    room.set(member, quota - Math.min(quota, mine.length));
  });
  pool.sort((a, b) => a - b);
  for (const s of pool) {
    let best: string | undefined;
    for (const member of members) {
      if (room.get(member)! <= 0) continue;
      if (best === undefined || score(member, s) > score(best, s) || (score(member, s) === score(best, s) && member < best)) best = member;
    }
    // Quotas sum to N, so there is always room for a pooled shard.
    owners[s] = best;
    if (best !== undefined) room.set(best, room.get(best)! - 1);
  }
  return owners;
}

/** The shards `plan` moves: those whose planned owner is not their current holder. */
export function plannedMoves(holders: readonly string[], owners: readonly (string | undefined)[]): number[] {
  const moves: number[] = [];
  owners.forEach((owner, s) => {
    if (owner !== undefined && owner !== holders[s]) moves.push(s);
  });
  return moves;
}
