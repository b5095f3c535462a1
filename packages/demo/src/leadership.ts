/**
 * Leadership over a stretch of a demo run, from the terms the replicas reported: how many times it
 * moved and how long nobody led. Pure (the rollout scene and its tests feed it terms).
 */

/** One leadership term of one replica, as the rollout scene counts it. */
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
 * not a change (the window starts inside it); a term still open counts as open until `toAt`.
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
