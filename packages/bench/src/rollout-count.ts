/**
 * What a rolling update did to leadership, from the terms the replicas reported: how many times
 * leadership moved and how long nobody led. Pure, so the counting is tested with made-up terms;
 * the bench's rollout scene (rollout.ts) feeds it measured ones.
 */

/** One leadership term: when a replica's onStartedLeading ran and when its term ended. */
export interface LeaderTerm {
  readonly identity: string;
  readonly startAt: number;
  /** undefined: still leading. */
  readonly endAt: number | undefined;
}

/** Leadership over a window. */
export interface LeadershipCount {
  /** Terms that began inside the window: each is one move of leadership. */
  readonly changes: number;
  /** Total time inside the window during which no term was open. */
  readonly leaderlessMs: number;
  /** Who led, in order (the leader at the window's start first, when there was one). */
  readonly leaders: string[];
}

/**
 * Counts leadership changes and leaderless time in `[fromAt, toAt]`. A term open at `fromAt` is
 * not a change (it is where the window starts); a term still open counts as open until `toAt`.
 */
export function countLeadership(terms: readonly LeaderTerm[], fromAt: number, toAt: number): LeadershipCount {
  const clipped = terms
    .map((t) => ({ identity: t.identity, start: Math.max(t.startAt, fromAt), end: Math.min(t.endAt ?? toAt, toAt), began: t.startAt }))
    .filter((t) => t.end > t.start || (t.began >= fromAt && t.began <= toAt))
    .sort((a, b) => a.start - b.start);
  const changes = clipped.filter((t) => t.began > fromAt && t.began <= toAt).length;
  let leaderlessMs = 0;
  let coveredUntil = fromAt;
  for (const t of clipped) {
    if (t.start > coveredUntil) leaderlessMs += t.start - coveredUntil;
    coveredUntil = Math.max(coveredUntil, t.end);
  }
  if (toAt > coveredUntil) leaderlessMs += toAt - coveredUntil;
  return { changes, leaderlessMs, leaders: clipped.map((t) => t.identity) };
}
