/**
 * Owns the election algorithm's steps for one Lease (run, acquire, tryAcquireOrRenew, lead, release).
 *
 * The elector: client-go's leader election algorithm, plus what its users keep asking for
 * (contending again after a loss, lease-guarded leadership, fencing tokens, resign). Its parts:
 * the follower's schedule (schedule.ts), the term and its guarantee (term.ts, guarantee-base.ts),
 * the observation (observation.ts), requests (lease-requests.ts), callbacks (callbacks.ts), Events
 * (leader-events.ts); it sees only the LeaseClient interface (client-factory.ts builds it).
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
import { sleep, type Clock } from './clock.js';
import { notify, invoke, settleWithin } from './callbacks.js';
import { CandidateKeeper, candidateClientOf } from './candidate.js';
import { asClaim, isClaim, withoutClaim } from './claim.js';
import { leaseClientFor } from './client-factory.js';
import { coordinatedTakeable } from './coordinated.js';
import { JITTER_FACTOR, resolveConfig, type ElectorConfig, type ResolvedConfig } from './config.js';
import { ConfigError, LeaseKitError, describeError, isAlreadyExists, isApiError, isConflict, isNotFound } from './errors.js';
import { LeaseFollower } from './follower.js';
import { GuaranteeBase } from './guarantee-base.js';
import { acquiredRecord, handoverRecord, releasedRecord, renewedRecord, withHandoverAnnotation, withoutHandoverAnnotation, withoutStaleHandover, type RecordWriter } from './records.js';
import { resolveSteps, safeSteps, type ElectorSteps } from './steps.js';
import { LeaderEvents, type LeaderEventAction } from './leader-events.js';
import type { Lease, LeaseClient } from './lease.js';
import { toSafeLogger, type Logger, type SafeLogger } from './logger.js';
import { LeaseObservation, type Observation } from './observation.js';
import type { RequestPurpose, StopReason } from './observer.js';
import { MAX_INT32, leaseWithRecord, type LeaderElectionRecord } from './record.js';
import { LeaseRequests } from './lease-requests.js';
import { FollowerSchedule } from './schedule.js';
import { ABORT_ERROR, linkSignals } from './signals.js';
import { Leadership, type LeadershipTerm, type StoppedLeadingInfo } from './term.js';

export { CLAIM_ANNOTATION } from './claim.js';

export { HANDOVER_ANNOTATION } from './records.js';
export { FAILURE_LOG_INTERVAL_MS } from './lease-requests.js';
export type { Observation } from './observation.js';
export type { LeadershipTerm, StoppedLeadingInfo } from './term.js';

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
  /**
   * Directed handover: after the term has ended (as for a plain resign), write a record naming
   * this replica instead of releasing the lease. A watching `to` takes it at once with one write,
   * a polling one at its next poll; every other replica sees a lease held by `to` and waits one
   * lease duration from its own observation, so a dead or wrong target costs at most that. A
   * non-empty identity other than this replica's own.
   */
  readonly to?: string;
}

/**
 * What `tryAcquireOrRenew` concluded. `yield`: the leader found a preferredHolder naming another
 * replica on its own record and hands the lease over instead of renewing it.
 */
type AttemptOutcome = 'acquired' | 'held' | 'failed' | 'lost' | 'yield';

/** After `work_failed`, the replica stays out this many retry periods (> 2.2, a poller's longest wait). */
export const WORK_FAILED_COOLDOWN_RETRY_PERIODS = 3.2;

/** The reason a pause's own signal aborts with (read by no one: it only ends the sleep). */
const PAUSE_INTERRUPTED = 'pause interrupted';

export class Elector {
  /** The validated configuration with defaults applied. */
  readonly config: ResolvedConfig;
  private readonly client: LeaseClient;
  /** The client was built here (from a KubeConfig), so run() closes its pooled connections when it ends. */
  private readonly ownsClient: boolean;
  private readonly callbacks: LeaderCallbacks;
  private readonly log: SafeLogger;
  private readonly clock: Clock;
  /** What this process saw of the Lease, and when. */
  private readonly observations: LeaseObservation;
  /** When a follower tries next. */
  private readonly schedule: FollowerSchedule;
  /** The current term, its signal and its guarantee. */
  private readonly leadership: Leadership;
  /** The send time each write's guarantee counts from. */
  private readonly guaranteeBase: GuaranteeBase;
  private readonly requests: LeaseRequests;
  private readonly events: LeaderEvents;
  private readonly follower: LeaseFollower;
  /** The safety-critical steps (replaceable only through the test-only seam, see steps.ts). */
  private readonly steps: ElectorSteps;
  /** Coordinated mode: keeps this replica's LeaseCandidate (undefined otherwise). */
  private readonly candidate: CandidateKeeper | undefined;

  private running = false;
  private reportedLeader = '';
  private resignRequest: { cooldownMs: number; to: string | undefined; done: Array<() => void> } | undefined;
  /** The preferredHolder this replica's term yields to (see preferredElsewhere). */
  private yieldTo: string | undefined;
  private slowPathCount = 0;
  private sawNotFoundWhileRenewing = false;
  /** Set when onStartedLeading failed during the current term (and the policy is to resign). */
  private workFailure: unknown;
  private wake: (() => void) | undefined;
  /** The observation a write-only take failed on (see takeableObservation). */
  private takeFailedOn: Observation | undefined;

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
    this.client = leaseClientFor(client, this.config.renewDeadlineMs);
    this.ownsClient = this.client !== client;
    this.callbacks = callbacks ?? {};
    this.log = toSafeLogger(logger, { identity: this.config.identity, lease: `${this.config.leaseNamespace}/${this.config.leaseName}` });
    const { clock, log } = this;
    const settings = this.config.coordinated;
    this.candidate = settings && new CandidateKeeper({ client: candidateClientOf(this.client), config: this.config, settings, clock, log });
    this.steps = resolveSteps(
      safeSteps(this.config, {
        guardedUntil: () => this.leadership.guardedUntil,
        termToken: () => this.leadership.current?.token,
        observations: () => this.observations,
      }),
      this.config,
    );
    this.observations = new LeaseObservation({ clock, log, fallbackDurationMs: this.config.leaseDurationMs });
    this.schedule = new FollowerSchedule({ clock, config: this.config, backoffMs: (failures) => this.steps.failureBackoffMs(failures) });
    this.leadership = new Leadership({
      clock,
      log,
      identity: this.config.identity,
      leaseDurationMs: this.config.leaseDurationMs,
      enforcesOnWake: () => this.steps.enforcesGuaranteeOnWake(),
      onExpired: () => this.wake?.(),
    });
    this.guaranteeBase = new GuaranteeBase(this.config.leaseDurationMs, (previous, next) => this.steps.goVisibleRenewal(previous, next));
    this.requests = new LeaseRequests({ clock, log, config: this.config, guaranteeHolds: () => this.leadership.holds() });
    this.events = new LeaderEvents({ client: this.client, config: this.config, clock, log });
    this.follower = new LeaseFollower({
      client: this.client,
      config: this.config,
      log: this.log,
      onLease: (lease) => {
        this.observe(lease);
        this.wake?.();
      },
      onDeleted: () => {
        this.observations.markMissing();
        this.wake?.();
      },
      currentResourceVersion: () => this.observed?.lease.metadata?.resourceVersion,
    });
  }

  /** True only while this replica leads and its lease is guaranteed (see the class doc). */
  isLeader(): boolean {
    return this.leadership.isLeader();
  }

  /** The holder of the last observed record ('' before any is observed, or when the lease is free). */
  getLeader(): string {
    return this.observed?.record.holderIdentity ?? '';
  }

  /** The current term while leading, else undefined. */
  getTerm(): LeadershipTerm | undefined {
    return this.isLeader() ? this.leadership.current : undefined;
  }

  /**
   * Liveness check with client-go's semantics: an Error when this replica believes it leads but
   * has not renewed for longer than the lease duration plus `toleranceMs` (it is wedged);
   * undefined otherwise.
   */
  check(toleranceMs = 0): Error | undefined {
    if (!this.leadership.active || !this.observed) return undefined;
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
      term: isLeader ? this.leadership.current : undefined,
      guaranteedUntilMs: isLeader ? this.leadership.guardedUntil : undefined,
      running: this.running,
      slowPathCount: this.slowPathCount,
      observedRecord: this.observed ? { ...this.observed.record } : undefined,
    };
  }

  /**
   * Steps down on purpose: stops the leader's work (aborts its signal, awaits onStoppedLeading),
   * releases the lease (or, with `to`, hands it to that replica) and goes back to following,
   * without stopping `run()`. Resolves when done (the release or handover write committed or
   * failed; a failure is logged and the lease then expires); resolves at once when not leading.
   */
  resign(options: ResignOptions = {}): Promise<void> {
    const cooldownMs = options.cooldownMs ?? this.config.leaseDurationMs;
    if (!(typeof cooldownMs === 'number' && cooldownMs >= 0 && Number.isFinite(cooldownMs))) {
      return Promise.reject(new ConfigError('OPTION_INVALID', 'cooldownMs', `cooldownMs (${String(cooldownMs)}) must be a finite number >= 0`));
    }
    const { to } = options;
    if (to !== undefined && this.config.coordinated) {
      return Promise.reject(new ConfigError('OPTION_INVALID', 'to', 'to is not supported with coordinated: true: the election coordinator chooses the next holder'));
    }
    if (to !== undefined && !(typeof to === 'string' && to !== '' && to !== this.config.identity)) {
      const why = to === this.config.identity ? 'is this replica itself' : 'must be a non-empty string';
      return Promise.reject(new ConfigError('OPTION_INVALID', 'to', `to (${JSON.stringify(to) ?? String(to)}) ${why}: name the replica to hand the lease to`));
    }
    if (!this.leadership.active) return Promise.resolve();
    return new Promise((resolve) => {
      if (this.resignRequest) {
        this.resignRequest.cooldownMs = Math.max(this.resignRequest.cooldownMs, cooldownMs);
        this.resignRequest.to ??= to; // the first named target stands
        this.resignRequest.done.push(resolve);
      } else {
        this.resignRequest = { cooldownMs, to, done: [resolve] };
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
    // Coordinated mode: the LeaseCandidate is kept while run() runs, leading or not.
    const candidateStop = new AbortController();
    const linked = linkSignals([stop, candidateStop.signal]);
    const candidateKept = this.candidate?.run(linked.signal);
    try {
      while (!stop.aborted) {
        if (!(await this.acquire(stop))) break;
        await this.lead(stop);
        if (this.config.once) break;
      }
    } catch (err) {
      // Defensive: nothing above should throw, but if it does the caller must not be left with a leader.
      this.log.error('Leader election loop failed', { error: describeError(err) });
      if (this.leadership.active) await this.endTerm('renew_failed');
    } finally {
      this.follower.stop();
      candidateStop.abort(ABORT_ERROR);
      await candidateKept;
      linked.dispose();
      await this.events.settled();
      // A client built here from a KubeConfig drops its idle connections: nothing lingers after run().
      if (this.ownsClient) this.client.close?.();
      this.running = false;
      this.log.info('Leader election loop stopped');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // acquire: try at once, then wait (jittered poll, or until the watched lease is free/expired).

  private async acquire(stop: AbortSignal): Promise<boolean> {
    for (;;) {
      if (stop.aborted) return false;
      if (this.schedule.cooledDown() && this.worthTrying()) {
        const deadline = this.clock.now() + this.config.renewDeadlineMs;
        this.schedule.attemptStarted();
        const outcome = await this.tryAcquireOrRenew('acquire', deadline, stop);
        // Any answer showing who holds the lease resets the failure count; a failure backs off.
        this.schedule.attemptEnded(outcome === 'failed', this.observed);
        if (outcome === 'acquired') {
          this.follower.stop();
          return true;
        }
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
    if (!this.watching() || !obs || this.observations.missingSince !== undefined) return true;
    if (this.config.coordinated) return this.takeableCoordinated(obs);
    return obs.record.holderIdentity === '' || obs.record.holderIdentity === this.config.identity || this.steps.isExpired(obs) || this.claimNeedsRaise(obs);
  }

  private watching(): boolean {
    return this.config.followerStrategy === 'watch' && this.follower.healthy;
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

  /** How long a follower waits before its next acquire attempt (see {@link FollowerSchedule.delayMs}). */
  private followerDelayMs(): number {
    const obs = this.observed;
    let watched = this.watching() && obs && this.observations.missingSince === undefined
      ? this.config.coordinated
        ? { free: this.takeableCoordinated(obs), expiresAtMs: Infinity } // only a record naming us is worth a try; else a slow safety poll
        : { free: obs.record.holderIdentity === '' || this.handedToUs(obs), expiresAtMs: this.observations.expiresAtMs(obs) }
      : undefined;
    // A watched lease due now is tried at once; should there be nothing to try (an overridden
    // isExpired that disagrees with the due time), poll instead of waking again at once forever.
    if (watched && (watched.free || watched.expiresAtMs <= this.clock.now()) && !this.worthTrying()) watched = undefined;
    return this.schedule.delayMs(watched, obs);
  }

  /** Waits `ms`; true when woken early by `wake()` (not by `stop`). */
  private async pause(ms: number, stop: AbortSignal): Promise<boolean> {
    if (stop.aborted) return false; // aborted before we got here (e.g. inside onStartedLeading)
    const interrupt = new AbortController();
    // Aborted with a reason of our own: a bare abort() builds a DOMException (its stack trace
    // too) on every wake-up, and no one reads this signal's reason.
    const onStop = (): void => interrupt.abort(PAUSE_INTERRUPTED);
    stop.addEventListener('abort', onStop, { once: true });
    let woken = false;
    this.wake = () => {
      woken = true;
      interrupt.abort(PAUSE_INTERRUPTED);
    };
    try {
      await sleep(this.clock, ms, interrupt.signal);
    } finally {
      this.wake = undefined;
      stop.removeEventListener('abort', onStop);
    }
    // The first thing on every wake-up: a guarantee that ran out (a pause) ends leadership now.
    this.leadership.holds();
    return woken;
  }

  // ---------------------------------------------------------------------------------------------
  // tryAcquireOrRenew: client-go's core step, as numbered steps.

  private async tryAcquireOrRenew(purpose: 'acquire' | 'renew', deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    const { identity } = this.config;

    // 1. Fast path: the leader PUTs its cached object without a GET. On any failure fall back
    //    to the slow path.
    if (purpose === 'renew' && this.observed?.record.holderIdentity === identity) {
      if (this.preferredElsewhere(this.observed.record)) return 'yield';
      const outcome = await this.writeRecord(purpose, this.renewedRecord(this.observed.record), this.observed.lease, deadlineMs, stop);
      if (outcome === 'acquired') return outcome;
      if (this.clock.now() >= deadlineMs) return 'failed';
    }

    // 1b. Handover at the limit: a watching follower takes a released or expired record it saw
    //     with one compare-and-swap write against that object's resourceVersion, without a GET.
    if (purpose === 'acquire') {
      const seen = this.takeableObservation();
      if (seen) return this.takeObserved(seen, deadlineMs, stop);
    }

    // 2. Slow path: read the lease. Missing: create it, if that cannot cut short a holder we saw.
    let current: Lease;
    try {
      current = await this.requests.send(purpose, 'get', deadlineMs, stop, (signal) =>
        this.client.get(this.config.leaseNamespace, this.config.leaseName, { signal }),
      );
    } catch (err) {
      if (!isNotFound(err)) {
        this.reportFailure('get', err);
        return 'failed';
      }
      if (purpose === 'renew') this.sawNotFoundWhileRenewing = true;
      this.observations.markMissing();
      // Coordinated: the coordinator creates the Lease, never a candidate (client-go: NotFound -> false).
      if (this.config.coordinated) return purpose === 'renew' ? 'failed' : 'held';
      return this.createMissing(purpose, deadlineMs, stop);
    }

    // 3. Record what we saw: the observation time is ours, from our monotonic clock.
    const observation = this.observe(current);
    const { record } = observation;
    // Coordinated: a term begins only on a record the coordinator wrote naming us.
    if (this.config.coordinated && purpose === 'acquire' && !this.takeableCoordinated(observation)) return 'held';

    // 4. Held by someone else (or by our own pending claim) and not expired by our own
    //    observation: nothing to do.
    if (record.holderIdentity !== '' && (record.holderIdentity !== identity || isClaim(current))) {
      if (!this.steps.isExpired(observation)) {
        // Someone's claim with a token below one we know (its creator never saw the last
        // terms): raise it, so the term it becomes continues above every token we saw.
        if (this.claimNeedsRaise(observation)) await this.raiseClaimToken(purpose, record, current, deadlineMs, stop);
        return purpose === 'renew' ? 'lost' : 'held';
      }
    }
    // A leader whose lease was released or rewritten behind its back does not silently re-take
    // it mid-term: the term ends and a new one (with a new fencing token) may begin.
    if (purpose === 'renew' && record.holderIdentity !== identity) return 'lost';
    // Our own record now prefers another holder: stop renewing and hand it over (see preferredElsewhere).
    if (purpose === 'renew' && this.preferredElsewhere(record)) return 'yield';

    // 5. Write ourselves in: a renewal keeps acquireTime and transitions; a new term bumps the
    //    transitions, which is also its fencing token (client-go keeps them when the record
    //    already names us; we bump so every term has a fresh token).
    //    client-go's slowpath metric counts exactly here: the slow path reached its write while
    //    the fetched record names us (after a failed fast path, or a restarted process finding its
    //    own identity), before the write whatever its outcome. Our own claim is no holder's record.
    if (record.holderIdentity === identity && !isClaim(current)) {
      this.slowPathCount++;
      notify(this.log, () => this.config.observer?.onSlowPath?.());
    }
    const next = purpose === 'renew' ? this.renewedRecord(record) : this.acquiredRecord(record);
    if (purpose === 'acquire') this.seedIfHandedToUs(observation);
    return this.writeRecord(purpose, next, withoutStaleHandover(withoutClaim(current), identity), deadlineMs, stop);
  }

  /**
   * The observation a watching follower may take without reading the Lease again: another
   * holder's record (no claim) that is free, or expired judged on our own observation time
   * (never its renewTime), with the resourceVersion it was seen at. Undefined when polling, when
   * the watch is down, when the Lease is missing, and for an observation a take already failed
   * on (the next attempt reads the Lease afresh, so a stale watch cannot keep us from it).
   */
  private takeableObservation(): Observation | undefined {
    const obs = this.observed;
    if (!this.watching() || !obs || this.observations.missingSince !== undefined || obs === this.takeFailedOn) return undefined;
    if (obs.lease.metadata?.resourceVersion === undefined) return undefined;
    if (this.config.coordinated) return this.takeableCoordinated(obs) ? obs : undefined;
    if (isClaim(obs.lease)) return undefined;
    const holder = obs.record.holderIdentity;
    return holder === '' || this.handedToUs(obs) || this.steps.isExpired(obs) ? obs : undefined;
  }

  /**
   * Whether `obs` is a record naming this replica, not a claim, while it does not lead: a
   * directed handover's record (or one a previous incarnation of this identity, or an ended term
   * of ours, left behind). Worth trying at once: the write is a compare-and-swap against the
   * object we saw, so it commits only if no one wrote since, and no one else may lead while the
   * Lease names us. Its term begins with a fresh token above the record's.
   */
  private handedToUs(obs: Observation): boolean {
    return obs.record.holderIdentity === this.config.identity && !isClaim(obs.lease) && !this.leadership.active;
  }

  /** Coordinated mode: whether a follower may begin a term on `obs` (see coordinatedTakeable). */
  private takeableCoordinated(obs: Observation): boolean {
    return !this.leadership.active && coordinatedTakeable(obs, this.config.identity, this.steps.isExpired(obs));
  }

  /**
   * Before writing over a record naming us that we did not write in this process, tell the
   * guarantee base when we first saw it: a client-go follower cannot tell a write of ours in the
   * same whole second (at the int32 token cap, where the token cannot change) from it.
   */
  private seedIfHandedToUs(obs: Observation): void {
    if (this.handedToUs(obs)) this.guaranteeBase.seed(obs.record, obs.atMs);
  }

  /**
   * Whether our own record names another replica as `preferredHolder`. Mirrors client-go's
   * tryCoordinatedRenew (v1.31 to v1.33, coordinated leader election): a leader that finds a
   * preferredHolder on its Lease does not renew it. client-go then lets its renew deadline run out
   * and releases (ReleaseOnCancel) or lets the lease expire, and the election controller writes
   * the preferred holder in; with no controller here, the leader ends its term at once and hands
   * the lease to the preferred holder itself (reason `handed_over`). client-go yields to any
   * non-empty preferredHolder; one naming this replica is no reason to step down here.
   */
  private preferredElsewhere(record: LeaderElectionRecord): boolean {
    const preferred = record.preferredHolder;
    if (preferred === undefined || preferred === '' || preferred === this.config.identity) return false;
    this.yieldTo = preferred;
    return true;
  }

  /**
   * Takes `obs` with one write, as safe as GET + PUT: the write carries the resourceVersion at
   * which we saw the record, so it commits only if the object is unchanged since (no one took it
   * in between); the new token is above the record's and every token we saw; the guarantee counts
   * from this write's send time. A 409 is a lost race, not a failure to back off from beyond the
   * schedule's conflict rule: the winner's record arrives on the watch. Like the slow path, it
   * drops a claim marker the object still carries (a stale one: `obs` is no claim), so our term's
   * record never reads as a claim, and a handover annotation unless the record was handed to us.
   */
  private async takeObserved(obs: Observation, deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    this.seedIfHandedToUs(obs);
    const outcome = await this.writeRecord('acquire', this.acquiredRecord(obs.record), withoutStaleHandover(withoutClaim(obs.lease), this.config.identity), deadlineMs, stop);
    if (outcome === 'failed') this.takeFailedOn = obs;
    return outcome;
  }

  private renewedRecord(previous: LeaderElectionRecord): LeaderElectionRecord {
    return renewedRecord(this.writer(), previous, this.clock.wallNow());
  }

  private acquiredRecord(previous: LeaderElectionRecord): LeaderElectionRecord {
    return acquiredRecord(this.writer(), previous, this.clock.wallNow(), this.observations.highestTokenAny);
  }

  /** What the records this replica writes depend on (see records.ts). */
  private writer(): RecordWriter {
    return { identity: this.config.identity, leaseDurationSeconds: this.config.leaseDurationSeconds, renewTimeOver: this.steps.renewTimeOver };
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
    const wall = this.clock.wallNow();
    if (purpose === 'renew') {
      const term = this.leadership.current;
      if (obs?.record.holderIdentity !== identity || term === undefined) return 'failed';
      const record: LeaderElectionRecord = {
        ...obs.record,
        holderIdentity: identity,
        leaseDurationSeconds: this.config.leaseDurationSeconds,
        acquireTimeMs: term.acquireTimeMs,
        renewTimeMs: this.steps.renewTimeOver(obs.record, wall),
        leaseTransitions: this.steps.createdLeaseToken(true),
      };
      return this.createLease(purpose, record, this.newLease(record), deadlineMs, stop);
    }

    const missingFor = now - (this.observations.missingSince ?? now);
    const recreateGraceMs = (1 + JITTER_FACTOR) * this.config.retryPeriodMs;
    if (obs && obs.record.holderIdentity !== '' && missingFor < recreateGraceMs) {
      this.log.debug('Lease not found; giving its holder time to recreate it before claiming it', {
        lastHolder: obs.record.holderIdentity,
        missingForMs: Math.round(missingFor),
      });
      return 'held';
    }
    const holdMs = this.steps.creationHoldMs();
    const token = this.steps.createdLeaseToken(false);
    if (holdMs <= 0) {
      // Only reachable from test variants (client-go's behaviour: lead on creation).
      const record: LeaderElectionRecord = { holderIdentity: identity, leaseDurationSeconds: this.config.leaseDurationSeconds, acquireTimeMs: wall, renewTimeMs: wall, leaseTransitions: token };
      return this.createLease(purpose, record, this.newLease(record), deadlineMs, stop);
    }
    const claim: LeaderElectionRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.min(Math.ceil(holdMs / 1000), MAX_INT32),
      acquireTimeMs: wall,
      renewTimeMs: wall,
      leaseTransitions: token,
    };
    const lease = asClaim(this.newLease(claim), identity);
    try {
      const created = await this.requests.send(purpose, 'create', deadlineMs, stop, (signal) => this.client.create(this.config.leaseNamespace, lease, { signal }));
      this.observe(created);
      this.log.info('Lease not found; created it as a claim, leading once it has stood unchanged for the hold', { holdMs, token });
      return 'held';
    } catch (err) {
      return this.createFailed(err);
    }
  }

  /** A new Lease object carrying `record` and the configured labels (existing Leases are never relabelled). */
  private newLease(record: LeaderElectionRecord): Lease {
    const lease = leaseWithRecord(record, { name: this.config.leaseName, namespace: this.config.leaseNamespace });
    if (Object.keys(this.config.labels).length === 0) return lease;
    return { ...lease, metadata: { ...lease.metadata, labels: { ...this.config.labels } } };
  }

  /** Creates the Lease as holder (a leader's recreation, or a variant's); the answer starts or extends a term. */
  private async createLease(purpose: 'acquire' | 'renew', record: LeaderElectionRecord, lease: Lease, deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    const base = this.sentAtFor(record);
    try {
      const created = await this.requests.send(purpose, 'create', deadlineMs, stop, (signal) => this.client.create(this.config.leaseNamespace, lease, { signal }));
      return this.wrote(created, base);
    } catch (err) {
      return this.createFailed(err);
    }
  }

  private createFailed(err: unknown): AttemptOutcome {
    // Someone created it first: like a write conflict, the next read shows who.
    if (isAlreadyExists(err)) this.schedule.conflicted();
    else this.reportFailure('create', err);
    return 'failed';
  }

  /** Whether `obs` is another replica's claim carrying a token no higher than one we have seen. */
  private claimNeedsRaise(obs: Observation): boolean {
    // Coordinated: never a write over a record naming another replica.
    if (this.config.coordinated) return false;
    return isClaim(obs.lease) && obs.record.holderIdentity !== this.config.identity && obs.record.leaseTransitions <= this.observations.highestToken;
  }

  /**
   * Raises the token of another replica's claim above the highest we have seen (a compare-and-
   * swap; the changed record restarts every follower's wait, the claimer's too, so it only delays
   * the claimer's term). Failures are reported and otherwise ignored: the next read tries again.
   */
  private async raiseClaimToken(purpose: 'acquire' | 'renew', claim: LeaderElectionRecord, current: Lease, deadlineMs: number, stop: AbortSignal): Promise<void> {
    const raised: LeaderElectionRecord = { ...claim, leaseTransitions: Math.min(this.observations.highestToken + 1, MAX_INT32) };
    const lease = leaseWithRecord(raised, { name: this.config.leaseName, namespace: this.config.leaseNamespace }, current);
    try {
      const written = await this.requests.send(purpose, 'update', deadlineMs, stop, (signal) => this.client.update(this.config.leaseNamespace, lease, { signal }));
      this.observe(written);
      this.log.info('Raised the fencing token of a claim on the Lease above the highest this replica has seen', {
        claimer: claim.holderIdentity,
        token: raised.leaseTransitions,
      });
    } catch (err) {
      if (!isConflict(err)) this.reportFailure('update', err);
    }
  }

  private async writeRecord(
    purpose: RequestPurpose,
    record: LeaderElectionRecord,
    base: Lease,
    deadlineMs: number,
    stop: AbortSignal,
  ): Promise<AttemptOutcome> {
    const lease = leaseWithRecord(record, { name: this.config.leaseName, namespace: this.config.leaseNamespace }, withoutDroppedPreference(base, record));
    const sentAt = this.sentAtFor(record);
    try {
      const updated = await this.requests.send(purpose, 'update', deadlineMs, stop, (signal) =>
        this.client.update(this.config.leaseNamespace, lease, { signal }),
      );
      return this.wrote(updated, sentAt);
    } catch (err) {
      if (isNotFound(err) && purpose === 'renew') this.sawNotFoundWhileRenewing = true;
      if (isConflict(err) && purpose === 'acquire') this.schedule.conflicted();
      else if (isConflict(err) && purpose === 'renew') {
        // Someone wrote our Lease since our last write: a coordinator setting preferredHolder, a
        // handover, a takeover. Not a failing API server: the next read decides, and losing the
        // term is logged (as a warning) when it ends.
        this.log.info('Renewal conflicted: the Lease changed since this replica last wrote it; the next read decides whether it still leads', { error: describeError(err) });
      } else this.reportFailure('update', err);
      return 'failed';
    }
  }

  /**
   * The send time a write of `record`, about to be sent, may count its guarantee from (see
   * {@link GuaranteeBase.sentAtFor}). A write that may look like an earlier one lowers the
   * guarantee now, before it is sent: if it commits and its answer is lost, a follower that saw
   * only the earlier one times the lease from then.
   */
  private sentAtFor(record: LeaderElectionRecord): number {
    const sentAt = this.guaranteeBase.sentAtFor(record, this.clock.now());
    if (this.leadership.active) this.leadership.limit(this.steps.guaranteeUntil(sentAt));
    return sentAt;
  }

  /**
   * A write of ours committed: observe it and extend the guarantee from `sentAt` (the send time
   * it may count from, see {@link GuaranteeBase.sentAtFor}).
   */
  private wrote(lease: Lease, sentAt: number): AttemptOutcome {
    const now = this.clock.now();
    // An answer handled after the guarantee it would give ran out (a pause, a late answer) gives
    // nothing: for a renewal the term ends (isLeader() already said false, and leadership never
    // flickers back); for an acquisition no term starts, since another replica may lead by now
    // (found by the simulator: a paused acquirer started a term with a stale token). The Lease
    // still names us, so the next try reads it and may begin a fresh term with a new token.
    const bound = this.leadership.active ? this.leadership.guardedUntil : this.steps.guaranteeUntil(sentAt);
    if (now >= bound) {
      this.observe(lease, now);
      return 'failed';
    }
    this.observe(lease, now);
    this.requests.resetFailureLog();
    this.leadership.extend(this.steps.guaranteeUntil(sentAt));
    notify(this.log, () => this.config.observer?.onRenewed?.({ wallTimeMs: this.clock.wallNow() }));
    return 'acquired';
  }

  // ---------------------------------------------------------------------------------------------
  // lead: one leadership term, from acquisition to step-down (and release on shutdown).

  private async lead(stop: AbortSignal): Promise<void> {
    const record = this.observed!.record;
    this.workFailure = undefined;
    const { term, signal } = this.leadership.begin(record.leaseTransitions, record.acquireTimeMs ?? this.clock.wallNow());
    // Pace: a replica begins at most one term per retry period, whatever ends it (a resign or a
    // handover with cooldownMs 0 as soon as it leads would otherwise make replicas pass the lease
    // around as fast as the API server answers; found by a probe).
    this.schedule.extendCooldown(this.config.retryPeriodMs);
    this.log.debug('Started leading', { token: term.token });
    notify(this.log, () => this.config.observer?.onAcquired?.({ token: term.token }));
    this.recordEvent('became leader');
    invoke(
      this.log,
      'onStartedLeading',
      () => this.callbacks.onStartedLeading?.(signal, term),
      (err) => this.leaderWorkFailed(term, signal, err),
    );

    const reason = await this.renewLoop(stop, signal);
    await this.endTerm(reason);
  }

  /**
   * The leader's own work failed (onStartedLeading threw or rejected) while its term is live: by
   * default the term ends (a leader doing nothing must not keep the lease from the others).
   */
  private leaderWorkFailed(term: LeadershipTerm, leaderSignal: AbortSignal, err: unknown): void {
    if (this.config.onStartedLeadingFailure !== 'resign' || !this.leadership.isLive(term, leaderSignal)) return;
    this.workFailure = err ?? new Error('onStartedLeading failed');
    this.log.error('onStartedLeading failed; stepping down so another replica can lead (onStartedLeadingFailure: resign)', {
      error: describeError(err),
    });
    this.wake?.();
  }

  /** Renews every retry period; returns why the term ends. */
  private async renewLoop(stop: AbortSignal, leaderSignal: AbortSignal): Promise<StopReason> {
    const linked = linkSignals([stop, leaderSignal]);
    try {
      return await this.renewRounds(stop, leaderSignal, linked.signal);
    } finally {
      linked.dispose(); // nothing of this term stays attached to the long-lived run signal
    }
  }

  private async renewRounds(stop: AbortSignal, leaderSignal: AbortSignal, either: AbortSignal): Promise<StopReason> {
    for (;;) {
      const before = this.interruption(stop, leaderSignal);
      if (before) return before;
      await this.pause(this.config.retryPeriodMs, either);
      const interrupted = this.interruption(stop, leaderSignal);
      if (interrupted) return interrupted;

      // One round: retry every retry period until the renew deadline (or the guarantee) passes.
      const roundDeadline = this.steps.renewRoundDeadline(this.clock.now());
      this.sawNotFoundWhileRenewing = false;
      for (;;) {
        const outcome = await this.tryAcquireOrRenew('renew', roundDeadline, either);
        if (outcome === 'acquired') break;
        const cut = this.interruption(stop, leaderSignal);
        if (cut) return cut;
        if (outcome === 'yield') return 'handed_over';
        if (outcome === 'lost') return this.getLeader() === '' && this.sawNotFoundWhileRenewing ? 'lease_deleted' : 'lease_taken';
        if (this.clock.now() >= roundDeadline) return this.sawNotFoundWhileRenewing ? 'lease_deleted' : 'renew_failed';
        // At least 1 ms: a custom clock firing a hair early must not make this loop spin.
        await this.pause(Math.max(1, Math.min(this.config.retryPeriodMs, roundDeadline - this.clock.now())), either);
      }
    }
  }

  private interruption(stop: AbortSignal, leaderSignal: AbortSignal): StopReason | undefined {
    this.leadership.holds();
    if (leaderSignal.aborted) return 'renew_failed'; // the guarantee ran out
    if (stop.aborted) return 'released';
    if (this.resignRequest) return this.resignRequest.to === undefined ? 'resigned' : 'handed_over';
    if (this.workFailure !== undefined) return 'work_failed';
    return undefined;
  }

  /**
   * Ends the term in the only safe order: stop claiming leadership, abort the leader's signal,
   * wait (bounded) for its work to stop, and only then release the lease.
   */
  private async endTerm(reason: StopReason): Promise<void> {
    const { term, heldMs } = this.leadership.end(reason);
    this.workFailure = undefined;
    (reason === 'released' || reason === 'resigned' || reason === 'handed_over' ? this.log.info : this.log.warn)('Stopped leading', {
      reason,
      previous_leader: this.config.identity,
    });
    notify(this.log, () => this.config.observer?.onLeadershipEnded?.({ reason, heldMs }));

    const settled = await settleWithin(
      this.clock,
      this.log,
      () => this.callbacks.onStoppedLeading?.({ reason, term }),
      this.config.onStoppedLeadingTimeoutMs,
      'onStoppedLeading',
    );
    this.recordEvent('stopped leading');

    const resign = this.resignRequest;
    this.resignRequest = undefined;
    // Coordinated: yielding to a preferredHolder releases (the coordinator writes the next holder).
    const handoverTo = reason === 'handed_over' && !this.config.coordinated ? (resign?.to ?? this.yieldTo) : undefined;
    this.yieldTo = undefined;
    const yielded = reason === 'handed_over' && this.config.coordinated !== undefined;
    const shouldRelease = (reason === 'released' && this.config.releaseOnCancel) || reason === 'resigned' || reason === 'work_failed' || handoverTo !== undefined || yielded;
    if (shouldRelease) {
      if (settled) await this.release(handoverTo !== undefined ? { to: handoverTo, token: term.token } : undefined);
      else {
        this.log.warn('Not releasing the lease: onStoppedLeading did not settle in time, so leader work may still be running; the lease will expire instead', {
          timeoutMs: this.config.onStoppedLeadingTimeoutMs,
        });
      }
    }
    if (resign) {
      this.schedule.extendCooldown(resign.cooldownMs); // never shorter than the term-start pace floor (lead())
      for (const done of resign.done) done();
    } else if (handoverTo !== undefined) {
      // Handed to a preferredHolder: should the write have failed, the Lease still names us and
      // must not be taken back at once (see handedToUs); it expires for the others instead.
      this.schedule.extendCooldown(this.config.leaseDurationMs);
    }
    // A short cooldown, so another replica can take over before this one contends again: longer
    // than a polling follower's longest wait between two tries, 2.2 R.
    if (reason === 'work_failed') this.schedule.extendCooldown(WORK_FAILED_COOLDOWN_RETRY_PERIODS * this.config.retryPeriodMs);
  }

  /**
   * Gives the lease up: PUT an empty holder (leaseDurationSeconds 1, times now, transitions kept)
   * over a record that names us; or, for a directed handover (`handover`), a record naming the
   * target: our lease duration, times now, the ended term's token + 1, strategy and
   * preferredHolder kept, and {@link HANDOVER_ANNOTATION} naming us. The first try writes over
   * our own last written object, without a GET (a compare-and-swap on its resourceVersion: it commits only if no one wrote since, so the
   * Lease still names us); after that, or when the cached object is not ours, GET first and write
   * only if the fetched record still names us. Retries on 409, bounded by the renew deadline.
   * Never writes over a lease someone else holds.
   */
  private async release(handover?: { to: string; token: number }): Promise<void> {
    const deadline = this.clock.now() + this.config.renewDeadlineMs;
    let conflicts = 0;
    const own = this.observed;
    let cached = own && own.lease.metadata?.resourceVersion !== undefined && !isClaim(own.lease) && this.steps.mayRelease(own.record) ? own : undefined;
    while (this.clock.now() < deadline) {
      let current: Lease;
      let observation: Observation;
      if (cached) {
        ({ lease: current } = observation = cached);
        cached = undefined;
      } else {
        try {
          current = await this.requests.send('release', 'get', deadline, undefined, (signal) =>
            this.client.get(this.config.leaseNamespace, this.config.leaseName, { signal }),
          );
        } catch (err) {
          if (isNotFound(err)) return;
          this.reportFailure('get', err);
          await sleep(this.clock, Math.min(this.config.retryPeriodMs, deadline - this.clock.now()));
          continue;
        }
        observation = this.observe(current);
      }
      if (!this.steps.mayRelease(observation.record)) {
        this.log.info('Not releasing the lease: it is no longer ours', { holder: observation.record.holderIdentity });
        return;
      }
      const now = this.clock.wallNow();
      const meta = { name: this.config.leaseName, namespace: this.config.leaseNamespace };
      // A handover record never carries a claim marker: a stale one naming the target (left by a
      // writer that keeps annotations, such as client-go taking over that target's old claim)
      // would make it read as the target's own pending claim, taken only after a lease duration.
      const lease = handover
        ? withHandoverAnnotation(leaseWithRecord(handoverRecord(this.writer(), observation.record, handover, now), meta, withoutClaim(current)), this.config.identity)
        : leaseWithRecord(releasedRecord(observation.record, now), meta, withoutHandoverAnnotation(current));
      try {
        const written = await this.requests.send('release', 'update', deadline, undefined, (signal) => this.client.update(this.config.leaseNamespace, lease, { signal }));
        this.observe(written);
        if (handover) this.log.info('Handed the lease over', { to: handover.to });
        else this.log.info('Released the lease');
        return;
      } catch (err) {
        // Deleted: nothing left to release. A first conflict: an in-flight write landed first,
        // read again at once. Any other failure, or conflicts again and again: one try per retry
        // period, like client-go.
        if (isNotFound(err)) return;
        if (isConflict(err) && conflicts++ === 0) continue;
        this.reportFailure('update', err);
        await sleep(this.clock, Math.min(this.config.retryPeriodMs, deadline - this.clock.now()));
      }
    }
    this.log.warn(`Could not ${handover ? `hand the lease over to ${handover.to}` : 'release the lease'} before the renew deadline; it will expire instead`, {
      renewDeadlineMs: this.config.renewDeadlineMs,
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Observation and reporting: what we saw, whom we announced, what failed, which Events we sent.

  /** The last observed record, its object and when we first saw it (undefined before any). */
  private get observed(): Observation | undefined {
    return this.observations.current;
  }

  /** Records a read or written Lease; a new holder (not a pending claim) is announced. */
  private observe(lease: Lease, atMs?: number): Observation {
    const { observation, changed } = this.observations.record(lease, atMs);
    // A claim is not a leader yet: onNewLeader fires when the claimer takes over its claim.
    if (changed && !isClaim(lease)) this.reportLeader(observation.record.holderIdentity);
    return observation;
  }

  private reportLeader(holder: string): void {
    if (holder === '' || holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    this.log.debug('New leader observed', { leader: holder, is_self: holder === this.config.identity });
    invoke(this.log, 'onNewLeader', () => this.callbacks.onNewLeader?.(holder));
  }

  /** Logs a failed request (throttled) and honours a Retry-After it carries. */
  private reportFailure(verb: string, err: unknown): void {
    if (isApiError(err)) this.schedule.retryAfter(err.retryAfterSeconds);
    this.requests.reportFailure(verb, err);
  }

  private recordEvent(action: LeaderEventAction): void {
    this.events.record(action, this.observed?.lease.metadata?.uid);
  }

}

/**
 * `base` without a `spec.preferredHolder` that `record` dropped (an acquisition drops one naming
 * another replica; see acquiredRecord): a written record's fields otherwise overlay the object's.
 */
function withoutDroppedPreference(base: Lease, record: LeaderElectionRecord): Lease {
  if (record.preferredHolder !== undefined || base.spec?.preferredHolder == null) return base;
  const spec = Object.fromEntries(Object.entries(base.spec).filter(([key]) => key !== 'preferredHolder'));
  return { ...base, spec };
}
