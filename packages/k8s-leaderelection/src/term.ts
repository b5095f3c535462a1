/** Owns a leadership term: token, leadership signal, guarantee deadline with its guard timer, and ending in order. */
import type { Clock, TimerHandle } from './clock.js';
import { LeaseKitError } from './errors.js';
import type { SafeLogger } from './logger.js';
import type { StopReason } from './observer.js';

/** One leadership term, handed to `onStartedLeading` and readable while leading. */
export interface LeadershipTerm {
  /**
   * Fencing token: the Lease's `leaseTransitions` as written when this term began. It strictly
   * increases from term to term, across replicas; a leader that recreates its deleted Lease keeps
   * it, and a replica that creates a deleted Lease continues above the highest token it saw (only
   * a Lease deleted while no running replica had seen it starts again at 0). Pass it with
   * downstream writes and reject smaller ones.
   */
  readonly token: number;
  /** Wall time (epoch ms) written as `acquireTime` when the term began. */
  readonly acquireTimeMs: number;
  /** This replica's identity. */
  readonly identity: string;
  /**
   * True while this term is current and its lease guarantee holds, read from the clock at the
   * moment of the call. Call it synchronously right before every fenced write: after a process
   * pause, Node runs timers that came due earlier and pending I/O callbacks (yours included)
   * before the elector's own, so `signal.aborted` can still be false for a moment when the
   * guarantee has already run out; `isValid()` cannot.
   */
  isValid(): boolean;
}

/** Why leadership ended, handed to `onStoppedLeading`. */
export interface StoppedLeadingInfo {
  readonly reason: StopReason;
  readonly term: LeadershipTerm;
}

/** The elector's {@link LeadershipTerm}: plain data plus a validity check bound to its elector. */
class Term implements LeadershipTerm {
  readonly #valid: (term: Term) => boolean;

  constructor(
    readonly token: number,
    readonly acquireTimeMs: number,
    readonly identity: string,
    valid: (term: Term) => boolean,
  ) {
    this.#valid = valid;
  }

  isValid(): boolean {
    return this.#valid(this);
  }
}

/**
 * Until when a write sent at `sentAtMs` guarantees leadership: the lease duration, less a margin
 * for our clock running slow and a follower's running fast (each by at most `maxClockDriftRate`).
 */
export function guaranteeDeadline(sentAtMs: number, leaseDurationMs: number, maxClockDriftRate: number): number {
  const r = maxClockDriftRate;
  return sentAtMs + (leaseDurationMs * (1 - 2 * r)) / (1 + r);
}

export interface LeadershipOptions {
  readonly clock: Clock;
  readonly log: SafeLogger;
  readonly identity: string;
  /** This replica's lease duration (for the step-down log line). */
  readonly leaseDurationMs: number;
  /**
   * Whether every wake-up enforces the guarantee (the elector's hook; true but in deliberately
   * unsafe test variants, which rely on the guard timer alone).
   */
  enforcesOnWake(): boolean;
  /** The guarantee ran out and the signal was just aborted: wake the elector. */
  onExpired(): void;
}

/**
 * This replica's leadership: whether it leads, the current (or last) term, the guarantee deadline
 * and the leadership signal. `isLeader()` is true only while leading and before the deadline; the
 * signal aborts at the deadline at the latest (the guard timer), or on the first wake-up past it.
 */
export class Leadership {
  private leading = false;
  private guardedUntilMs = -Infinity;
  private guardTimer: TimerHandle | undefined;
  private term: Term | undefined;
  /** Monotonic time the current term began. */
  private startedAtMs = 0;
  private controller: AbortController | undefined;

  constructor(private readonly options: LeadershipOptions) {}

  /** A term is in progress (possibly past its guarantee, until the elector ends it). */
  get active(): boolean {
    return this.leading;
  }

  /** Monotonic ms until which leadership is guaranteed (-Infinity before any successful write). */
  get guardedUntil(): number {
    return this.guardedUntilMs;
  }

  /** The current term, or the last one after it ended (undefined before the first). */
  get current(): LeadershipTerm | undefined {
    return this.term;
  }

  /** True only while leading and the guarantee holds. */
  isLeader(): boolean {
    return this.leading && this.options.clock.now() < this.guardedUntilMs;
  }

  /** Whether `term` is the term in progress and its signal is live. */
  isLive(term: LeadershipTerm, signal: AbortSignal): boolean {
    return this.term === term && !signal.aborted && this.leading;
  }

  /** Starts a term with `token` (the guarantee must already have been set by {@link extend}) and arms the guard timer. */
  begin(token: number, acquireTimeMs: number): { term: LeadershipTerm; signal: AbortSignal } {
    const term = new Term(token, acquireTimeMs, this.options.identity, (t) => this.term === t && this.isLeader());
    const controller = new AbortController();
    this.term = term;
    this.startedAtMs = this.options.clock.now();
    this.controller = controller;
    this.leading = true;
    this.armGuardTimer();
    return { term, signal: controller.signal };
  }

  /** A write sent earlier now guarantees leadership until `untilMs` (re-arms the guard timer while leading). */
  extend(untilMs: number): void {
    this.guardedUntilMs = untilMs;
    if (this.leading) this.armGuardTimer();
  }

  /**
   * A write about to be sent may leave the Lease looking as it did at an earlier write (see
   * GuaranteeBase): if it commits, nothing later than `untilMs` holds, whatever the answer. Lowers
   * the guarantee to `untilMs` if it is lower (a no-op otherwise).
   */
  limit(untilMs: number): void {
    if (untilMs < this.guardedUntilMs) this.extend(untilMs);
  }

  /**
   * False, after aborting the leadership signal, when leading but past the guarantee. Called
   * first on every wake-up of the elector (timers, answers), so after a process pause the signal
   * is aborted before the elector sends a request or runs another callback. `guardTimer`: called
   * by the guard timer, which enforces the guarantee whatever {@link LeadershipOptions.enforcesOnWake} says.
   */
  holds(guardTimer = false): boolean {
    const { clock } = this.options;
    if (!this.leading || clock.now() < this.guardedUntilMs) return true;
    if (!guardTimer && !this.options.enforcesOnWake()) return true;
    const controller = this.controller;
    if (controller && !controller.signal.aborted) {
      controller.abort(new LeaseKitError('LEADERSHIP_LOST', 'lease guarantee expired')); // first: the logger is user code
      this.options.log.error('Lease guarantee ran out before a renewal succeeded; stepping down', {
        lastRenewSentAgoMs: Math.round(clock.now() - this.guardedUntilMs + this.options.leaseDurationMs),
      });
      this.options.onExpired();
    }
    return false;
  }

  /**
   * Ends the term: stops claiming leadership (isLeader() false), disarms the guard timer, then
   * aborts the leadership signal with `reason`. Returns the term and how long it was held.
   */
  end(reason: StopReason): { term: LeadershipTerm; heldMs: number } {
    const term = this.term!;
    const heldMs = this.options.clock.now() - this.startedAtMs;
    this.leading = false;
    this.disarmGuardTimer();
    this.controller?.abort(new LeaseKitError('LEADERSHIP_LOST', `leadership ended: ${reason}`));
    this.controller = undefined;
    return { term, heldMs };
  }

  /**
   * Defence in depth: renew rounds are already capped at the guarantee, so the loop itself ends
   * the term in time; this timer keeps "the leadership signal aborts at the guarantee deadline at
   * the latest" true whatever the loop is awaiting.
   */
  private armGuardTimer(): void {
    this.disarmGuardTimer();
    const { clock } = this.options;
    const delay = this.guardedUntilMs - clock.now();
    this.guardTimer = clock.setTimeout(() => {
      this.guardTimer = undefined;
      // A clock that fires a hair early must not leave the guarantee unguarded: arm again.
      if (this.leading && clock.now() < this.guardedUntilMs) this.armGuardTimer();
      else this.holds(true);
    }, Math.max(0, delay));
  }

  private disarmGuardTimer(): void {
    if (this.guardTimer !== undefined) this.options.clock.clearTimeout(this.guardTimer);
    this.guardTimer = undefined;
  }
}
