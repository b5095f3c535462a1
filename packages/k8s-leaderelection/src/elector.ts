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
 *   term ends before anyone else's can begin.
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
import { MAX_INT32, leaseWithRecord, recordFromLease, sameRecord, type LeaderElectionRecord } from './record.js';
import { LeaseFollower } from './follower.js';

/** One leadership term, handed to `onStartedLeading` and readable while leading. */
export interface LeadershipTerm {
  /**
   * Fencing token: the Lease's `leaseTransitions` as written when this term began. It strictly
   * increases from term to term, across replicas, as long as nobody deletes the Lease (a
   * recreated Lease starts again at 0). Pass it with downstream writes and reject smaller ones.
   */
  readonly token: number;
  /** Wall time (epoch ms) written as `acquireTime` when the term began. */
  readonly acquireTimeMs: number;
  /** This replica's identity. */
  readonly identity: string;
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
  /** Fast-path renewals that fell back to GET + PUT. */
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
  private retryAfterMs = 0;
  private lastFailure = '';
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
        const outcome = await this.tryAcquireOrRenew('acquire', deadline, stop);
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
    if (!this.watching() || !obs || this.missingSince !== undefined) return true;
    return obs.record.holderIdentity === '' || obs.record.holderIdentity === this.config.identity || this.isExpired(obs);
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
    delay = Math.max(delay, this.retryAfterMs);
    this.retryAfterMs = 0;
    return Math.max(delay, this.cooldownUntil - now);
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
    return woken;
  }

  // ---------------------------------------------------------------------------------------------
  // tryAcquireOrRenew: client-go's core step, as numbered steps.

  private async tryAcquireOrRenew(purpose: 'acquire' | 'renew', deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    const { identity } = this.config;

    // 1. Fast path: the leader PUTs its cached object without a GET. On any failure fall back
    //    to the slow path (counted, like client-go's slowpath metric).
    if (purpose === 'renew' && this.observed?.record.holderIdentity === identity) {
      const outcome = await this.writeRecord(purpose, this.renewedRecord(this.observed.record), this.observed.lease, deadlineMs, stop);
      if (outcome === 'acquired') return outcome;
      this.slowPathCount++;
      this.notify(() => this.config.observer?.onSlowPath?.());
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
      return this.createIfSafe(purpose, deadlineMs, stop);
    }

    // 3. Record what we saw: the observation time is ours, from our monotonic clock.
    const observation = this.observe(current);
    const { record } = observation;

    // 4. Held by someone else and not expired by our own observation: nothing to do.
    if (record.holderIdentity !== '' && record.holderIdentity !== identity) {
      if (!this.isExpired(observation)) return purpose === 'renew' ? 'lost' : 'held';
    }
    // A leader whose lease was released or rewritten behind its back does not silently re-take
    // it mid-term: the term ends and a new one (with a new fencing token) may begin.
    if (purpose === 'renew' && record.holderIdentity !== identity) return 'lost';

    // 5. Write ourselves in: a renewal keeps acquireTime and transitions; a new term bumps the
    //    transitions, which is also its fencing token (client-go keeps them when the record
    //    already names us; we bump so every term has a fresh token).
    const next = purpose === 'renew' ? this.renewedRecord(record) : this.acquiredRecord(record);
    return this.writeRecord(purpose, next, current, deadlineMs, stop);
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

  private acquiredRecord(previous: LeaderElectionRecord | undefined): LeaderElectionRecord {
    const now = this.clock.wallNow();
    const record: LeaderElectionRecord = {
      holderIdentity: this.config.identity,
      leaseDurationSeconds: this.config.leaseDurationSeconds,
      acquireTimeMs: now,
      renewTimeMs: now,
      // int32 in the API; at the (theoretical) limit the token stops increasing rather than the
      // write failing forever.
      leaseTransitions: previous ? Math.min(previous.leaseTransitions + 1, MAX_INT32) : 0,
    };
    if (previous?.strategy !== undefined) record.strategy = previous.strategy;
    if (previous?.preferredHolder !== undefined) record.preferredHolder = previous.preferredHolder;
    return record;
  }

  /** Create a missing Lease, unless doing so could cut short a live holder (see below). */
  private async createIfSafe(purpose: 'acquire' | 'renew', deadlineMs: number, stop: AbortSignal): Promise<AttemptOutcome> {
    // A Lease that vanished (deleted by someone) may still be led: its holder keeps leading until
    // its lease guarantee runs out, and recreates the Lease on its next renewal. So "missing" is
    // treated as an observation of its own: a follower creates the Lease only once it has seen it
    // missing for a whole lease duration (by then any holder's guarantee has run out). Only the
    // current leader recreates at once, since nobody else may create it within that duration.
    // Our earlier observation cannot shorten the wait: it may be stale (a silently dead watch).
    const now = this.clock.now();
    const obs = this.observed;
    const ours = purpose === 'renew' && obs?.record.holderIdentity === this.config.identity;
    const missingFor = now - (this.missingSince ?? now);
    const mustWait = Math.max(
      this.config.leaseDurationMs,
      obs && obs.record.holderIdentity !== '' && obs.record.leaseDurationSeconds !== null ? obs.record.leaseDurationSeconds * 1000 : 0,
    );
    if (!ours && missingFor < mustWait) {
      this.log.debug('Lease not found; waiting a lease duration before creating it, in case its holder is still alive', {
        lastHolder: obs?.record.holderIdentity ?? '(never seen)',
        missingForMs: Math.round(missingFor),
      });
      return purpose === 'renew' ? 'failed' : 'held';
    }
    const record = this.acquiredRecord(undefined);
    const lease = leaseWithRecord(record, { name: this.config.leaseName, namespace: this.config.leaseNamespace });
    const sentAt = this.clock.now();
    try {
      const created = await this.request(purpose, 'create', deadlineMs, stop, (signal) =>
        this.client.create(this.config.leaseNamespace, lease, { signal }),
      );
      return this.wrote(created, sentAt);
    } catch (err) {
      if (!isAlreadyExists(err)) this.reportFailure('create', err);
      return 'failed';
    }
  }

  private async writeRecord(
    purpose: RequestPurpose,
    record: LeaderElectionRecord,
    base: Lease,
    deadlineMs: number,
    stop: AbortSignal,
  ): Promise<AttemptOutcome> {
    const lease = leaseWithRecord(record, { name: this.config.leaseName, namespace: this.config.leaseNamespace }, base);
    const sentAt = this.clock.now();
    try {
      const updated = await this.request(purpose, 'update', deadlineMs, stop, (signal) =>
        this.client.update(this.config.leaseNamespace, lease, { signal }),
      );
      return this.wrote(updated, sentAt);
    } catch (err) {
      if (isNotFound(err) && purpose === 'renew') this.sawNotFoundWhileRenewing = true;
      if (!isConflict(err) || purpose !== 'acquire') this.reportFailure('update', err);
      return 'failed';
    }
  }

  /** A write of ours committed: observe it and extend the guarantee from the send time. */
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
    this.lastFailure = '';
    this.extendGuarantee(sentAt);
    this.notify(() => this.config.observer?.onRenewed?.({ wallTimeMs: this.clock.wallNow() }));
    return 'acquired';
  }

  // ---------------------------------------------------------------------------------------------
  // lead: one leadership term, from acquisition to step-down (and release on shutdown).

  private async lead(stop: AbortSignal): Promise<void> {
    const record = this.observed!.record;
    const term: LeadershipTerm = {
      token: record.leaseTransitions,
      acquireTimeMs: record.acquireTimeMs ?? this.clock.wallNow(),
      identity: this.config.identity,
    };
    const controller = new AbortController();
    this.term = term;
    this.termStartedAt = this.clock.now();
    this.leaderController = controller;
    this.leading = true;
    this.armGuardTimer();
    this.log.debug('Started leading', { token: term.token });
    this.notify(() => this.config.observer?.onAcquired?.({ token: term.token }));
    this.recordEvent('became leader');
    this.invoke('onStartedLeading', () => this.callbacks.onStartedLeading?.(controller.signal, term));

    const reason = await this.renewLoop(stop, controller.signal);
    await this.endTerm(reason);
  }

  /** Renews every retry period; returns why the term ends. */
  private async renewLoop(stop: AbortSignal, leadership: AbortSignal): Promise<StopReason> {
    const either = AbortSignal.any([stop, leadership]);
    for (;;) {
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
        await this.pause(Math.min(this.config.retryPeriodMs, roundDeadline - this.clock.now()), either);
      }
    }
  }

  private interruption(stop: AbortSignal, leadership: AbortSignal): StopReason | undefined {
    if (leadership.aborted) return 'renew_failed'; // the guarantee ran out
    if (stop.aborted) return 'released';
    if (this.resignRequest) return 'resigned';
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
    const shouldRelease = (reason === 'released' && this.config.releaseOnCancel) || reason === 'resigned';
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
  }

  /**
   * Gives the lease up: GET, and only if the fetched record still names us, PUT an empty holder
   * (leaseDurationSeconds 1, times now, transitions kept). Retries on 409, bounded by the renew
   * deadline. Never writes over a lease someone else holds.
   */
  private async release(): Promise<void> {
    const deadline = this.clock.now() + this.config.renewDeadlineMs;
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
        if (isConflict(err)) continue; // an in-flight write landed first: read again
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
      if (!this.leading || this.clock.now() < this.guardedUntil) return;
      this.log.error('Lease guarantee ran out before a renewal succeeded; stepping down', {
        lastRenewSentAgoMs: Math.round(this.clock.now() - this.guardedUntil + this.config.leaseDurationMs),
      });
      this.leaderController?.abort(new LeaseKitError('LEADERSHIP_LOST', 'lease guarantee expired'));
      this.wake?.();
    }, Math.max(0, delay));
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
    if (this.observed && sameRecord(this.observed.record, record)) {
      this.observed.lease = lease; // same record, possibly newer metadata
    } else {
      this.observed = { record, lease, atMs };
      this.reportLeader(record.holderIdentity);
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
    const start = this.clock.now();
    const bounded = boundedSignal(this.clock, deadlineMs - start, stop);
    try {
      const result = await raceAbort(Promise.resolve().then(() => send(bounded.signal)), bounded.signal);
      if (typeof result !== 'object' || result === null || Array.isArray(result)) {
        // A 200 with a null or non-object body is no Lease: a failed request, never a crash.
        throw new NetworkError(`${verb} answered with ${result === null ? 'null' : typeof result} instead of a Lease object`);
      }
      this.notify(() => this.config.observer?.onRequest?.({ purpose, verb, durationMs: this.clock.now() - start }));
      return result;
    } catch (err) {
      const normalised = normaliseError(err);
      this.notify(() =>
        this.config.observer?.onRequest?.({ purpose, verb, durationMs: this.clock.now() - start, errorReason: errorReasonOf(normalised) }),
      );
      throw normalised;
    } finally {
      bounded.dispose();
    }
  }

  /** Logs a failed request: the first of a kind at error/warn level, repeats at debug. */
  private reportFailure(verb: string, err: unknown): void {
    if (isApiError(err) && err.retryAfterSeconds !== undefined) this.retryAfterMs = err.retryAfterSeconds * 1000;
    const key = `${verb}:${isApiError(err) ? err.reason : err instanceof LeaseKitError ? err.code : 'other'}`;
    const repeated = key === this.lastFailure;
    this.lastFailure = key;
    const fields = { verb, error: describeError(err) };
    if (repeated) {
      this.log.debug('Lease request failed again', fields);
    } else if (isForbidden(err)) {
      this.log.error(
        `Not allowed to ${verb} leases: grant get, create and update (and watch, for watching followers) on leases.coordination.k8s.io in namespace ${this.config.leaseNamespace} (Role + RoleBinding); retrying until it is fixed`,
        fields,
      );
    } else {
      this.log.warn('Lease request failed', fields);
    }
  }

  /** Calls a user callback; a throw or rejection is logged, never propagated. */
  private invoke(name: string, fn: () => unknown): void {
    try {
      const result = fn();
      if (isPromiseLike(result)) {
        result.then(undefined, (err: unknown) => this.log.error(`${name} callback failed`, { error: describeError(err) }));
      }
    } catch (err) {
      this.log.error(`${name} callback failed`, { error: describeError(err) });
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
