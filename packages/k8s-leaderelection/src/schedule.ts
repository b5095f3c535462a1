/** Owns the follower's schedule, when to try acquiring next: jittered poll, watch due time, failure backoff, Retry-After, cooldown. */
import type { Clock } from './clock.js';
import { JITTER_FACTOR } from './config.js';
import type { Random } from './random.js';

/** Repeated failed attempts back off up to this many retry periods (before jitter). */
export const MAX_BACKOFF_FACTOR = 4;
/** A longer Retry-After is capped: a misconfigured server must not park a follower for hours. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** The timings and randomness the schedule draws on (a ResolvedConfig has them all). */
export interface ScheduleConfig {
  readonly retryPeriodMs: number;
  readonly leaseDurationMs: number;
  readonly random: Random;
}

/**
 * The least wait before the next acquire attempt after `failures` (>= 1) consecutive failed ones:
 * client-go's jittered [R, 2.2R) for the first, doubling up to MAX_BACKOFF_FACTOR x R (and at
 * most half the lease duration, so a follower still looks about once per lease duration). Draws
 * one random number.
 */
export function failureBackoffMs(config: ScheduleConfig, failures: number): number {
  const r = config.retryPeriodMs;
  const cap = Math.max(r, Math.min(MAX_BACKOFF_FACTOR * r, config.leaseDurationMs / 2));
  const base = Math.min(r * 2 ** Math.min(failures - 1, 30), cap);
  return base * (1 + JITTER_FACTOR * config.random());
}

/** What a watching follower knows of the lease, for its due time. */
export interface WatchedLease {
  /** The lease names no holder. */
  readonly free: boolean;
  /** Monotonic time the observed lease expires (see LeaseObservation.expiresAtMs). */
  readonly expiresAtMs: number;
}

export interface FollowerScheduleOptions {
  readonly clock: Clock;
  readonly config: ScheduleConfig;
  /** The backoff after `failures` consecutive failures. @default {@link failureBackoffMs} */
  readonly backoffMs?: (failures: number) => number;
}

/**
 * When a follower tries next. Fed with the outcome of every acquire attempt, failures
 * (conflicts, Retry-After) and cooldowns; asked whether an attempt may start now and how long
 * to wait before the next one.
 */
export class FollowerSchedule {
  /** Consecutive failed acquire attempts (reset by any attempt that got an answer it could use). */
  private failures = 0;
  /** The last failed attempt was a write conflict (someone else wrote first). */
  private lastFailureConflict = false;
  /** What was observed when the last attempt failed (a newer observation means we know who won). */
  private failedObservation: unknown;
  /** Since the last conflict, a newer record naming a holder (the winner) was seen. */
  private winnerSeen = false;
  /** No acquire attempt before this monotonic time (backoff after failures). */
  private backoffUntil = -Infinity;
  /** No acquire attempt before this monotonic time (the server's Retry-After). */
  private retryAfterUntil = -Infinity;
  /** No acquire attempt before this monotonic time (after resigning, or after failed leader work). */
  private cooldownUntil = -Infinity;
  private readonly clock: Clock;
  private readonly config: ScheduleConfig;
  private readonly backoffMs: (failures: number) => number;

  constructor(options: FollowerScheduleOptions) {
    this.clock = options.clock;
    this.config = options.config;
    this.backoffMs = options.backoffMs ?? ((failures) => failureBackoffMs(this.config, failures));
  }

  /** Consecutive failed attempts so far. */
  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Whether the cooldown allows an attempt now. */
  cooledDown(): boolean {
    return this.clock.now() >= this.cooldownUntil;
  }

  /** An attempt begins: whether it ends in a conflict is not known yet. */
  attemptStarted(): void {
    this.lastFailureConflict = false;
    this.winnerSeen = false;
  }

  /** The current attempt lost a write race (409, or AlreadyExists on create). */
  conflicted(): void {
    this.lastFailureConflict = true;
  }

  /**
   * The current attempt ended. `failed`: no answer showing who holds the lease, so no new try
   * before the backoff has passed (what was `observed` then is remembered); any other outcome
   * resets the failure count.
   */
  attemptEnded(failed: boolean, observed: unknown): void {
    if (!failed) {
      this.failures = 0;
      return;
    }
    this.failures++;
    this.failedObservation = observed;
    this.backoffUntil = this.clock.now() + this.backoffMs(this.failures);
  }

  /** The server asked for `seconds` of quiet (Retry-After); ignored unless positive, capped at MAX_RETRY_AFTER_MS. */
  retryAfter(seconds: number | undefined): void {
    if (seconds !== undefined && seconds > 0) this.retryAfterUntil = this.clock.now() + Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  }

  /** No attempt for `ms` from now (replaces any earlier cooldown). */
  startCooldown(ms: number): void {
    this.cooldownUntil = this.clock.now() + ms;
  }

  /** No attempt for at least `ms` from now (keeps a longer cooldown). */
  extendCooldown(ms: number): void {
    this.cooldownUntil = Math.max(this.cooldownUntil, this.clock.now() + ms);
  }

  /**
   * How long to wait before the next acquire attempt. `watched`: what a healthy watch shows of
   * the lease (undefined when polling, or when the lease is unobserved or missing); `observed`:
   * the current observation, compared by identity with the one of the last failure.
   *
   * Watching: try exactly when the observed lease expires, and at once when it is free, with no
   * herd jitter: the elector takes a watched free or expired record with one compare-and-swap
   * write, so followers racing for a release cost one cheap 409 each, and the losers then see the
   * winner's record on the watch (the conflict rule below); a slow safety poll, once per lease
   * duration, notices a watch that died silently. Polling: client-go's jittered [R, 2.2R) (one
   * random number). After a failure, back off, unless it was a write conflict and the record that
   * won (one naming a holder) has since been seen (then the usual schedule for that record applies). Never before
   * Retry-After or the cooldown.
   */
  delayMs(watched: WatchedLease | undefined, observed: unknown): number {
    const now = this.clock.now();
    const base = this.config.retryPeriodMs;
    let delay: number;
    if (watched) {
      const expiresIn = watched.expiresAtMs - now;
      delay = watched.free || expiresIn <= 0 ? 0 : Math.min(expiresIn + 1, this.config.leaseDurationMs);
    } else {
      delay = base + this.config.random() * JITTER_FACTOR * base;
    }
    // The winner is known once a newer record naming a holder has been seen (it may release later;
    // it still won). A newer record that is free again (someone rewriting a released Lease) is no
    // winner: trying it at once after every 409 would be a storm.
    // Watching: a record on the watch that names a live holder, or any holder newer than the
    // record the write lost on. Polling: a record read after the failure.
    const newer = observed !== this.failedObservation;
    if (this.lastFailureConflict && (watched ? !watched.free && (newer || watched.expiresAtMs > now) : newer)) this.winnerSeen = true;
    const knowsWinner = this.lastFailureConflict && this.winnerSeen;
    if (this.failures > 0 && !knowsWinner) delay = Math.max(delay, this.backoffUntil - now);
    return Math.max(delay, this.retryAfterUntil - now, this.cooldownUntil - now);
  }
}
