/**
 * The coordinated-leader-election coordinator of the embedded server (Kubernetes'
 * leader-election-controller and LeaseCandidate garbage collector, OldestEmulationVersion
 * strategy): it watches LeaseCandidates and Leases in the stores directly, pings candidates,
 * waits a bounded time for their answers, ranks the ones that answered, and writes the Lease (when
 * it is missing, expired or free) or its preferredHolder (when a better candidate than the live
 * holder exists). Every timer is on the injected clock; stop() ends watches and timers.
 */
import { ConfigError, type Clock, type Lease, type TimerHandle } from '@leasekit/k8s-leaderelection';
import { formatMicroTime } from '@leasekit/k8s-leaderelection/internal';
import { candidatesFor, type CandidateStore, type LeaseCandidate, type LeaseStore, type WatchHandle } from '@leasekit/k8s-leaderelection/testing';
import { isCandidateExpired, isLeaseExpired, OLDEST_EMULATION_VERSION, pickOldestEmulationVersion, pickStrategy, timeOf } from './election.js';

/** The coordinator's timings; the defaults are the real controller's constants. */
export interface CoordinatorTimings {
  /** How long candidates have to answer a ping, and how fresh a renewTime counts as an answer. @default 5000 */
  readonly electionDurationMs?: number;
  /** When a Lease is looked at again after a step (the real `defaultRequeueInterval`). @default 5000 */
  readonly requeueIntervalMs?: number;
  /** leaseDurationSeconds of a Lease the coordinator writes. @default 5 */
  readonly leaseDurationSeconds?: number;
  /**
   * A candidate that has not renewed for this long is ignored and garbage collected; one that has
   * not renewed for half of it is pinged. @default 30 minutes
   */
  readonly candidateValidMs?: number;
  /** How often expired candidates are garbage collected. @default 30 minutes */
  readonly gcIntervalMs?: number;
}

/** What the coordinator has written so far (tests count writes). */
export interface CoordinatorCounts {
  /** pingTime updates of LeaseCandidates. */
  readonly pings: number;
  /** Leases created with the elected holder. */
  readonly leaseCreates: number;
  /** Lease updates that set a new holder (missing, expired or empty holder before). */
  readonly holderWrites: number;
  /** Lease updates that only set preferredHolder and/or strategy. */
  readonly preferredHolderWrites: number;
  /** Expired candidates deleted. */
  readonly collected: number;
  /** Store errors met (conflicts and the like); the step is retried after the requeue interval. */
  readonly errors: number;
}

export interface CoordinatorOptions extends CoordinatorTimings {
  readonly leases: LeaseStore;
  readonly candidates: CandidateStore;
  readonly clock: Clock;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The running coordinator; see the module comment. */
export class Coordinator {
  private readonly electionMs: number;
  private readonly requeueMs: number;
  private readonly durationSeconds: number;
  private readonly validMs: number;
  private readonly watches: WatchHandle[] = [];
  /** Keys (`namespace/leaseName`) due now, processed in one microtask. */
  private readonly due = new Set<string>();
  /** Keys requeued for later, with the time they are due (the earliest wins, as in a workqueue). */
  private readonly later = new Map<string, { at: number; timer: TimerHandle }>();
  private readonly gcTimer: { handle: TimerHandle | undefined } = { handle: undefined };
  /**
   * Leases deleted while their holder was live (wall ms until which that holder may still lead):
   * no new holder is written before then (the real coordinator writes at once).
   */
  private readonly deletedUntil = new Map<string, number>();
  private drainQueued = false;
  private stopped = false;
  private readonly tally: Mutable<CoordinatorCounts> = { pings: 0, leaseCreates: 0, holderWrites: 0, preferredHolderWrites: 0, collected: 0, errors: 0 };

  constructor(private readonly options: CoordinatorOptions) {
    this.electionMs = options.electionDurationMs ?? 5000;
    this.requeueMs = options.requeueIntervalMs ?? 5000;
    this.durationSeconds = options.leaseDurationSeconds ?? 5;
    this.validMs = options.candidateValidMs ?? 30 * 60_000;
    const gcMs = options.gcIntervalMs ?? 30 * 60_000;
    for (const [name, value] of Object.entries({ electionDurationMs: this.electionMs, requeueIntervalMs: this.requeueMs, candidateValidMs: this.validMs, gcIntervalMs: gcMs })) {
      if (!(value > 0) || !Number.isFinite(value)) {
        throw new ConfigError('OPTION_INVALID', `coordinator.${name}`, `coordinator.${name} must be a positive number of milliseconds, got ${value}`);
      }
    }
    if (!Number.isInteger(this.durationSeconds) || this.durationSeconds <= 0) {
      throw new ConfigError('OPTION_INVALID', 'coordinator.leaseDurationSeconds', `coordinator.leaseDurationSeconds must be a positive integer, got ${this.durationSeconds}`);
    }
  }

  /** Starts watching (every existing candidate's Lease is looked at once) and the GC timer. */
  start(): this {
    const { candidates, leases } = this.options;
    this.watches.push(
      candidates.watch({}, (event) => {
        const c = event.object as LeaseCandidate;
        // A candidate that has not answered our ping yet: the election is under way already.
        const ping = timeOf(c.spec?.pingTime);
        const renew = timeOf(c.spec?.renewTime);
        if (event.type !== 'DELETED' && ping !== undefined && (renew === undefined || renew < ping)) return;
        if (c.spec?.leaseName) this.enqueue(`${c.metadata?.namespace ?? ''}/${c.spec.leaseName}`);
      }),
      leases.watch({}, (event) => {
        const lease = event.object as Lease;
        if (event.type === 'BOOKMARK' || event.type === 'ERROR') return;
        const key = `${lease.metadata?.namespace ?? ''}/${lease.metadata?.name ?? ''}`;
        if (event.type === 'DELETED' && lease.spec?.holderIdentity && !isLeaseExpired(lease, this.options.clock.wallNow())) {
          this.deletedUntil.set(key, (timeOf(lease.spec.renewTime) ?? 0) + (lease.spec.leaseDurationSeconds ?? 0) * 1000);
        }
        this.enqueue(key);
      }),
    );
    this.scheduleGc();
    return this;
  }

  /** Ends the watches and clears every timer; idempotent. */
  stop(): void {
    this.stopped = true;
    for (const w of this.watches.splice(0)) w.stop();
    for (const { timer } of this.later.values()) this.options.clock.clearTimeout(timer);
    this.later.clear();
    this.due.clear();
    if (this.gcTimer.handle !== undefined) this.options.clock.clearTimeout(this.gcTimer.handle);
    this.gcTimer.handle = undefined;
  }

  /** What the coordinator has written so far. */
  get counts(): CoordinatorCounts {
    return { ...this.tally };
  }

  /** Runs one election step for a Lease now (tests; the watches and timers do this on their own). */
  reconcile(namespace: string, leaseName: string): void {
    this.step(`${namespace}/${leaseName}`);
  }

  /** Deletes every candidate that has not renewed for `candidateValidMs` (what the GC timer does). */
  collectGarbage(): void {
    const now = this.options.clock.wallNow();
    for (const c of this.options.candidates.list(undefined).items) {
      if (!isCandidateExpired(c, now, this.validMs)) continue;
      try {
        this.options.candidates.delete(c.metadata?.namespace ?? '', c.metadata?.name ?? '', { preconditions: { resourceVersion: c.metadata?.resourceVersion ?? '' } });
        this.tally.collected++;
      } catch {
        this.tally.errors++;
      }
    }
  }

  // -- the queue --------------------------------------------------------------------------------

  private enqueue(key: string): void {
    if (this.stopped) return;
    this.due.add(key);
    if (this.drainQueued) return;
    this.drainQueued = true;
    queueMicrotask(() => {
      this.drainQueued = false;
      for (const k of [...this.due]) {
        this.due.delete(k);
        if (!this.stopped) this.step(k);
      }
    });
  }

  private enqueueAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    const clock = this.options.clock;
    const at = clock.now() + delayMs;
    const pending = this.later.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clock.clearTimeout(pending.timer);
    const timer = clock.setTimeout(() => {
      this.later.delete(key);
      this.enqueue(key);
    }, delayMs);
    this.later.set(key, { at, timer });
  }

  private scheduleGc(): void {
    if (this.stopped) return;
    this.gcTimer.handle = this.options.clock.setTimeout(() => {
      this.collectGarbage();
      this.scheduleGc();
    }, this.options.gcIntervalMs ?? 30 * 60_000);
  }

  private step(key: string): void {
    const slash = key.indexOf('/');
    let requeue: number | undefined;
    try {
      requeue = this.electionStep(key.slice(0, slash), key.slice(slash + 1));
    } catch {
      this.tally.errors++;
      requeue = this.requeueMs;
    }
    if (requeue !== undefined) this.enqueueAfter(key, requeue);
  }

  // -- one election step (reconcileElectionStep) -------------------------------------------------

  /** One step for a Lease; returns when to look again (undefined: only on the next change of a candidate). */
  private electionStep(namespace: string, leaseName: string): number | undefined {
    const { leases, clock } = this.options;
    const now = clock.wallNow();
    const candidates = candidatesFor(this.options.candidates, namespace, leaseName).filter((c) => !isCandidateExpired(c, now, this.validMs));
    if (candidates.length === 0) return undefined;
    const lease = leases.peek(namespace, leaseName);
    const key = `${namespace}/${leaseName}`;
    const heldUntil = this.deletedUntil.get(key);
    if (lease || (heldUntil !== undefined && heldUntil < now)) this.deletedUntil.delete(key);
    else if (heldUntil !== undefined) return heldUntil - now + 1;
    if (!this.electionNeeded(candidates, lease, now)) return this.requeueMs;

    // Ping whoever has not renewed within the election duration; wait while pings are unanswered.
    let canVote = true;
    for (const c of candidates) {
      const ping = timeOf(c.spec?.pingTime);
      const renew = timeOf(c.spec?.renewTime);
      if (ping !== undefined && ping + this.electionMs > now && renew !== undefined && renew < ping) {
        canVote = false;
        continue;
      }
      if (renew !== undefined && renew + this.electionMs > now) continue;
      // Ping again only a candidate that answered the previous ping (renewTime at or after it).
      if (ping === undefined || (ping + this.electionMs < now && renew !== undefined && ping <= renew)) {
        this.options.candidates.update(namespace, c.metadata?.name ?? '', { ...c, spec: { ...c.spec, pingTime: formatMicroTime(now) } });
        this.tally.pings++;
        canVote = false;
      }
    }
    if (!canVote) return this.requeueMs;

    // Fresh, or answered the ping of this election (the wait just ended: the real coordinator
    // counts only renewTime + electionDuration > now, which an answer given at the instant of the
    // ping misses when the step runs exactly electionDuration later).
    const answered = candidates.filter((c) => {
      const renew = timeOf(c.spec?.renewTime);
      const ping = timeOf(c.spec?.pingTime);
      if (renew === undefined) return false;
      return renew + this.electionMs > now || (ping !== undefined && renew >= ping && ping + this.electionMs >= now);
    });
    // Nobody answered, or the newest candidates disagree on the strategy: look again later (the
    // real coordinator waits for the next change of a candidate or the Lease instead).
    if (answered.length === 0) return this.requeueMs;
    // Another strategy is another controller's business (the real coordinator creates the Lease
    // without a holder for it; the LeaseStore accepts no Lease strategy but this one).
    if (pickStrategy(answered) !== OLDEST_EMULATION_VERSION) return this.requeueMs;
    const electee = pickOldestEmulationVersion(answered)?.metadata?.name;
    if (electee === undefined) return this.requeueMs;
    this.writeLease(namespace, leaseName, lease, electee, now);
    return this.requeueMs;
  }

  /** electionNeeded: no Lease, an expired or free one, a stale candidate, or a better candidate. */
  private electionNeeded(candidates: LeaseCandidate[], lease: Lease | undefined, now: number): boolean {
    if (!lease || isLeaseExpired(lease, now) || !lease.spec?.holderIdentity) return true;
    // Every half validity, an election refreshes every candidate (so none is collected while alive).
    if (candidates.some((c) => (timeOf(c.spec?.renewTime) ?? Infinity) + this.validMs / 2 < now)) return true;
    if (pickStrategy(candidates) !== OLDEST_EMULATION_VERSION) return false;
    const best = pickOldestEmulationVersion(candidates);
    return best !== undefined && best.metadata?.name !== lease.spec.holderIdentity;
  }

  /**
   * Creates the Lease for the electee, or updates it: a new holder only when it is missing,
   * expired by this clock or has no holder; otherwise only preferredHolder (and strategy).
   */
  private writeLease(namespace: string, name: string, lease: Lease | undefined, electee: string, now: number): void {
    const { leases } = this.options;
    const strategy = OLDEST_EMULATION_VERSION;
    const stamp = formatMicroTime(now);
    if (!lease) {
      leases.create(namespace, {
        metadata: { name },
        spec: {
          strategy,
          leaseDurationSeconds: this.durationSeconds,
          renewTime: stamp,
          holderIdentity: electee,
          acquireTime: stamp,
          leaseTransitions: 0,
        },
      });
      this.tally.leaseCreates++;
      return;
    }
    const spec = { ...lease.spec };
    const holder = spec.holderIdentity ?? '';
    let newHolder = false;
    let preferred = false;
    if (spec.strategy !== strategy) {
      spec.strategy = strategy;
      preferred = true;
    }
    if (holder === '' || (isLeaseExpired(lease, now) && holder !== electee)) {
      spec.holderIdentity = electee;
      spec.preferredHolder = null;
      spec.renewTime = stamp;
      spec.acquireTime = stamp;
      spec.leaseDurationSeconds = this.durationSeconds;
      spec.leaseTransitions = (spec.leaseTransitions ?? 0) + 1;
      newHolder = true;
    } else if (holder !== electee && spec.preferredHolder !== electee) {
      spec.preferredHolder = electee;
      preferred = true;
    }
    if (!newHolder && !preferred) return;
    // Compare-and-swap on the resourceVersion read: a renewal in between makes this a Conflict.
    leases.update(namespace, name, { ...lease, spec });
    if (newHolder) this.tally.holderWrites++;
    else this.tally.preferredHolderWrites++;
  }
}
