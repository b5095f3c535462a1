/**
 * The request budget (invariant B): how many requests one replica process may send in a sliding
 * window, derived from what client-go itself sends, so that a retry storm (a follower retrying
 * a failed write every 25 to 50 ms) blows it many times over while no correct schedule comes near.
 *
 * Derivation, for a window of W = 10 R of virtual time (R: the replica's retry period; r: the
 * clock drift bound, so R on a fast clock may last only R / (1 + r) of virtual time):
 * - tries: client-go tries at once, then waits at least R after each try (a follower waits
 *   [R, 2.2 R), a leader renews every R and retries a failing round every R). So a window holds at
 *   most n = floor(W (1 + r) / R) + 1 tries (11 for W = 10 R).
 * - requests per try: a follower's try is one GET plus at most one write (PUT, or POST when the
 *   Lease is missing); a leader's is at most a fast-path PUT, then a GET and a PUT: at most 3.
 * - transitions: a renew round may end with one more try at its deadline (closer than R to the
 *   one before), a term's end is followed at once by an acquire try, and a graceful stop releases
 *   (a GET and a PUT). TRANSITION_REQUESTS (8) covers two such transitions in one window.
 * So API requests (GET, POST, PUT) in any window: at most 3 n + 8 = 41.
 * - watch: a watching follower (re)opens its stream after a fault ends it, with a backoff of
 *   [0.5, 1.5) x a delay that grows to R (100 ms after a stream that delivered events), so at
 *   most two opens per R while streams keep failing: at most 2 n + 4 = 26 opens per window.
 * A follower retrying every 25 to 50 ms sends 300 to 600 API requests in such a window.
 */

/** Window length, in retry periods. */
export const BUDGET_WINDOW_RETRY_PERIODS = 10;
/** Requests a try may send: fast-path PUT, GET, PUT. */
export const REQUESTS_PER_TRY = 3;
/** Extra requests for state transitions in one window (see the module doc). */
export const TRANSITION_REQUESTS = 8;
/** Extra watch opens in one window (the first opens of a backoff ramp). */
export const TRANSITION_WATCH_OPENS = 4;

export interface RequestBudget {
  /** Sliding window, in virtual ms. */
  readonly windowMs: number;
  /** GET, POST and PUT requests allowed in any window. */
  readonly maxApiRequests: number;
  /** Watch streams opened in any window. */
  readonly maxWatchOpens: number;
}

/** client-go's budget for a replica with retry period `retryPeriodMs` on a clock within `driftRate`. */
export function clientGoBudget(retryPeriodMs: number, driftRate: number): RequestBudget {
  const windowMs = BUDGET_WINDOW_RETRY_PERIODS * retryPeriodMs;
  const tries = Math.floor((BUDGET_WINDOW_RETRY_PERIODS * (1 + driftRate)) + 1e-9) + 1;
  return {
    windowMs,
    maxApiRequests: REQUESTS_PER_TRY * tries + TRANSITION_REQUESTS,
    maxWatchOpens: 2 * tries + TRANSITION_WATCH_OPENS,
  };
}

/** Counts events in a sliding window of virtual time. */
export class SlidingWindow {
  private readonly times: number[] = [];
  private head = 0;
  /** The most events seen in one window so far. */
  peak = 0;

  constructor(readonly windowMs: number) {}

  /** Records an event at `nowMs`; returns how many fall in the window ending at `nowMs`. */
  add(nowMs: number): number {
    this.times.push(nowMs);
    while (this.times[this.head]! <= nowMs - this.windowMs) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    const count = this.times.length - this.head;
    if (count > this.peak) this.peak = count;
    return count;
  }
}
