/**
 * The elector: client-go's leader election algorithm for one Lease, plus what its users keep
 * asking for (contending again after a loss, lease-guarded leadership, fencing tokens, resign).
 *
 * Guarantees (given a correct API server and clocks whose rate error stays within
 * `maxClockDriftRate`):
 * - Another replica takes over only after it has seen the lease unchanged for the lease duration
 *   written in it, measured on its own monotonic clock. Server timestamps are never compared
 *   with the local clock.
 * - This replica's `isLeader()` turns false, and the leadership signal aborts, no later than the
 *   send time of its last successful renewal plus the lease duration minus a drift margin. So its
 *   term ends before anyone else's can begin. After a process pause the elector aborts the signal
 *   before it sends a request or runs any callback of its own, and `term.isValid()` consults the
 *   clock for user code that runs before the elector does.
 * - A renewal extends the guarantee only when a client-go follower can see it (its record's JSON,
 *   with whole-second times, changed).
 * - A replica that creates a missing Lease writes a claim and leads only after the claim has stood
 *   unchanged for the longest lease duration any peer may use (`maxPeerLeaseDurationMs`), so a
 *   holder it never saw has stepped down first; a live leader seeing the claim steps down.
 * - Fencing tokens never go backwards: a leader recreating its deleted Lease writes its current
 *   token, a creator writes at least the highest token it observed plus one.
 * - After a failed attempt a follower waits at least client-go's [R, 2.2R), backing off
 *   exponentially for repeated failures, and honours Retry-After: never more requests than client-go.
 * Non-guarantees: a leader's code that ignores the leadership signal, or side effects already in
 * flight when it aborts, are not stopped by this library. Use the fencing token downstream.
 */
import { sleep, type Clock, type TimerHandle } from './clock.js';
import { JITTER_FACTOR, resolveConfig, type ElectorConfig, type ResolvedConfig } from './config.js';
import {
  ConfigError,
  LeaseKitError,
  NetworkError,
  RequestTimeoutError,
  describeError,
  isAlreadyExists,
  isApiError,
  isConflict,
  isForbidden,
  isNotFound,
  type ApiErrorReason,
} from './errors.js';
import { createKubeLeaseClient, isKubeConfig } from './lease-lock.js';
import type { Lease, LeaseClient } from './lease.js';
import { toSafeLogger, type Logger, type SafeLogger } from './logger.js';
import type { RequestPurpose, StopReason } from './observer.js';
import { boundedSignal, raceAbort } from './request.js';
import { linkSignals } from './signals.js';
import { MAX_INT32, goFollowerKey, leaseWithRecord, recordFromLease, sameForGoFollower, sameRecord, type LeaderElectionRecord } from './record.js';
import { LeaseFollower } from './follower.js';

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

/** Why leadership ended, handed to `onStoppedLeading`. */
export interface StoppedLeadingInfo {
  readonly reason: StopReason;
  readonly term: LeadershipTerm;
}

/**
 * What the elector calls. Each is optional, may be async, and may throw: errors are logged and
 * never break the loop.
 */
export interface LeaderCallbacks {
  /**
   * Leadership began. Start leader-only work here and stop it when `signal` aborts (at the latest
   * when the lease guarantee runs out). Not awaited: it may run for the whole term.
   */
  onStartedLeading?(signal: AbortSignal, term: LeadershipTerm): unknown;
  /**
   * Leadership ended (only called after `onStartedLeading`, unlike client-go, which also calls it
   * for replicas that never led). Awaited, bounded by `onStoppedLeadingTimeoutMs`, before the
   * lease is released and before contending again.
   */
  onStoppedLeading?(info: StoppedLeadingInfo): unknown;
  /** The observed holder changed to `identity` (including the first observation, and ourselves). */
  onNewLeader?(identity: string): unknown;
}

/** A point-in-time view of the elector, for status pages and adapters. */
export interface ElectorSnapshot {
  readonly identity: string;
  readonly name: string;
  readonly isLeader: boolean;
  readonly leader: string;
  readonly term: LeadershipTerm | undefined;
  /** Monotonic ms until which leadership is guaranteed (only meaningful while leading). */
  readonly guaranteedUntilMs: number | undefined;
  readonly running: boolean;
  /** Slow-path writes of a record naming us (client-go's slowpath count; see ElectorObserver.onSlowPath). */
  readonly slowPathCount: number;
  /** The last record observed, or undefined before any. */
  readonly observedRecord: LeaderElectionRecord | undefined;
}

/** Options for {@link Elector.resign}. */
export interface ResignOptions {
  /**
   * Do not contend again for this long (ms) after stepping down, so another replica takes over
   * instead of this one winning its own released lease back.
   * @default the lease duration
   */
  readonly cooldownMs?: number;
}

/** What this process saw of the lease, and when (its own monotonic time). */
export interface Observation {
  record: LeaderElectionRecord;
  /** The object as read (its metadata makes the next write a compare-and-swap). */
  lease: Lease;
  /** Monotonic time this process first saw this record. */
  atMs: number;
}

/** What `tryAcquireOrRenew` concluded. */
type AttemptOutcome = 'acquired' | 'held' | 'failed' | 'lost';

/** After `work_failed`, the replica stays out this many retry periods (> 2.2, a poller's longest wait). */
export const WORK_FAILED_COOLDOWN_RETRY_PERIODS = 3.2;
/** Repeated failed attempts back off up to this many retry periods (before jitter). */
const MAX_BACKOFF_FACTOR = 4;
/** A longer Retry-After is capped: a misconfigured server must not park a follower for hours. */
const MAX_RETRY_AFTER_MS = 60_000;
/** Repeated identical request failures are logged at warn level at most once per this interval. */
export const FAILURE_LOG_INTERVAL_MS = 30_000;
/**
 * Annotation on a Lease created as a claim (value: the claimer's identity). The claimer leads
 * only once the claim has stood unchanged for its written duration, like anyone else would.
 */
export const CLAIM_ANNOTATION = 'leasekit.io/claim';

export class Elector {
  /** The validated configuration with defaults applied. */
  readonly config: ResolvedConfig;
  private readonly client: LeaseClient;
  private readonly callbacks: LeaderCallbacks;
  private readonly log: SafeLogger;
  private readonly clock: Clock;
  private readonly follower: LeaseFollower;

  private running = false;
  private observed: Observation | undefined;
  private reportedLeader = '';
  private leading = false;
  private guardedUntil = -Infinity;
  private guardTimer: TimerHandle | undefined;
  private term: LeadershipTerm | undefined;
  /** Monotonic time the current term began. */
  private termStartedAt = 0;
  private leaderController: AbortController | undefined;
  private resignRequest: { cooldownMs: number; done: Array<() => void> } | undefined;
  private cooldownUntil = -Infinity;
  private slowPathCount = 0;
  private sawNotFoundWhileRenewing = false;
  /** Consecutive failed acquire attempts (reset by any attempt that got an answer it could use). */
  private failures = 0;
  /** The last failed attempt was a write conflict (someone else wrote first). */
  private lastFailureConflict = false;
  /** The observation current when the last attempt failed (a newer one means we know who won). */
  private failedObservation: Observation | undefined;
  /** No acquire attempt before this monotonic time (backoff after failures). */
  private backoffUntil = -Infinity;
  /** No acquire attempt before this monotonic time (the server's Retry-After). */
  private retryAfterUntil = -Infinity;
  /** The failure last logged, when, and how many identical ones were not logged since. */
  private failureLog = { key: '', atMs: -Infinity, suppressed: 0 };
  /** The highest fencing token (leaseTransitions) seen in a record that is not a claim; -1 before any. */
  private highestToken = -1;
  /** The highest token seen in any record, claims included (a claim's token may become a term's). */
  private highestTokenAny = -1;
  /** The longest lease duration (ms) seen in any held record. */
  private longestSeenDurationMs = 0;
  /**
   * Records this replica tried to write as holder, by how a client-go follower sees them, with
   * the send time of the first attempt of each (entries older than a lease duration are dropped).
   */
  private readonly attempts = new Map<string, { record: LeaderElectionRecord; sentAt: number }>();
  /** Set when onStartedLeading failed during the current term (and the policy is to resign). */
  private workFailure: unknown;
  /** The last malformed-content report logged, so a bad Lease is reported once, not every poll. */
  private lastProblems = '';
  private readonly background = new Set<Promise<unknown>>();
  private wake: (() => void) | undefined;
  /** Monotonic time since which the Lease has been seen missing (404 or a DELETED event), if it is. */
  private missingSince: number | undefined;

  /**
   * @param config the election settings; validated here (throws {@link ConfigError}).
   * @param client a client-node `KubeConfig` (the elector builds its own API client with a
   *   per-request timeout) or any {@link LeaseClient}.
   * @param callbacks leadership callbacks, each optional.
   * @param logger console, pino, winston or anything with debug/info/warn/error; by default only
   *   warnings and errors are printed, to the console.
   */
  constructor(config: ElectorConfig, client: unknown, callbacks: LeaderCallbacks = {}, logger?: Logger) {
    this.config = resolveConfig(config, { client });
    this.clock = this.config.clock;
    if (isKubeConfig(client)) {
      this.client = createKubeLeaseClient(client, { requestTimeoutMs: this.config.renewDeadlineMs });
    } else if (isLeaseClient(client)) {
      this.client = client;
    } else {
      throw new ConfigError(
        'CLIENT_INVALID',
        'client',
        'client must be a KubeConfig from @kubernetes/client-node or a LeaseClient (get, create and update methods)',
      );
    }
    this.callbacks = callbacks ?? {};
    this.log = toSafeLogger(logger, { identity: this.config.identity, lease: `${this.config.leaseNamespace}/${this.config.leaseName}` });
    this.follower = new LeaseFollower({
      client: this.client,
      config: this.config,
      log: this.log,
      onLease: (lease) => {
        this.observe(lease);
        this.wake?.();
      },
      onDeleted: () => {
        this.markMissing();
        this.wake?.();
      },
      currentResourceVersion: () => this.observed?.lease.metadata?.resourceVersion,
    });
  }

  /** True only while this replica leads and its lease is guaranteed (see the class doc). */
  isLeader(): boolean {
    return this.leading && this.clock.now() < this.guardedUntil;
  }

  /** The holder of the last observed record ('' before any is observed, or when the lease is free). */
  getLeader(): string {
    return this.observed?.record.holderIdentity ?? '';
  }

  /** The current term while leading, else undefined. */
  getTerm(): LeadershipTerm | undefined {
    return this.isLeader() ? this.term : undefined;
  }

  /**
   * Liveness check with client-go's semantics: an Error when this replica believes it leads but
   * has not renewed for longer than the lease duration plus `toleranceMs` (it is wedged);
   * undefined otherwise.
   */
  check(toleranceMs = 0): Error | undefined {
    if (!this.leading || !this.observed) return undefined;
    const sinceMs = this.clock.now() - this.observed.atMs;
    if (sinceMs > this.config.leaseDurationMs + toleranceMs) {
      return new LeaseKitError(
        'LEADER_NOT_RENEWING',
        `failed election to renew leadership on lease ${this.config.name}: last renewal ${Math.round(sinceMs)} ms ago exceeds lease duration ${this.config.leaseDurationMs} ms + tolerance ${toleranceMs} ms`,
      );
    }
    return undefined;
  }

  /** A consistent snapshot of the elector's state. */
  snapshot(): ElectorSnapshot {
    const isLeader = this.isLeader();
    return {
      identity: this.config.identity,
      name: this.config.name,
      isLeader,
      leader: this.getLeader(),
      term: isLeader ? this.term : undefined,
      guaranteedUntilMs: isLeader ? this.guardedUntil : undefined,
      running: this.running,
      slowPathCount: this.slowPathCount,
      observedRecord: this.observed ? { ...this.observed.record } : undefined,
    };
  }

  /**
   * Steps down on purpose: stops the leader's work (aborts its signal, awaits onStoppedLeading),
   * releases the lease and goes back to following, without stopping `run()`. Resolves when done;
   * resolves at once when not leading.
   */
  resign(options: ResignOptions = {}): Promise<void> {
    const cooldownMs = options.cooldownMs ?? this.config.leaseDurationMs;
    if (!(typeof cooldownMs === 'number' && cooldownMs >= 0 && Number.isFinite(cooldownMs))) {
      return Promise.reject(new ConfigError('OPTION_INVALID', 'cooldownMs', `cooldownMs (${String(cooldownMs)}) must be a finite number >= 0`));
    }
    if (!this.leading) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.resignRequest) {
        this.resignRequest.cooldownMs = Math.max(this.resignRequest.cooldownMs, cooldownMs);
        this.resignRequest.done.push(resolve);
      } else {
        this.resignRequest = { cooldownMs, done: [resolve] };
      }
      this.wake?.();
    });
  }

  /**
   * Contends for the lease until `signal` aborts (or, with `once`, until the first term ends).
   * Resolves after shutdown is complete: the leader's work stopped and the lease released. Never
   * rejects because of API failures; rejects only if called while already running.
   */
  async run(signal?: AbortSignal): Promise<void> {
    if (this.running) throw new LeaseKitError('ALREADY_RUNNING', `elector for lease ${this.config.name} is already running`);
    this.running = true;
    const stop = signal ?? new AbortController().signal;
    this.log.info('Starting leader election loop');
    try {
      while (!stop.aborted) {
        if (!(await this.acquire(stop))) break;
        await this.lead(stop);
        if (this.config.once) break;
      }
    } catch (err) {
      // Defensive: nothing above should throw, but if it does the caller must not be left with a leader.
      this.log.error('Leader election loop failed', { error: describeError(err) });
      if (this.leading) await this.endTerm('renew_failed');
    } finally {
      this.follower.stop();
      await Promise.allSettled([...this.background]);
      this.running = false;
      this.log.info('Leader election loop stopped');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // acquire: try at once, then wait (jittered poll, or until the watched lease is free/expired).

  private async acquire(stop: AbortSignal): Promise<boolean> {
    for (;;) {
      if (stop.aborted) return false;
      if (this.clock.now() >= this.cooldownUntil && this.worthTrying()) {
        const deadline = this.clock.now() + this.config.renewDeadlineMs;
        this.lastFailureConflict = false;
        const outcome = await this.tryAcquireOrRenew('acquire', deadline, stop);
        if (outcome === 'acquired') {
          this.failures = 0;
          this.follower.stop();
          return true;
        }
        this.afterAttempt(outcome);
      }
      if (stop.aborted) return false;
      if (this.config.followerStrategy === 'watch' && this.follower.supported) this.follower.start(stop);
      await this.waitForTurn(stop);
    }
  }

  /**
   * Whether an acquire attempt (a GET) can succeed. Polling followers always try; a follower with
   * a healthy watch already knows the lease is held and fresh, and skips the request.
   */
  private worthTrying(): boolean {
    const obs = this.observed;
    if (!this.watching() || !obs || this.missingSince !== undefined) return true;
    return obs.record.holderIdentity === '' || obs.record.holderIdentity === this.config.identity || this.isExpired(obs) || this.claimNeedsRaise(obs);
  }

  private watching(): boolean {
    return this.config.followerStrategy === 'watch' && this.follower.healthy;
  }

  /**
   * Paces the next acquire attempt after one that did not acquire. A failure (anything but an
   * answer showing who holds the lease) means no new try before client-go's jittered [R, 2.2R),
   * doubling for repeated failures up to a cap: a follower never adds load to a failing server.
   */
  private afterAttempt(outcome: Exclude<AttemptOutcome, 'acquired'>): void {
    if (outcome !== 'failed') {
      this.failures = 0;
      return;
    }
    this.failures++;
    this.failedObservation = this.observed;
    this.backoffUntil = this.clock.now() + this.failureBackoffMs(this.failures);
  }

  /**
   * The least wait before the next acquire attempt after `failures` consecutive failed ones:
   * client-go's jittered [R, 2.2R) for the first, doubling up to MAX_BACKOFF_FACTOR x R (and at
   * most half the lease duration, so a follower still looks about once per lease duration).
   * Protected only so tests can build deliberately unsafe variants; do not override in production.
   */
  protected failureBackoffMs(failures: number): number {
    const r = this.config.retryPeriodMs;
    const cap = Math.max(r, Math.min(MAX_BACKOFF_FACTOR * r, this.config.leaseDurationMs / 2));
    const base = Math.min(r * 2 ** Math.min(failures - 1, 30), cap);
    return base * (1 + JITTER_FACTOR * this.config.random());
  }

  /**
   * Waits until the next acquire attempt is due. Every watch event wakes the wait and the due
   * time is recomputed from the new observation, so renewals never cause requests.
   */
  private async waitForTurn(stop: AbortSignal): Promise<void> {
    let delay = this.followerDelayMs();
    while (await this.pause(delay, stop)) {
      if (stop.aborted) return;
      delay = this.followerDelayMs();
    }
  }

  /** How long a follower waits before its next acquire attempt. */
  private followerDelayMs(): number {
    const now = this.clock.now();
    const base = this.config.retryPeriodMs;
    let delay: number;
    if (this.watching() && this.observed && this.missingSince === undefined) {
      // Watching: try exactly when the observed lease expires, or, when it is free, after a small
      // jitter so a release does not make every follower write at once (the first to write wins
      // and the others see its MODIFIED event before their turn). A slow safety poll, once per
      // lease duration, notices a watch that died silently.
      const expiresIn = this.expiresAtMs(this.observed) - now;
      delay = this.observed.record.holderIdentity === '' || expiresIn <= 0
        ? this.config.random() * Math.min(50, base / 4)
        : Math.min(expiresIn + 1, this.config.leaseDurationMs);
    } else {
      // client-go's jittered poll: uniformly in [R, 2.2R).
      delay = base + this.config.random() * JITTER_FACTOR * base;
    }
    // After a failure, back off, unless it was a write conflict and we have since seen the record
    // that won (then the usual schedule for that record applies).
    const knowsWinner = this.lastFailureConflict && this.observed !== this.failedObservation;
    if (this.failures > 0 && !knowsWinner) delay = Math.max(delay, this.backoffUntil - now);
    return Math.max(delay, this.retryAfterUntil - now, this.cooldownUntil - now);
  }

  /** Waits `ms`; true when woken early by `wake()` (not by `stop`). */
  private async pause(ms: number, stop: AbortSignal): Promise<boolean> {
    if (stop.aborted) return false; // aborted before we got here (e.g. inside onStartedLeading)
    const interrupt = new AbortController();
    const onStop = (): void => interrupt.abort();
    stop.addEventListener('abort', onStop, { once: true });
    let woken = false;
    this.wake = () => {
      woken = true;
      interrupt.abort();
    };
    try {
      await sleep(this.clock, ms, interrupt.signal);
    } finally {
      this.wake = undefined;
      stop.removeEventListener('abort', onStop);
    }
    // The first thing on every wake-up: a guarantee that ran out (a pause) ends leadership now.
    this.guaranteeHolds();
    return woken;
  }

  // ---------------------------------------------------------------------------------------------
  // tryAcquireOrRenew: client-go's core step, as numbered steps.

  private async tryAcquireOrRenew(purpose: 'acquire' | 'renew', deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    const { identity } = this.config;

    // 1. Fast path: the leader PUTs its cached object without a GET. On any failure fall back
    //    to the slow path.
    if (purpose === 'renew' && this.observed?.record.holderIdentity === identity) {
      const outcome = await this.writeRecord(purpose, this.renewedRecord(this.observed.record), this.observed.lease, deadlineMs, stop);
      if (outcome === 'acquired') return outcome;
      if (this.leaseDeadlinePassed(deadlineMs)) return 'failed';
    }

    // 2. Slow path: read the lease. Missing: create it, if that cannot cut short a holder we saw.
    let current: Lease;
    try {
      current = await this.request(purpose, 'get', deadlineMs, stop, (signal) =>
        this.client.get(this.config.leaseNamespace, this.config.leaseName, { signal }),
      );
    } catch (err) {
      if (!isNotFound(err)) {
        this.reportFailure('get', err);
        return 'failed';
      }
      if (purpose === 'renew') this.sawNotFoundWhileRenewing = true;
      this.markMissing();
      return this.createMissing(purpose, deadlineMs, stop);
    }

    // 3. Record what we saw: the observation time is ours, from our monotonic clock.
    const observation = this.observe(current);
    const { record } = observation;

    // 4. Held by someone else (or by our own pending claim) and not expired by our own
    //    observation: nothing to do.
    if (record.holderIdentity !== '' && (record.holderIdentity !== identity || isClaim(current))) {
      if (!this.isExpired(observation)) {
        // Someone's claim with a token below one we know (its creator never saw the last
        // terms): raise it, so the term it becomes continues above every token we saw.
        if (this.claimNeedsRaise(observation)) await this.raiseClaimToken(purpose, record, current, deadlineMs, stop);
        return purpose === 'renew' ? 'lost' : 'held';
      }
    }
    // A leader whose lease was released or rewritten behind its back does not silently re-take
    // it mid-term: the term ends and a new one (with a new fencing token) may begin.
    if (purpose === 'renew' && record.holderIdentity !== identity) return 'lost';

    // 5. Write ourselves in: a renewal keeps acquireTime and transitions; a new term bumps the
    //    transitions, which is also its fencing token (client-go keeps them when the record
    //    already names us; we bump so every term has a fresh token).
    //    client-go's slowpath metric counts exactly here: the slow path reached its write while
    //    the fetched record names us (after a failed fast path, or a restarted process finding its
    //    own identity), before the write whatever its outcome. Our own claim is no holder's record.
    if (record.holderIdentity === identity && !isClaim(current)) {
      this.slowPathCount++;
      this.notify(() => this.config.observer?.onSlowPath?.());
    }
    const next = purpose === 'renew' ? this.renewedRecord(record) : this.acquiredRecord(record, isClaim(current));
    return this.writeRecord(purpose, next, withoutClaim(current), deadlineMs, stop);
  }

  private renewedRecord(previous: LeaderElectionRecord): LeaderElectionRecord {
    const now = this.clock.wallNow();
    return {
      ...previous,
      holderIdentity: this.config.identity,
      leaseDurationSeconds: this.config.leaseDurationSeconds,
      acquireTimeMs: previous.acquireTimeMs ?? now,
      renewTimeMs: now,
    };
  }

  private acquiredRecord(previous: LeaderElectionRecord, claim: boolean): LeaderElectionRecord {
    const now = this.clock.wallNow();
    const record: LeaderElectionRecord = {
      holderIdentity: this.config.identity,
      leaseDurationSeconds: this.config.leaseDurationSeconds,
      acquireTimeMs: now,
      renewTimeMs: now,
      // Above both the record's token and any we saw before (a Lease recreated by someone who
      // never saw the old one). int32 in the API: at the (theoretical) limit the token stops
      // increasing rather than the write failing forever.
      leaseTransitions: Math.min(Math.max(previous.leaseTransitions, this.highestTokenAny) + 1, MAX_INT32),
    };
    // Taking over our own claim is no transition: the claim already carries a fresh token.
    if (claim && previous.holderIdentity === this.config.identity && previous.leaseTransitions >= this.highestTokenAny) {
      record.leaseTransitions = previous.leaseTransitions;
    }
    if (previous.strategy !== undefined) record.strategy = previous.strategy;
    if (previous.preferredHolder !== undefined) record.preferredHolder = previous.preferredHolder;
    return record;
  }

  /**
   * The Lease is missing (never created, or deleted). The leader recreates it at once with its
   * current term (and token). Anyone else writes a claim: a Lease naming itself, marked with
   * {@link CLAIM_ANNOTATION}, whose duration is {@link creationHoldMs}. It leads only once the
   * claim has stood unchanged that long, like any follower taking over an expired record, because
   * a holder it never saw (a partitioned leader, or one whose Lease an actor keeps deleting
   * between our reads, possibly with a longer lease duration than ours) may still be guaranteed;
   * a live leader that sees the claim steps down. A follower that saw a holder waits a little
   * before claiming, so a live leader can recreate its Lease first.
   */
  private async createMissing(purpose: 'acquire' | 'renew', deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    const { identity } = this.config;
    const now = this.clock.now();
    const obs = this.observed;
    const target = { name: this.config.leaseName, namespace: this.config.leaseNamespace };
    const wall = this.clock.wallNow();
    if (purpose === 'renew') {
      if (obs?.record.holderIdentity !== identity || this.term === undefined) return 'failed';
      const record: LeaderElectionRecord = {
        ...obs.record,
        holderIdentity: identity,
        leaseDurationSeconds: this.config.leaseDurationSeconds,
        acquireTimeMs: this.term.acquireTimeMs,
        renewTimeMs: wall,
        leaseTransitions: this.createdLeaseToken(true),
      };
      return this.createLease(purpose, record, leaseWithRecord(record, target), deadlineMs, stop);
    }

    const missingFor = now - (this.missingSince ?? now);
    const recreateGraceMs = (1 + JITTER_FACTOR) * this.config.retryPeriodMs;
    if (obs && obs.record.holderIdentity !== '' && missingFor < recreateGraceMs) {
      this.log.debug('Lease not found; giving its holder time to recreate it before claiming it', {
        lastHolder: obs.record.holderIdentity,
        missingForMs: Math.round(missingFor),
      });
      return 'held';
    }
    const holdMs = this.creationHoldMs();
    const token = this.createdLeaseToken(false);
    if (holdMs <= 0) {
      // Only reachable from test variants (client-go's behaviour: lead on creation).
      const record: LeaderElectionRecord = { holderIdentity: identity, leaseDurationSeconds: this.config.leaseDurationSeconds, acquireTimeMs: wall, renewTimeMs: wall, leaseTransitions: token };
      return this.createLease(purpose, record, leaseWithRecord(record, target), deadlineMs, stop);
    }
    const claim: LeaderElectionRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.min(Math.ceil(holdMs / 1000), MAX_INT32),
      acquireTimeMs: wall,
      renewTimeMs: wall,
      leaseTransitions: token,
    };
    const lease = leaseWithRecord(claim, target);
    lease.metadata = { ...lease.metadata, annotations: { [CLAIM_ANNOTATION]: identity } };
    try {
      const created = await this.request(purpose, 'create', deadlineMs, stop, (signal) => this.client.create(this.config.leaseNamespace, lease, { signal }));
      this.observe(created);
      this.log.info('Lease not found; created it as a claim, leading once it has stood unchanged for the hold', { holdMs, token });
      return 'held';
    } catch (err) {
      return this.createFailed(err);
    }
  }

  /** Creates the Lease as holder (a leader's recreation, or a variant's); the answer starts or extends a term. */
  private async createLease(purpose: 'acquire' | 'renew', record: LeaderElectionRecord, lease: Lease, deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    const base = this.guaranteeBase(record, this.clock.now());
    try {
      const created = await this.request(purpose, 'create', deadlineMs, stop, (signal) => this.client.create(this.config.leaseNamespace, lease, { signal }));
      return this.wrote(created, base);
    } catch (err) {
      return this.createFailed(err);
    }
  }

  private createFailed(err: unknown): AttemptOutcome {
    // Someone created it first: like a write conflict, the next read shows who.
    if (isAlreadyExists(err)) this.lastFailureConflict = true;
    else this.reportFailure('create', err);
    return 'failed';
  }

  /** Whether `obs` is another replica's claim carrying a token no higher than one we have seen. */
  private claimNeedsRaise(obs: Observation): boolean {
    return isClaim(obs.lease) && obs.record.holderIdentity !== this.config.identity && obs.record.leaseTransitions <= this.highestToken;
  }

  /**
   * Raises the token of another replica's claim above the highest we have seen (a compare-and-
   * swap; the changed record restarts every follower's wait, the claimer's too, so it only delays
   * the claimer's term). Failures are reported and otherwise ignored: the next read tries again.
   */
  private async raiseClaimToken(purpose: 'acquire' | 'renew', claim: LeaderElectionRecord, current: Lease, deadlineMs: number, stop: AbortSignal): Promise<void> {
    const raised: LeaderElectionRecord = { ...claim, leaseTransitions: Math.min(this.highestToken + 1, MAX_INT32) };
    const lease = leaseWithRecord(raised, { name: this.config.leaseName, namespace: this.config.leaseNamespace }, current);
    try {
      const written = await this.request(purpose, 'update', deadlineMs, stop, (signal) => this.client.update(this.config.leaseNamespace, lease, { signal }));
      this.observe(written);
      this.log.info('Raised the fencing token of a claim on the Lease above the highest this replica has seen', {
        claimer: claim.holderIdentity,
        token: raised.leaseTransitions,
      });
    } catch (err) {
      if (!isConflict(err)) this.reportFailure('update', err);
    }
  }

  /**
   * How long a Lease this replica created must stand unchanged before it leads: the longest lease
   * duration any peer may use, or the longest it has seen written, whichever is longer.
   * Protected only so tests can build deliberately unsafe variants; do not override in production.
   */
  protected creationHoldMs(): number {
    return Math.max(this.config.maxPeerLeaseDurationMs, this.longestSeenDurationMs);
  }

  /**
   * The fencing token a Lease created by this replica carries: a leader recreating its Lease keeps
   * its term's token; anyone else continues above the highest token it has seen (0 if none).
   * Protected only so tests can build deliberately unsafe variants; do not override in production.
   */
  protected createdLeaseToken(byLeader: boolean): number {
    if (byLeader && this.term !== undefined) return this.term.token;
    return this.highestTokenAny < 0 ? 0 : Math.min(this.highestTokenAny + 1, MAX_INT32);
  }

  /**
   * The send time a write of `record` may count its guarantee from. A client-go follower notices
   * a renewal only when the record's JSON (whole-second times) changes, and may miss records in
   * between (a wall clock stepped back can bring an old second back), so a write that looks the
   * same to it as any earlier attempt counts from that attempt's send time, not its own.
   */
  private guaranteeBase(record: LeaderElectionRecord, sentAt: number): number {
    for (const [key, attempt] of this.attempts) {
      if (attempt.sentAt < sentAt - this.config.leaseDurationMs) this.attempts.delete(key); // gives no guarantee any more
    }
    const key = goFollowerKey(record);
    const earlier = this.attempts.get(key);
    if (earlier !== undefined && !this.goVisibleRenewal(earlier.record, record)) return earlier.sentAt;
    this.attempts.set(key, { record, sentAt });
    return sentAt;
  }

  /**
   * Whether a client-go follower that saw `previous` would see `next` as a change.
   * Protected only so tests can build deliberately unsafe variants; do not override in production.
   */
  protected goVisibleRenewal(previous: LeaderElectionRecord, next: LeaderElectionRecord): boolean {
    return !this.config.clientGoFollowers || !sameForGoFollower(previous, next);
  }

  private async writeRecord(
    purpose: RequestPurpose,
    record: LeaderElectionRecord,
    base: Lease,
    deadlineMs: number,
    stop: AbortSignal,
  ): Promise<AttemptOutcome> {
    const lease = leaseWithRecord(record, { name: this.config.leaseName, namespace: this.config.leaseNamespace }, base);
    const sentAt = this.guaranteeBase(record, this.clock.now());
    try {
      const updated = await this.request(purpose, 'update', deadlineMs, stop, (signal) =>
        this.client.update(this.config.leaseNamespace, lease, { signal }),
      );
      return this.wrote(updated, sentAt);
    } catch (err) {
      if (isNotFound(err) && purpose === 'renew') this.sawNotFoundWhileRenewing = true;
      if (isConflict(err) && purpose === 'acquire') this.lastFailureConflict = true;
      else this.reportFailure('update', err);
      return 'failed';
    }
  }

  /**
   * A write of ours committed: observe it and extend the guarantee from `sentAt` (the send time
   * it may count from, see {@link guaranteeBase}).
   */
  private wrote(lease: Lease, sentAt: number): AttemptOutcome {
    const now = this.clock.now();
    // An answer handled after the guarantee it would give ran out (a pause, a late answer) gives
    // nothing: for a renewal the term ends (isLeader() already said false, and leadership never
    // flickers back); for an acquisition no term starts, since another replica may lead by now
    // (found by the simulator: a paused acquirer started a term with a stale token). The Lease
    // still names us, so the next try reads it and may begin a fresh term with a new token.
    const bound = this.leading ? this.guardedUntil : this.guaranteeUntil(sentAt);
    if (now >= bound) {
      this.observe(lease, now);
      return 'failed';
    }
    this.observe(lease, now);
    this.failureLog = { key: '', atMs: -Infinity, suppressed: 0 };
    this.extendGuarantee(sentAt);
    this.notify(() => this.config.observer?.onRenewed?.({ wallTimeMs: this.clock.wallNow() }));
    return 'acquired';
  }

  // ---------------------------------------------------------------------------------------------
  // lead: one leadership term, from acquisition to step-down (and release on shutdown).

  private async lead(stop: AbortSignal): Promise<void> {
    const record = this.observed!.record;
    const term = new Term(record.leaseTransitions, record.acquireTimeMs ?? this.clock.wallNow(), this.config.identity, (t) => this.term === t && this.isLeader());
    const controller = new AbortController();
    this.term = term;
    this.termStartedAt = this.clock.now();
    this.leaderController = controller;
    this.leading = true;
    this.workFailure = undefined;
    this.armGuardTimer();
    this.log.debug('Started leading', { token: term.token });
    this.notify(() => this.config.observer?.onAcquired?.({ token: term.token }));
    this.recordEvent('became leader');
    this.invoke(
      'onStartedLeading',
      () => this.callbacks.onStartedLeading?.(controller.signal, term),
      (err) => this.leaderWorkFailed(term, controller.signal, err),
    );

    const reason = await this.renewLoop(stop, controller.signal);
    await this.endTerm(reason);
  }

  /**
   * The leader's own work failed (onStartedLeading threw or rejected) while its term is live: by
   * default the term ends (a leader doing nothing must not keep the lease from the others).
   */
  private leaderWorkFailed(term: Term, leadership: AbortSignal, err: unknown): void {
    if (this.config.onStartedLeadingFailure !== 'resign' || this.term !== term || leadership.aborted || !this.leading) return;
    this.workFailure = err ?? new Error('onStartedLeading failed');
    this.log.error('onStartedLeading failed; stepping down so another replica can lead (onStartedLeadingFailure: resign)', {
      error: describeError(err),
    });
    this.wake?.();
  }

  /** Renews every retry period; returns why the term ends. */
  private async renewLoop(stop: AbortSignal, leadership: AbortSignal): Promise<StopReason> {
    const linked = linkSignals([stop, leadership]);
    try {
      return await this.renewRounds(stop, leadership, linked.signal);
    } finally {
      linked.dispose(); // nothing of this term stays attached to the long-lived run signal
    }
  }

  private async renewRounds(stop: AbortSignal, leadership: AbortSignal, either: AbortSignal): Promise<StopReason> {
    for (;;) {
      const before = this.interruption(stop, leadership);
      if (before) return before;
      await this.pause(this.config.retryPeriodMs, either);
      const interrupted = this.interruption(stop, leadership);
      if (interrupted) return interrupted;

      // One round: retry every retry period until the renew deadline (or the guarantee) passes.
      const roundDeadline = this.renewRoundDeadline(this.clock.now());
      this.sawNotFoundWhileRenewing = false;
      for (;;) {
        const outcome = await this.tryAcquireOrRenew('renew', roundDeadline, either);
        if (outcome === 'acquired') break;
        const cut = this.interruption(stop, leadership);
        if (cut) return cut;
        if (outcome === 'lost') return this.getLeader() === '' && this.sawNotFoundWhileRenewing ? 'lease_deleted' : 'lease_taken';
        if (this.clock.now() >= roundDeadline) return this.sawNotFoundWhileRenewing ? 'lease_deleted' : 'renew_failed';
        // At least 1 ms: a custom clock firing a hair early must not make this loop spin.
        await this.pause(Math.max(1, Math.min(this.config.retryPeriodMs, roundDeadline - this.clock.now())), either);
      }
    }
  }

  private interruption(stop: AbortSignal, leadership: AbortSignal): StopReason | undefined {
    this.guaranteeHolds();
    if (leadership.aborted) return 'renew_failed'; // the guarantee ran out
    if (stop.aborted) return 'released';
    if (this.resignRequest) return 'resigned';
    if (this.workFailure !== undefined) return 'work_failed';
    return undefined;
  }

  /**
   * Ends the term in the only safe order: stop claiming leadership, abort the leader's signal,
   * wait (bounded) for its work to stop, and only then release the lease.
   */
  private async endTerm(reason: StopReason): Promise<void> {
    const term = this.term!;
    const heldMs = this.clock.now() - this.termStartedAt;
    this.leading = false;
    this.disarmGuardTimer();
    this.leaderController?.abort(new LeaseKitError('LEADERSHIP_LOST', `leadership ended: ${reason}`));
    this.leaderController = undefined;
    this.workFailure = undefined;
    (reason === 'released' || reason === 'resigned' ? this.log.info : this.log.warn)('Stopped leading', {
      reason,
      previous_leader: this.config.identity,
    });
    this.notify(() => this.config.observer?.onLeadershipEnded?.({ reason, heldMs }));

    const settled = await this.settleWithin(
      () => this.callbacks.onStoppedLeading?.({ reason, term }),
      this.config.onStoppedLeadingTimeoutMs,
      'onStoppedLeading',
    );
    this.recordEvent('stopped leading');

    const resign = this.resignRequest;
    this.resignRequest = undefined;
    const shouldRelease = (reason === 'released' && this.config.releaseOnCancel) || reason === 'resigned' || reason === 'work_failed';
    if (shouldRelease) {
      if (settled) await this.release();
      else {
        this.log.warn('Not releasing the lease: onStoppedLeading did not settle in time, so leader work may still be running; the lease will expire instead', {
          timeoutMs: this.config.onStoppedLeadingTimeoutMs,
        });
      }
    }
    if (resign) {
      this.cooldownUntil = this.clock.now() + resign.cooldownMs;
      for (const done of resign.done) done();
    }
    // A short cooldown, so another replica can take over before this one contends again: longer
    // than a polling follower's longest wait between two tries, 2.2 R.
    if (reason === 'work_failed') this.cooldownUntil = Math.max(this.cooldownUntil, this.clock.now() + WORK_FAILED_COOLDOWN_RETRY_PERIODS * this.config.retryPeriodMs);
  }

  /**
   * Gives the lease up: GET, and only if the fetched record still names us, PUT an empty holder
   * (leaseDurationSeconds 1, times now, transitions kept). Retries on 409, bounded by the renew
   * deadline. Never writes over a lease someone else holds.
   */
  private async release(): Promise<void> {
    const deadline = this.clock.now() + this.config.renewDeadlineMs;
    let conflicts = 0;
    while (this.clock.now() < deadline) {
      let current: Lease;
      try {
        current = await this.request('release', 'get', deadline, undefined, (signal) =>
          this.client.get(this.config.leaseNamespace, this.config.leaseName, { signal }),
        );
      } catch (err) {
        if (isNotFound(err)) return;
        this.reportFailure('get', err);
        await sleep(this.clock, Math.min(this.config.retryPeriodMs, deadline - this.clock.now()));
        continue;
      }
      const observation = this.observe(current);
      if (!this.mayRelease(observation.record)) {
        this.log.info('Not releasing the lease: it is no longer ours', { holder: observation.record.holderIdentity });
        return;
      }
      const now = this.clock.wallNow();
      const released: LeaderElectionRecord = {
        ...observation.record,
        holderIdentity: '',
        leaseDurationSeconds: 1,
        acquireTimeMs: now,
        renewTimeMs: now,
      };
      try {
        const written = await this.request('release', 'update', deadline, undefined, (signal) =>
          this.client.update(this.config.leaseNamespace, leaseWithRecord(released, { name: this.config.leaseName, namespace: this.config.leaseNamespace }, current), { signal }),
        );
        this.observe(written);
        this.log.info('Released the lease');
        return;
      } catch (err) {
        // A first conflict: an in-flight write landed first, read again at once. Any other
        // failure, or conflicts again and again: one try per retry period, like client-go.
        if (isConflict(err) && conflicts++ === 0) continue;
        this.reportFailure('update', err);
        await sleep(this.clock, Math.min(this.config.retryPeriodMs, deadline - this.clock.now()));
      }
    }
    this.log.warn('Could not release the lease before the renew deadline; it will expire instead', {
      renewDeadlineMs: this.config.renewDeadlineMs,
    });
  }

  /** Only a lease that still names us may be released (protected for test variants only). */
  protected mayRelease(record: LeaderElectionRecord): boolean {
    return record.holderIdentity === this.config.identity;
  }

  // ---------------------------------------------------------------------------------------------
  // The lease guarantee: isLeader() and the leadership signal end by sentAt + guarded duration.

  private extendGuarantee(sentAt: number): void {
    this.guardedUntil = this.guaranteeUntil(sentAt);
    if (this.leading) this.armGuardTimer();
  }

  /**
   * Until when a renewal sent at `sentAtMs` guarantees leadership: the lease duration, less a
   * margin for our clock running slow and a follower's running fast (each by at most r).
   * Protected only so tests can build deliberately unsafe variants; do not override in production.
   */
  protected guaranteeUntil(sentAtMs: number): number {
    const r = this.config.maxClockDriftRate;
    return sentAtMs + (this.config.leaseDurationMs * (1 - 2 * r)) / (1 + r);
  }

  /** The deadline of a renew round started at `roundStartMs` (protected for test variants only). */
  protected renewRoundDeadline(roundStartMs: number): number {
    return Math.min(roundStartMs + this.config.renewDeadlineMs, this.guardedUntil);
  }

  /**
   * Defence in depth: renew rounds are already capped at the guarantee, so the loop itself ends
   * the term in time; this timer keeps "the leadership signal aborts at the guarantee deadline at
   * the latest" true whatever the loop is awaiting.
   */
  private armGuardTimer(): void {
    this.disarmGuardTimer();
    const delay = this.guardedUntil - this.clock.now();
    this.guardTimer = this.clock.setTimeout(() => {
      this.guardTimer = undefined;
      // A clock that fires a hair early must not leave the guarantee unguarded: arm again.
      if (this.leading && this.clock.now() < this.guardedUntil) this.armGuardTimer();
      else this.guaranteeHolds(true);
    }, Math.max(0, delay));
  }

  /**
   * False, after aborting the leadership signal, when this replica leads but its guarantee has
   * run out. Called first on every wake-up of the elector (timers, answers), so after a process
   * pause the signal is aborted before the elector sends a request or runs another callback.
   */
  private guaranteeHolds(guardTimer = false): boolean {
    if (!this.leading || this.clock.now() < this.guardedUntil) return true;
    if (!guardTimer && !this.enforcesGuaranteeOnWake()) return true;
    const controller = this.leaderController;
    if (controller && !controller.signal.aborted) {
      controller.abort(new LeaseKitError('LEADERSHIP_LOST', 'lease guarantee expired')); // first: the logger is user code
      this.log.error('Lease guarantee ran out before a renewal succeeded; stepping down', {
        lastRenewSentAgoMs: Math.round(this.clock.now() - this.guardedUntil + this.config.leaseDurationMs),
      });
      this.wake?.();
    }
    return false;
  }

  /**
   * Whether wake-ups check the guarantee (true). Protected only so tests can build deliberately
   * unsafe variants that rely on the guard timer alone; do not override in production.
   */
  protected enforcesGuaranteeOnWake(): boolean {
    return true;
  }

  private disarmGuardTimer(): void {
    if (this.guardTimer !== undefined) this.clock.clearTimeout(this.guardTimer);
    this.guardTimer = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Observation and expiry: judged only from our own monotonic observation time.

  private markMissing(): void {
    this.missingSince ??= this.clock.now();
  }

  private observe(lease: Lease, atMs = this.clock.now()): Observation {
    this.missingSince = undefined;
    const { record, problems } = recordFromLease(lease);
    if (problems.length > 0) {
      const key = problems.join('; ');
      if (key !== this.lastProblems) {
        this.lastProblems = key;
        this.log.warn('Malformed lease content; treating it conservatively', { problems });
      }
    }
    // A claim's token is what is checked against the highest seen, so claims count separately.
    if (!isClaim(lease)) this.highestToken = Math.max(this.highestToken, record.leaseTransitions);
    this.highestTokenAny = Math.max(this.highestTokenAny, record.leaseTransitions);
    if (record.holderIdentity !== '' && record.leaseDurationSeconds !== null) {
      this.longestSeenDurationMs = Math.max(this.longestSeenDurationMs, record.leaseDurationSeconds * 1000);
    }
    if (this.observed && sameRecord(this.observed.record, record) && sameObject(this.observed.lease, lease)) {
      this.observed.lease = lease; // same record, possibly newer metadata
    } else {
      this.observed = { record, lease, atMs };
      // A claim is not a leader yet: onNewLeader fires when the claimer takes over its claim.
      if (!isClaim(lease)) this.reportLeader(record.holderIdentity);
    }
    return this.observed;
  }

  private expiresAtMs(obs: Observation): number {
    if (obs.record.holderIdentity === '') return obs.atMs;
    // A missing or unusable duration never means "expired now": fall back to our own.
    const durationMs = obs.record.leaseDurationSeconds === null ? this.config.leaseDurationMs : obs.record.leaseDurationSeconds * 1000;
    return obs.atMs + durationMs;
  }

  /** Whether the observed lease has expired (protected for test variants only). */
  protected isExpired(obs: Observation): boolean {
    return this.expiresAtMs(obs) <= this.clock.now();
  }

  private reportLeader(holder: string): void {
    if (holder === '' || holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    this.log.debug('New leader observed', { leader: holder, is_self: holder === this.config.identity });
    this.invoke('onNewLeader', () => this.callbacks.onNewLeader?.(holder));
  }

  // ---------------------------------------------------------------------------------------------
  // Plumbing: bounded requests, failure reporting, safe callbacks, events.

  private leaseDeadlinePassed(deadlineMs: number): boolean {
    return this.clock.now() >= deadlineMs;
  }

  private async request<T>(
    purpose: RequestPurpose,
    verb: 'get' | 'create' | 'update',
    deadlineMs: number,
    stop: AbortSignal | undefined,
    send: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    // Never send a renewal past the guarantee (e.g. right after a pause): step down instead.
    if (purpose === 'renew' && !this.guaranteeHolds()) {
      throw new LeaseKitError('LEADERSHIP_LOST', 'lease guarantee expired before the renewal could be sent');
    }
    const start = this.clock.now();
    const bounded = boundedSignal(this.clock, deadlineMs - start, stop);
    try {
      const result = await raceAbort(Promise.resolve().then(() => send(bounded.signal)), bounded.signal);
      this.guaranteeHolds(); // an answer handled after a pause: the signal first
      if (typeof result !== 'object' || result === null || Array.isArray(result)) {
        // A 200 with a null or non-object body is no Lease: a failed request, never a crash.
        throw new NetworkError(`${verb} answered with ${result === null ? 'null' : typeof result} instead of a Lease object`);
      }
      this.notify(() => this.config.observer?.onRequest?.({ purpose, verb, durationMs: this.clock.now() - start }));
      return result;
    } catch (err) {
      this.guaranteeHolds();
      const normalised = normaliseError(err);
      this.notify(() =>
        this.config.observer?.onRequest?.({ purpose, verb, durationMs: this.clock.now() - start, errorReason: errorReasonOf(normalised) }),
      );
      throw normalised;
    } finally {
      bounded.dispose();
    }
  }

  /**
   * Logs a failed request: a new kind of failure at once (error level for 403, else warn), the
   * same failure again at warn level at most once per FAILURE_LOG_INTERVAL_MS, with the number of
   * repeats in between. Also records a Retry-After.
   */
  private reportFailure(verb: string, err: unknown): void {
    const now = this.clock.now();
    if (isApiError(err) && err.retryAfterSeconds !== undefined && err.retryAfterSeconds > 0) {
      this.retryAfterUntil = now + Math.min(err.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS);
    }
    const key = `${verb}:${isApiError(err) ? err.reason : err instanceof LeaseKitError ? err.code : 'other'}`;
    const log = this.failureLog;
    if (key === log.key && now - log.atMs < FAILURE_LOG_INTERVAL_MS) {
      log.suppressed++;
      return;
    }
    const repeats = key === log.key ? log.suppressed : 0;
    this.failureLog = { key, atMs: now, suppressed: 0 };
    const fields = { verb, error: describeError(err), ...(repeats > 0 ? { repeatedSinceLastLog: repeats } : {}) };
    if (isForbidden(err)) {
      this.log.error(
        `Not allowed to ${verb} leases: grant get, create and update (and watch, for watching followers) on leases.coordination.k8s.io in namespace ${this.config.leaseNamespace} (Role + RoleBinding); retrying until it is fixed`,
        fields,
      );
    } else {
      this.log.warn(repeats > 0 ? 'Lease request still failing' : 'Lease request failed', fields);
    }
  }

  /** Calls a user callback; a throw or rejection is logged (and handed to `onError`), never propagated. */
  private invoke(name: string, fn: () => unknown, onError?: (err: unknown) => void): void {
    const failed = (err: unknown): void => {
      this.log.error(`${name} callback failed`, { error: describeError(err) });
      onError?.(err);
    };
    try {
      const result = fn();
      if (isPromiseLike(result)) result.then(undefined, failed);
    } catch (err) {
      failed(err);
    }
  }

  /** Runs a callback and waits for it, at most `timeoutMs`; true when it settled in time. */
  private async settleWithin(fn: () => unknown, timeoutMs: number, name: string): Promise<boolean> {
    let result: unknown;
    try {
      result = fn();
    } catch (err) {
      this.log.error(`${name} callback failed`, { error: describeError(err) });
      return true;
    }
    if (!isPromiseLike(result)) return true;
    const settled = Promise.resolve(result).then(
      () => true,
      (err: unknown) => {
        this.log.error(`${name} callback failed`, { error: describeError(err) });
        return true;
      },
    );
    const timeout = new AbortController();
    const timer = sleep(this.clock, timeoutMs, timeout.signal).then(() => false);
    try {
      return await Promise.race([settled, timer]);
    } finally {
      timeout.abort();
    }
  }

  /** Calls an observer hook; a throwing observer is logged and ignored. */
  private notify(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn('observer hook failed', { error: describeError(err) });
    }
  }

  private recordEvent(action: 'became leader' | 'stopped leading'): void {
    if (!this.config.recordEvents || !this.client.recordEvent) return;
    const recordEvent = this.client.recordEvent.bind(this.client);
    const bounded = boundedSignal(this.clock, this.config.renewDeadlineMs);
    const uid = this.observed?.lease.metadata?.uid;
    const pending = raceAbort(
      Promise.resolve().then(() =>
        recordEvent(
          {
            namespace: this.config.leaseNamespace,
            leaseName: this.config.leaseName,
            ...(uid !== undefined ? { leaseUid: uid } : {}),
            type: 'Normal',
            reason: 'LeaderElection',
            message: `${this.config.identity} ${action}`,
            reportingInstance: this.config.identity,
            timeMs: this.clock.wallNow(),
          },
          { signal: bounded.signal },
        ),
      ),
      bounded.signal,
    )
      .catch((err: unknown) => this.log.warn('Could not record a leader election event', { error: describeError(err) }))
      .finally(() => {
        bounded.dispose();
        this.background.delete(pending);
      });
    this.background.add(pending);
  }
}

function isLeaseClient(value: unknown): value is LeaseClient {
  const c = value as Partial<LeaseClient> | null;
  return c != null && typeof c.get === 'function' && typeof c.create === 'function' && typeof c.update === 'function';
}

/** A Lease created as a claim that its holder has not taken over yet (see createMissing). */
function isClaim(lease: Lease): boolean {
  const claimer = lease.metadata?.annotations?.[CLAIM_ANNOTATION];
  return claimer !== undefined && claimer === lease.spec?.holderIdentity;
}

/** `lease` without the claim annotation (taking over a claim turns it into a plain record). */
function withoutClaim(lease: Lease): Lease {
  const annotations = lease.metadata?.annotations;
  if (annotations === undefined || !(CLAIM_ANNOTATION in annotations)) return lease;
  const rest = Object.fromEntries(Object.entries(annotations).filter(([key]) => key !== CLAIM_ANNOTATION));
  return { ...lease, metadata: { ...lease.metadata, annotations: rest } };
}

/** Whether two reads are of the same Lease object (a deleted and recreated Lease has a new uid). */
function sameObject(a: Lease, b: Lease): boolean {
  return a.metadata?.uid === b.metadata?.uid;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

function normaliseError(err: unknown): Error {
  if (err instanceof LeaseKitError) return err;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new RequestTimeoutError(err.message || 'request aborted', { cause: err });
  }
  if (err instanceof Error) return new NetworkError(err.message, { cause: err });
  return new NetworkError(String(err));
}

function errorReasonOf(err: Error): ApiErrorReason | 'NetworkError' {
  if (isApiError(err)) return err.reason;
  if (err instanceof RequestTimeoutError) return 'Timeout';
  if (err instanceof NetworkError) return 'NetworkError';
  return 'Unknown';
}
