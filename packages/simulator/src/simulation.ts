/**
 * One deterministic simulation run: several real Electors (and, in some seeds, a model of a
 * client-go replica) against one in-memory Lease store, in virtual time, every random choice drawn
 * from one seed. Faults and outside actors are injected on a seeded schedule; invariants are
 * checked as time advances; the result says what was injected and what broke.
 */
import {
  ApiError,
  NetworkError,
  type Elector,
  type ElectorConfig,
  type Lease,
  type LeadershipTerm,
  type Logger,
} from '@leasekit/k8s-leaderelection';
import { formatMicroTime, makeStatus } from '@leasekit/k8s-leaderelection/internal';
import { FakeClock, LeaseStore, MemoryLeaseClient, leaseErrors, settle, type Fault, type MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { DEFAULT_RATES, emptyFaultCounts, type FaultCounts, type FaultKind, type FaultRates, type OutsideActor, type ScheduledFault } from './faults.js';
import { clientGoBudget } from './budget.js';
import { GoReplica, goRawRecordOf, type GoExpiry } from './go-replica.js';
import { addSample, type Histogram } from './histogram.js';
import { INVARIANTS, InvariantChecker, type Invariant, type Participant, type Violation } from './invariants.js';
import { ReplicaClock } from './replica-clock.js';
import { Draw, deriveRandom } from './rng.js';
import { effectiveMaxPeer, planRollout, type ReplicaConfig, type RolloutStep } from './rollout.js';
import { SimClient, type SentVerb } from './sim-client.js';
import { Trace } from './trace.js';
import { VARIANTS, type ElectorFactory, type VariantName } from './variants.js';

export const NAMESPACE = 'default';
export const LEASE_NAME = 'sim-lease';

/** Lease duration, renew deadline and retry period of one replica (valid: L > RD > 1.2 R, L >= 1000). */
export interface Timing {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/** Elector timings the runs start with. */
export const TIMINGS: readonly Timing[] = [
  { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 800 },
  { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
  { leaseDurationMs: 5000, renewDeadlineMs: 4000, retryPeriodMs: 1000 },
  // Not whole seconds: the Lease says 3 s while the leader's guarantee is computed from 2.5 s.
  { leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 600 },
];

/** A much longer timing (still <= 15 s, the default maxPeerLeaseDurationMs) that only rollouts use. */
export const LONG_TIMING: Timing = { leaseDurationMs: 12000, renewDeadlineMs: 8000, retryPeriodMs: 2000 };

/** Timings a config rollout may move to. */
export const ROLLOUT_TIMINGS: readonly Timing[] = [...TIMINGS, LONG_TIMING];

/**
 * Share of seeds (without client-go replicas) that start in the middle of a rollout: every replica
 * runs LONG_TIMING, and within the first 1.5 to 3 of its lease durations a rollout to the seed's
 * timing (shorter) begins, hostile more often than not.
 */
export const MID_ROLLOUT_SEED_SHARE = 0.25;

/**
 * Timings of runs with a client-go replica: whole seconds (client-go writes int(L / 1 s)), and
 * R + RD clearly below L, where client-go itself is safe (its leader believes it leads until a
 * round fails, R + RD after its last renewal).
 */
export const GO_TIMINGS: readonly Timing[] = [
  TIMINGS[0]!,
  TIMINGS[1]!,
  // Several renewals per wall-clock second: most of them invisible to a client-go follower.
  { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 },
];

/** Share of seeds that run a client-go replica beside the electors (with `clientGo: 'auto'`). */
export const CLIENT_GO_SEED_SHARE = 0.4;

export const MAX_CLOCK_DRIFT_RATE = 0.01;

export interface SimOptions {
  readonly seed: number;
  /** Virtual minutes to run. @default 10 */
  readonly minutes?: number;
  /** Which elector to run. @default 'safe' */
  readonly variant?: VariantName;
  /** Builds the electors (overrides `variant`). */
  readonly factory?: ElectorFactory;
  /** Number of replicas. @default 3 to 5, from the seed */
  readonly replicas?: number;
  /** Fault rates per virtual minute (0 disables a kind). @default {@link DEFAULT_RATES} */
  readonly rates?: FaultRates;
  /** @default 'kubectl' */
  readonly outsideActor?: OutsideActor;
  /** Receives every trace line as it happens (verbose mode). */
  readonly onTrace?: (line: string) => void;
  /** With onTrace: also every request and every elector log line. */
  readonly verbose?: boolean;
  /**
   * A client-go replica sharing the Lease: 'auto' (in {@link CLIENT_GO_SEED_SHARE} of seeds, its
   * expiry rule drawn from the seed), 'none', or one with the given expiry rule. With one, no
   * actor deletes the Lease (client-go creates a missing Lease at once) and no rollout runs.
   * @default 'auto'
   */
  readonly clientGo?: 'auto' | 'none' | GoExpiry;
}

export interface SimResult {
  readonly seed: number;
  readonly variant: string;
  readonly virtualMs: number;
  readonly replicas: number;
  readonly timing: Timing;
  readonly faults: FaultCounts;
  readonly violations: Violation[];
  readonly violationCounts: Record<Invariant, number>;
  /** Virtual ms during which some replica reported isLeader(). */
  readonly leaderMs: number;
  readonly availabilityPercent: number;
  readonly terms: number;
  /** Terms whose onStartedLeading ran after their guarantee had already run out. */
  readonly lateStarts: number;
  /** Hash of every trace event: two runs of a seed must agree. */
  readonly digest: string;
  readonly events: number;
  /** client-go replicas in the run (0 or 1), and how they judged expiry. */
  readonly clientGoReplicas: number;
  readonly clientGoExpiry: GoExpiry | undefined;
  /** Requests (GET, POST, PUT, watch opens) each elector replica sent per full virtual minute. */
  readonly requestsPerReplicaMinute: Histogram;
  /** The most API requests one process sent in one budget window, as a share of its budget (%). */
  readonly budgetPeakPercent: number;
  /** Times leader user code ran, and times it saw a live signal past its guarantee (term.isValid() false). */
  readonly userWorkRuns: number;
  readonly staleSignalsSeen: number;
}

/** Acquire retries wait in [R, 2.2 R): client-go's jitter factor 1.2, plus one. */
const JITTER_FACTOR_PLUS_ONE = 2.2;
/** Four healthy request legs (GET and PUT, there and back) at their 40.5 ms maximum, rounded up. */
const LATENCY_SLACK_MS = 250;

/** Longest step of the main loop without a timer or scheduled event in between. */
const MAX_STEP_MS = 50;

type IncarnationState = 'running' | 'stopping' | 'stopped' | 'crashed';

interface Slot {
  readonly id: string;
  /** An elector replica, or the client-go model. */
  readonly kind: 'leasekit' | 'go';
  readonly followerStrategy: 'watch' | 'poll';
  readonly wallSkewMs: number;
  driftRate: number;
  incarnations: number;
  current: Incarnation | undefined;
  currentGo: GoIncarnation | undefined;
  /** The configuration its next incarnation starts with (a rollout changes it). */
  config: ReplicaConfig;
  readonly goExpiry: GoExpiry;
  partition: 'refuse' | 'blackhole' | undefined;
  stalled: boolean;
  /** Armed by a pause-in-flight fault: pause for this long when the next write reaches the server. */
  pauseOnNextWriteMs: number | undefined;
  /** A rollout's hostile step runs when its next incarnation starts. */
  hostileOnStart: boolean;
  /** Requests sent in the current virtual minute (for requestsPerReplicaMinute). */
  requestsThisMinute: number;
}

interface Leadership {
  readonly id: number;
  readonly signal: AbortSignal;
  readonly term: LeadershipTerm;
}

interface Incarnation extends Participant {
  readonly kind: 'leasekit';
  readonly slot: Slot;
  readonly config: ReplicaConfig;
  readonly clock: ReplicaClock;
  readonly client: SimClient;
  readonly elector: Elector;
  readonly controller: AbortController;
  state: IncarnationState;
  runSettled: boolean;
  readonly userTimers: Set<unknown>;
  /** The current (or last) term, as handed to onStartedLeading. */
  leadership: Leadership | undefined;
  /** The last guarantee snapshot() reported while it led (its own monotonic ms). */
  guaranteedUntilMs: number | undefined;
  /** Every fencing token in a Lease it received (answer or watch event), and when it first did (virtual ms). */
  readonly tokensReceived: Map<number, number>;
  /** When it sent its last write (for a term it starts: its acquiring write). */
  lastWriteSentAtMs: number;
}

interface GoIncarnation extends Participant {
  readonly kind: 'go';
  readonly slot: Slot;
  readonly clock: ReplicaClock;
  readonly client: SimClient;
  readonly replica: GoReplica;
  readonly controller: AbortController;
  state: IncarnationState;
  runSettled: boolean;
}

type Process = Incarnation | GoIncarnation;

/** A term's user code reads isValid() only where the term offers it (older electors do not). */
type MaybeValidTerm = Omit<LeadershipTerm, 'isValid'> & { isValid?: () => boolean };

interface ApiEpisode {
  readonly target: Slot | undefined;
  readonly probability: number;
  readonly kinds: readonly (readonly [ApiFaultKind, number])[];
}

/** Faults of an API episode (403s have their own episodes). */
type ApiFaultKind = Exclude<Extract<FaultKind, `api-${string}`>, 'api-403-forbidden'>;

interface AgendaItem {
  readonly atMs: number;
  readonly seq: number;
  readonly run: () => void;
}

/** Runs one seed. Never throws for elector misbehaviour: that is what the violations are for. */
export async function runSimulation(options: SimOptions): Promise<SimResult> {
  const sim = new Simulation(options);
  return sim.run();
}

class Simulation {
  private readonly seed: number;
  private readonly endMs: number;
  private readonly clock = new FakeClock({ startMs: 0 });
  private readonly store = new LeaseStore({ clock: this.clock, historyLimit: 50 });
  private readonly trace: Trace;
  private readonly checker: InvariantChecker;
  private readonly faults = emptyFaultCounts();
  private readonly setup: Draw;
  private readonly schedule: Draw;
  private readonly callFaults: Draw;
  private readonly latency: Draw;
  private readonly user: Draw;
  /** Outside actors' own choices (the read-targeting deleter, rollout pacing). */
  private readonly actors: Draw;
  /** The timing the run starts with. */
  private readonly timing: Timing;
  /** The timing the fleet is configured with now (a rollout changes it); fault sizes follow it. */
  private fleetTiming: Timing;
  private readonly clientGoExpiry: GoExpiry | undefined;
  private readonly factory: ElectorFactory;
  private readonly rates: Record<ScheduledFault, number>;
  private readonly outsideActor: OutsideActor;
  private readonly slots: Slot[] = [];
  private readonly incarnations: Incarnation[] = [];
  private readonly goIncarnations: GoIncarnation[] = [];
  /** Every process of the run (elector incarnations and client-go ones), for the invariants. */
  private readonly participants: Process[] = [];
  private readonly agenda: AgendaItem[] = [];
  private agendaSeq = 0;
  private readonly apiEpisodes = new Set<ApiEpisode>();
  /** Write-rejection episodes (403 from a webhook or RBAC): everyone (undefined) or one slot. */
  private readonly forbiddenEpisodes = new Set<{ target: Slot | undefined }>();
  /** The read-targeting deleter's current victim. */
  private readDeleter: Slot | undefined;
  private rollout: { steps: RolloutStep[]; hostile: boolean } | undefined;
  private latencySpike: { minMs: number; maxMs: number } | undefined;
  private disturbances = 0;
  private quietSinceMs = 0;
  private l1ReportedFor = -1;
  private leaderMs = 0;
  private readonly unhandled: unknown[] = [];
  private shuttingDown = false;
  private stepsAtSameTime = 0;
  private livelocked = false;
  /** The longest maxPeerLeaseDurationMs (whole seconds) any elector of the run started with. */
  private longestHoldEverMs = 0;
  /** Bumped whenever the configs in use may change (see configExtremes). */
  private configVersion = 0;
  private extremesCache = { version: -1, value: { writtenLeaseMs: 0, retryPeriodMs: 0, holdMs: 0 } };
  private readonly requestsPerReplicaMinute: Histogram = {};
  private statsMinute = 0;
  /** The Lease as a client-go follower compares it, cached by the store's resourceVersion (S4). */
  private goView: { rv: string; raw: string | undefined; holder: string | undefined } = { rv: '', raw: undefined, holder: undefined };

  constructor(private readonly options: SimOptions) {
    this.seed = options.seed;
    this.endMs = Math.round((options.minutes ?? 10) * 60_000);
    this.trace = new Trace(() => this.clock.now(), options.onTrace);
    this.checker = new InvariantChecker(this.trace, () => this.clock.now());
    this.setup = new Draw(deriveRandom(this.seed, 'setup'));
    this.schedule = new Draw(deriveRandom(this.seed, 'schedule'));
    this.callFaults = new Draw(deriveRandom(this.seed, 'call-faults'));
    this.latency = new Draw(deriveRandom(this.seed, 'latency'));
    this.user = new Draw(deriveRandom(this.seed, 'user'));
    this.actors = new Draw(deriveRandom(this.seed, 'actors'));
    const clientGo = options.clientGo ?? 'auto';
    const withGo = clientGo === 'auto' ? this.setup.chance(CLIENT_GO_SEED_SHARE) : clientGo !== 'none';
    this.clientGoExpiry = !withGo ? undefined : clientGo === 'auto' ? (this.setup.chance(0.5) ? 'record' : 'configured') : clientGo === 'none' ? undefined : clientGo;
    this.timing = this.setup.pick(withGo ? GO_TIMINGS : TIMINGS);
    this.fleetTiming = this.timing;
    this.factory = options.factory ?? VARIANTS[options.variant ?? 'safe'];
    this.rates = { ...DEFAULT_RATES, ...options.rates };
    this.outsideActor = options.outsideActor ?? 'kubectl';
  }

  /** The configs in use: every slot's next one and every live incarnation's. */
  private configsInUse(): ReplicaConfig[] {
    const configs = this.slots.map((slot) => slot.config);
    for (const inc of this.incarnations) if (inc.state === 'running' || inc.state === 'stopping') configs.push(inc.config);
    return configs;
  }

  /** Extremes of the configs in use, recomputed only when they may have changed (checked every step). */
  private configExtremes(): { writtenLeaseMs: number; retryPeriodMs: number; holdMs: number } {
    const cache = this.extremesCache;
    if (cache.version === this.configVersion) return cache.value;
    const configs = this.configsInUse();
    const value = {
      writtenLeaseMs: Math.max(...configs.map((c) => Math.ceil(c.timing.leaseDurationMs / 1000) * 1000)),
      retryPeriodMs: Math.max(...configs.map((c) => c.timing.retryPeriodMs)),
      holdMs: Math.max(...configs.map((c) => Math.ceil(effectiveMaxPeer(c) / 1000) * 1000)),
    };
    this.extremesCache = { version: this.configVersion, value };
    return value;
  }

  /** The longest lease duration written in the Lease (whole seconds) by any replica in use, which followers wait for. */
  private get writtenLeaseMs(): number {
    return this.configExtremes().writtenLeaseMs;
  }

  private get longestRetryPeriodMs(): number {
    return this.configExtremes().retryPeriodMs;
  }

  /**
   * L1's healthy window: how long after the last disturbance some replica must lead. A polling
   * follower sees the last renewal up to one poll (2.2 R) after it was written, waits the written
   * duration on a clock that may run slow by the drift bound, and tries at its next poll (up to
   * 2.2 R more); plus a few healthy request latencies. (The issue's "lease duration + 3 R" is not
   * enough for polling followers: see docs/reliability.md, seed 903.) With mixed configs (a
   * rollout), the longest duration and retry period in use.
   */
  private get healthyWindowMs(): number {
    return this.writtenLeaseMs / (1 - MAX_CLOCK_DRIFT_RATE) + 2 * JITTER_FACTOR_PLUS_ONE * this.longestRetryPeriodMs + LATENCY_SLACK_MS;
  }

  /**
   * When the Lease goes missing (deleted, or absent at the start), electors that did not lead it
   * create it as a claim and lead only once the claim has stood for the longest lease duration a
   * peer may use (maxPeerLeaseDurationMs, 15 s by default): L1's quiet time starts only after that.
   * Noticing the deletion, the recreate grace and the poll after the claim: 3 x 2.2 R more.
   */
  private get claimAllowanceMs(): number {
    // Every duration any replica ever used: a claim writes its hold into the Lease, and replicas
    // that saw it hold their own claims at least that long, whatever they are configured with now.
    const longestHold = Math.max(this.configExtremes().holdMs, this.longestHoldEverMs);
    return longestHold / (1 - MAX_CLOCK_DRIFT_RATE) + 3 * JITTER_FACTOR_PLUS_ONE * this.longestRetryPeriodMs;
  }

  async run(): Promise<SimResult> {
    const onUnhandled = (reason: unknown): void => {
      this.unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      this.buildWorld();
      await this.mainLoop();
      await this.shutdown();
      await settle();
      for (const reason of this.unhandled) this.checker.report('R', `unhandled rejection: ${describe(reason)}`);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    const violationCounts = Object.fromEntries(INVARIANTS.map((inv) => [inv, 0])) as Record<Invariant, number>;
    for (const v of this.checker.violations) violationCounts[v.invariant]++;
    const virtualMs = this.endMs;
    this.trace.add(`end: ${this.checker.terms} terms, ${this.checker.violations.length} violations`);
    return {
      seed: this.seed,
      variant: this.options.factory ? 'custom' : (this.options.variant ?? 'safe'),
      virtualMs,
      replicas: this.slots.length,
      timing: this.timing,
      faults: this.faults,
      violations: this.checker.violations,
      violationCounts,
      leaderMs: this.leaderMs,
      availabilityPercent: virtualMs > 0 ? (100 * this.leaderMs) / virtualMs : 0,
      terms: this.checker.terms,
      lateStarts: this.checker.lateStarts,
      digest: this.trace.digest,
      events: this.trace.events,
      clientGoReplicas: this.slots.filter((s) => s.kind === 'go').length,
      clientGoExpiry: this.clientGoExpiry,
      requestsPerReplicaMinute: this.requestsPerReplicaMinute,
      budgetPeakPercent: this.budgetPeakPercent(),
      userWorkRuns: this.checker.userWorkRuns,
      staleSignalsSeen: this.checker.staleSignalsSeen,
    };
  }

  private budgetPeakPercent(): number {
    let peak = 0;
    for (const inc of this.incarnations) {
      const budget = clientGoBudget(inc.config.timing.retryPeriodMs, MAX_CLOCK_DRIFT_RATE);
      peak = Math.max(peak, (100 * this.checker.peakRequests(inc)) / budget.maxApiRequests);
    }
    return Math.round(peak * 10) / 10;
  }

  // -----------------------------------------------------------------------------------------
  // Setup

  private buildWorld(): void {
    const withGo = this.clientGoExpiry !== undefined;
    const count = this.options.replicas ?? (withGo ? this.setup.int(2, 4) : this.setup.int(3, 5));
    // One: client-go replicas among themselves notice renewals only per wall-clock second, so two of
    // them are safe only with R + RD + 1 s < L, which these short timings do not give (seed 168).
    const goCount = withGo ? 1 : 0;
    const preCreated = this.setup.chance(0.5);
    if (preCreated) this.store.create(NAMESPACE, { metadata: { name: LEASE_NAME } });
    const L = this.timing.leaseDurationMs;
    const midRollout = !withGo && this.setup.chance(MID_ROLLOUT_SEED_SHARE);
    if (midRollout) this.fleetTiming = LONG_TIMING;
    const kinds: Slot['kind'][] = [...Array.from({ length: count }, () => 'leasekit' as const), ...Array.from({ length: goCount }, () => 'go' as const)];
    for (const [i, kind] of kinds.entries()) {
      const slot: Slot = {
        id: String.fromCharCode(97 + i),
        kind,
        followerStrategy: kind === 'go' || this.setup.chance(0.5) ? 'poll' : 'watch',
        wallSkewMs: Math.round(this.setup.between(-2 * L, 2 * L)),
        driftRate: this.drawDriftRate(this.setup),
        incarnations: 0,
        current: undefined,
        currentGo: undefined,
        config: { timing: this.fleetTiming, maxPeerLeaseDurationMs: undefined },
        goExpiry: this.clientGoExpiry ?? 'record',
        partition: undefined,
        stalled: false,
        pauseOnNextWriteMs: undefined,
        hostileOnStart: false,
        requestsThisMinute: 0,
      };
      this.slots.push(slot);
    }
    this.trace.add(
      `seed ${this.seed}: ${this.slots.length} replicas (${this.slots.map((s) => `${s.id}:${s.kind === 'go' ? `client-go(${s.goExpiry} duration)` : s.followerStrategy},drift ${(s.driftRate * 100).toFixed(2)}%,skew ${s.wallSkewMs}ms`).join('; ')}), ` +
        `L=${L} RD=${this.timing.renewDeadlineMs} R=${this.timing.retryPeriodMs}${midRollout ? ` (starting mid-rollout from L=${LONG_TIMING.leaseDurationMs})` : ''}, lease ${preCreated ? 'pre-created' : 'absent'}`,
    );
    if (!preCreated) this.leaseWentMissing();
    for (const slot of this.slots) {
      const delay = this.setup.between(0, L);
      this.at(delay, () => this.startProcess(slot));
    }
    if (midRollout) {
      const hostile = this.setup.chance(0.7);
      this.at(this.setup.between(1.5, 3) * LONG_TIMING.leaseDurationMs, () => this.startRollout(this.timing, hostile));
    }
    for (const kind of Object.keys(this.rates) as ScheduledFault[]) {
      // client-go creates a missing Lease at once, so no deletion and no rollout in runs with it.
      if (withGo && (kind === 'actor-delete-lease' || kind === 'actor-delete-before-read' || kind === 'rollout')) continue;
      this.scheduleNext(kind);
    }
  }

  private startProcess(slot: Slot): void {
    if (slot.kind === 'go') this.startGo(slot);
    else this.startIncarnation(slot);
  }

  private drawDriftRate(draw: Draw): number {
    // Often at the bound, where the guarantee's margin is thinnest.
    if (draw.chance(0.4)) return draw.chance(0.5) ? MAX_CLOCK_DRIFT_RATE : -MAX_CLOCK_DRIFT_RATE;
    return draw.between(-MAX_CLOCK_DRIFT_RATE, MAX_CLOCK_DRIFT_RATE);
  }

  private startIncarnation(slot: Slot): void {
    if (this.shuttingDown) return;
    if (slot.hostileOnStart) {
      slot.hostileOnStart = false;
      this.rolloutHostileStep(slot);
    }
    const n = ++slot.incarnations;
    const key = `${slot.id}#${n}`;
    const slotConfig = slot.config;
    const clock = new ReplicaClock(this.clock, {
      driftRate: slot.driftRate,
      wallSkewMs: slot.wallSkewMs,
      startMs: Math.round(this.setup.between(0, 1e6)),
      random: deriveRandom(this.seed, `resume:${key}`),
    });
    const memory = new MemoryLeaseClient(this.store, {
      clock: this.clock,
      latencyMs: () => this.requestLatency(),
      fault: (call) => this.callFault(slot, inc, call),
    });
    const client = new SimClient(memory, clock, {
      responseLatencyMs: () => this.healthyLatency(),
      onSend: (verb, body) => this.requestSent(inc, verb, body),
      onReceive: (value) => this.received(inc, value),
    });
    const controller = new AbortController();
    const userTimers = new Set<unknown>();
    const verbose = this.options.verbose === true && this.options.onTrace !== undefined;
    const logger: Logger | undefined = verbose
      ? {
          info: (m, f) => this.trace.detail(`${key} info: ${m} ${fields(f)}`),
          warn: (m, f) => this.trace.detail(`${key} warn: ${m} ${fields(f)}`),
          error: (m, f) => this.trace.detail(`${key} error: ${m} ${fields(f)}`),
        }
      : {};
    // eslint-disable-next-line prefer-const -- assigned once below; closures above read it later
    let inc!: Incarnation;
    const config: ElectorConfig = {
      identity: slot.id,
      leaseName: LEASE_NAME,
      leaseNamespace: NAMESPACE,
      ...slotConfig.timing,
      ...(slotConfig.maxPeerLeaseDurationMs !== undefined ? { maxPeerLeaseDurationMs: slotConfig.maxPeerLeaseDurationMs } : {}),
      maxClockDriftRate: MAX_CLOCK_DRIFT_RATE,
      followerStrategy: slot.followerStrategy,
      clock,
      random: deriveRandom(this.seed, `elector:${key}`),
      ...(verbose
        ? {
            observer: {
              onRequest: (info) =>
                this.trace.detail(`${key} ${info.purpose} ${info.verb} ${Math.round(info.durationMs)}ms${info.errorReason ? ` -> ${info.errorReason}` : ''}`),
            },
          }
        : {}),
    };
    const elector = this.factory(
      config,
      client,
      {
        onStartedLeading: (signal, term) => {
          const leaderNow = inc.elector.isLeader();
          this.trace.add(`${key} started leading (token ${term.token}${leaderNow ? '' : ', guarantee already expired'})`);
          // Set first: the checker's S1 check at the term start reads the signal.
          const leadership: { id: number; signal: AbortSignal; term: LeadershipTerm } = { id: 0, signal, term };
          inc.leadership = leadership;
          const started = this.checker.termStarted(
            inc,
            { token: term.token, isLeaderAtStart: leaderNow, leaseUid: client.lastWriteUid, tokensReceived: inc.tokensReceived, acquiringWriteSentAtMs: inc.lastWriteSentAtMs },
            this.participants,
          );
          leadership.id = started.id;
          signal.addEventListener('abort', started.end, { once: true });
          this.startUserWork(inc, leadership);
        },
        onStoppedLeading: (info) => {
          this.trace.add(`${key} stopped leading: ${info.reason}`);
          if (info.reason !== 'released') return undefined;
          return this.slowShutdown(inc);
        },
        onNewLeader: (identity) => this.trace.detail(`${key} observed new leader ${identity}`),
      },
      logger,
    );
    inc = {
      kind: 'leasekit',
      key,
      slot,
      config: slotConfig,
      clock,
      client,
      elector,
      controller,
      state: 'running',
      runSettled: false,
      userTimers,
      leadership: undefined,
      guaranteedUntilMs: undefined,
      tokensReceived: new Map(),
      lastWriteSentAtMs: -Infinity,
      fenced: true,
      isLeader: () => elector.isLeader(),
      signalLive: () => inc.leadership !== undefined && !inc.leadership.signal.aborted,
      suspended: () => clock.suspended,
      alive: () => inc.state !== 'crashed',
    };
    this.checker.setBudget(inc, clientGoBudget(slotConfig.timing.retryPeriodMs, MAX_CLOCK_DRIFT_RATE));
    clock.onCaughtUp = () => {
      // Judge after the promise callbacks of the last timer have run (they may end the term).
      setImmediate(() => {
        if (inc.state === 'crashed') return;
        this.trace.add(`${key} caught up after pause`);
        this.checker.caughtUp(inc);
        this.disturbEnd();
      });
    };
    this.incarnations.push(inc);
    this.participants.push(inc);
    this.configVersion++;
    this.longestHoldEverMs = Math.max(this.longestHoldEverMs, Math.ceil(effectiveMaxPeer(slotConfig) / 1000) * 1000);
    slot.current = inc;
    this.disturbNow();
    const maxPeer = slotConfig.maxPeerLeaseDurationMs !== undefined ? `, maxPeerLeaseDurationMs ${slotConfig.maxPeerLeaseDurationMs}` : '';
    this.trace.add(`${key} started${slotConfig.timing === this.timing && maxPeer === '' ? '' : ` (L=${slotConfig.timing.leaseDurationMs}${maxPeer})`}`);
    elector.run(controller.signal).then(
      () => this.runEnded(inc),
      (err: unknown) => {
        this.checker.report('R', `${key} run() rejected: ${describe(err)}`);
        this.runEnded(inc);
      },
    );
  }

  private runEnded(inc: Incarnation): void {
    inc.runSettled = true;
    this.configVersion++;
    for (const handle of inc.userTimers) inc.clock.clearTimeout(handle as never);
    inc.userTimers.clear();
    const pending = inc.clock.pendingTimers;
    if (pending > 0) {
      this.checker.report('R', `${inc.key} run() resolved with ${pending} timer(s) still pending on its clock: ${inc.clock.describePending().join('; ')}`);
    }
    if (inc.state === 'crashed') return;
    const wasStopping = inc.state === 'stopping';
    inc.state = 'stopped';
    this.trace.add(`${inc.key} stopped`);
    if (wasStopping && !this.shuttingDown) {
      this.disturbEnd();
      const L = inc.config.timing.leaseDurationMs;
      this.at(this.schedule.between(0.1 * L, L), () => {
        this.disturbNow();
        this.faults.restart++;
        this.startIncarnation(inc.slot);
      });
    }
  }

  /** SIGTERM: aborts run()'s signal, delivered through the process's clock (queued while paused). */
  private signalStop(inc: Incarnation): void {
    const handle = inc.clock.setTimeout(() => {
      inc.userTimers.delete(handle);
      inc.controller.abort();
    }, 0);
    inc.userTimers.add(handle);
  }

  /** The user's onStoppedLeading on shutdown: usually quick, sometimes slow (its work winds down). */
  private slowShutdown(inc: Incarnation): Promise<void> | undefined {
    const L = inc.config.timing.leaseDurationMs;
    const roll = this.user.random();
    const ms = roll < 0.5 ? this.user.between(0, 20) : roll < 0.95 ? this.user.between(0.5 * L, 0.99 * L) : this.user.between(L, 1.3 * L);
    if (ms > inc.config.timing.renewDeadlineMs) this.faults['slow-shutdown-callback']++;
    return new Promise((resolve) => {
      const handle = inc.clock.setTimeout(() => {
        inc.userTimers.delete(handle);
        resolve();
      }, ms);
      inc.userTimers.add(handle);
    });
  }

  /**
   * The leader's own work: a reconcile loop on the process's clock, every 0.2 to 0.7 R while its
   * signal is live. Each run records what user code sees (the signal, isLeader(), and
   * term.isValid() where the term has it); after a pause it may run before the elector's guard.
   */
  private startUserWork(inc: Incarnation, leadership: Leadership): void {
    const R = inc.config.timing.retryPeriodMs;
    const draw = new Draw(deriveRandom(this.seed, `user-work:${inc.key}:${leadership.id}`));
    const term = leadership.term as MaybeValidTerm;
    const tick = (): void => {
      const handle = inc.clock.setTimeout(() => {
        inc.userTimers.delete(handle);
        const view = {
          signalLive: !leadership.signal.aborted,
          isLeader: inc.elector.isLeader(),
          isValid: typeof term.isValid === 'function' ? term.isValid() : undefined,
        };
        this.checker.userWorkRan(inc, leadership.id, view, this.participants);
        if (!leadership.signal.aborted) tick();
      }, draw.between(0.2 * R, 0.7 * R));
      inc.userTimers.add(handle);
    };
    tick();
  }

  /** Every request an elector process sends: counted, and checked (G, B, S3 on recreation). */
  private requestSent(inc: Incarnation, verb: SentVerb, body: Lease | undefined): void {
    inc.slot.requestsThisMinute++;
    if (verb === 'create' || verb === 'update') inc.lastWriteSentAtMs = this.clock.now();
    const leadership = inc.leadership;
    const signalLive = leadership !== undefined && !leadership.signal.aborted;
    let isLeader = false;
    if (signalLive) {
      const snapshot = inc.elector.snapshot();
      isLeader = snapshot.isLeader;
      if (snapshot.guaranteedUntilMs !== undefined) inc.guaranteedUntilMs = snapshot.guaranteedUntilMs;
      if (verb === 'create') this.checker.leaseCreatedWhileLeading(inc, leadership.id, leadership.term.token, body?.spec?.leaseTransitions ?? undefined);
    }
    this.checker.requestSent(inc, verb, { signalLive, isLeader, termId: leadership?.id, guaranteedUntilMs: inc.guaranteedUntilMs });
  }

  /**
   * A Lease (an answer or a watch event) reached the process: remember its token (S3). Records
   * naming the process itself are its own writes (its terms' tokens are checked as tokens it held;
   * its own claim tells it nothing about other terms) or an earlier incarnation's (checked by the
   * per-object order).
   */
  private received(inc: Incarnation, value: unknown): void {
    const spec = (value as { spec?: { leaseTransitions?: unknown; holderIdentity?: unknown } } | null)?.spec;
    const token = spec?.leaseTransitions;
    if (typeof token !== 'number' || spec?.holderIdentity === inc.slot.id) return;
    if (!inc.tokensReceived.has(token)) inc.tokensReceived.set(token, this.clock.now());
  }

  /** A client-go replica process (see go-replica.ts): never paused; may crash, be partitioned, see API faults. */
  private startGo(slot: Slot): void {
    if (this.shuttingDown) return;
    const n = ++slot.incarnations;
    const key = `${slot.id}#${n}`;
    const clock = new ReplicaClock(this.clock, { driftRate: slot.driftRate, wallSkewMs: slot.wallSkewMs, startMs: Math.round(this.setup.between(0, 1e6)) });
    const memory = new MemoryLeaseClient(this.store, {
      clock: this.clock,
      latencyMs: () => this.requestLatency(),
      fault: (call) => this.callFault(slot, go, call),
    });
    const client = new SimClient(memory, clock, { responseLatencyMs: () => this.healthyLatency() });
    const controller = new AbortController();
    let endTerm: (() => void) | undefined;
    const replica = new GoReplica({
      identity: slot.id,
      namespace: NAMESPACE,
      name: LEASE_NAME,
      ...slot.config.timing,
      expiry: slot.goExpiry,
      clock,
      client,
      random: deriveRandom(this.seed, `go:${key}`),
      onStartedLeading: (token) => {
        this.trace.add(`${key} (client-go) started leading (leaderTransitions ${token})`);
        endTerm = this.checker.termStarted(go, { token, isLeaderAtStart: true, leaseUid: client.lastWriteUid, tokensReceived: new Map(), acquiringWriteSentAtMs: 0 }, this.participants).end;
      },
      onStoppedLeading: () => {
        this.trace.add(`${key} (client-go) stopped leading`);
        endTerm?.();
        endTerm = undefined;
      },
    });
    // eslint-disable-next-line prefer-const -- assigned once below; closures above read it later
    let go!: GoIncarnation;
    go = {
      kind: 'go',
      key,
      slot,
      clock,
      client,
      replica,
      controller,
      state: 'running',
      runSettled: false,
      fenced: false,
      isLeader: () => replica.leading,
      signalLive: () => replica.leading,
      suspended: () => false,
      alive: () => go.state !== 'crashed',
    };
    this.goIncarnations.push(go);
    this.participants.push(go);
    slot.currentGo = go;
    this.disturbNow();
    this.trace.add(`${key} (client-go) started`);
    replica.run(controller.signal).then(
      () => this.goRunEnded(go),
      (err: unknown) => {
        this.checker.report('R', `${key} (client-go model) run() rejected: ${describe(err)}`);
        this.goRunEnded(go);
      },
    );
  }

  /** client-go's Run returned (leadership lost, or stopped): the process exits and is restarted. */
  private goRunEnded(go: GoIncarnation): void {
    go.runSettled = true;
    const pending = go.clock.pendingTimers;
    if (pending > 0) this.checker.report('R', `${go.key} (client-go model) ended with ${pending} timer(s) pending: ${go.clock.describePending().join('; ')}`);
    if (go.state === 'crashed') return;
    go.state = 'stopped';
    this.trace.add(`${go.key} (client-go) exited`);
    if (this.shuttingDown) return;
    const L = go.slot.config.timing.leaseDurationMs;
    this.at(this.schedule.between(0.2 * L, L), () => {
      this.disturbNow();
      this.faults.restart++;
      this.startGo(go.slot);
    });
  }

  /** The Lease is gone (deleted, or absent at the start): see {@link claimAllowanceMs}. */
  private leaseWentMissing(): void {
    this.quietSinceMs = Math.max(this.quietSinceMs, this.clock.now() + this.claimAllowanceMs);
  }

  // -----------------------------------------------------------------------------------------
  // Network: latency and per-call faults

  private healthyLatency(): number {
    return 0.5 + Math.min(40, this.latency.exponential(4));
  }

  private requestLatency(): number {
    const spike = this.latencySpike;
    return spike ? this.latency.between(spike.minMs, spike.maxMs) : this.healthyLatency();
  }

  private callFault(slot: Slot, proc: Process | undefined, call: MemoryCall): Fault | undefined {
    if (proc?.state === 'crashed') return undefined; // a dead process's last request still arrives
    if (slot.partition === 'refuse') return { kind: 'error', error: new NetworkError('connect ECONNREFUSED 10.96.0.1:443') };
    if (slot.partition === 'blackhole') return { kind: 'hang' };
    if (call.verb === 'watch') return undefined; // watch trouble has its own faults
    const write = call.verb === 'create' || call.verb === 'update';
    if (call.verb === 'get' && this.readDeleter === slot) this.deleteBeforeRead(slot, proc);
    const inc = proc?.kind === 'leasekit' ? proc : undefined;
    if (write && slot.pauseOnNextWriteMs !== undefined && inc?.state === 'running' && !inc.clock.suspended) {
      const durationMs = slot.pauseOnNextWriteMs;
      slot.pauseOnNextWriteMs = undefined;
      this.pauseProcess(inc, durationMs, 'pause-in-flight', `while its ${call.verb} is at the server`);
    }
    if (write) {
      for (const episode of this.forbiddenEpisodes) {
        if (episode.target !== undefined && episode.target !== slot) continue;
        this.faults['api-403-forbidden']++;
        this.trace.detail(`${proc?.key ?? slot.id} ${call.verb}: rejected with 403`);
        return {
          kind: 'error',
          error: new ApiError(
            makeStatus(403, 'Forbidden', `admission webhook "leases.policy.example.com" denied the request: ${call.verb} of leases.coordination.k8s.io "${call.name}" is not allowed`),
          ),
        };
      }
    }
    for (const episode of this.apiEpisodes) {
      if (episode.target !== undefined && episode.target !== slot) continue;
      if (!this.callFaults.chance(episode.probability)) continue;
      const kinds = episode.kinds.filter(([kind]) => write || (kind !== 'api-409-conflict' && kind !== 'api-ambiguous-write'));
      if (kinds.length === 0) continue;
      const kind = this.callFaults.weighted(kinds);
      this.faults[kind]++;
      this.trace.detail(`${proc?.key ?? slot.id} ${call.verb}: injected ${kind}`);
      return apiFault(kind, call);
    }
    return undefined;
  }

  // -----------------------------------------------------------------------------------------
  // The main loop

  private async mainLoop(): Promise<void> {
    while (this.clock.now() < this.endMs && !this.livelocked) {
      await this.step(this.endMs);
    }
  }

  /** Advances to the next timer, scheduled event or step boundary, then checks the invariants. */
  private async step(limitMs: number): Promise<void> {
    const now = this.clock.now();
    const nextTimer = this.clock.nextTimerDueMs() ?? Infinity;
    const nextEvent = this.agenda[0]?.atMs ?? Infinity;
    const target = Math.min(nextTimer, nextEvent, now + MAX_STEP_MS, limitMs);
    const hadLeader = this.anyLeader();
    await this.clock.advanceTo(Math.max(now, target));
    if (hadLeader) this.leaderMs += this.clock.now() - now;
    // Time must move: endless zero-delay timers would spin here forever.
    this.stepsAtSameTime = this.clock.now() === now ? this.stepsAtSameTime + 1 : 0;
    if (this.stepsAtSameTime > 100_000 && !this.livelocked) {
      this.livelocked = true;
      this.checker.report('R', `livelock: 100000 steps without virtual time moving at ${now} ms`);
    }
    while (this.agenda.length > 0 && this.agenda[0]!.atMs <= this.clock.now()) {
      const item = this.agenda.shift()!;
      item.run();
      await settle();
    }
    this.checker.checkLeaders(this.participants);
    this.checkGoFollowers();
    this.checkLiveness();
    this.countRequestsPerMinute();
  }

  /** S4 (see invariants.ts): the leader's guarantee against each client-go follower's view of its record. */
  private checkGoFollowers(): void {
    if (this.goIncarnations.length === 0) return;
    const rv = this.store.resourceVersion;
    if (rv !== this.goView.rv) {
      const lease = this.store.peek(NAMESPACE, LEASE_NAME);
      this.goView = { rv, raw: lease ? goRawRecordOf(lease) : undefined, holder: lease?.spec?.holderIdentity ?? undefined };
    }
    const { raw, holder } = this.goView;
    if (raw === undefined) return;
    const leader = this.incarnations.find((inc) => inc.slot.id === holder && inc.state !== 'crashed' && inc.elector.isLeader());
    if (!leader?.leadership) return;
    const guaranteedUntil = leader.elector.snapshot().guaranteedUntilMs;
    if (guaranteedUntil === undefined) return;
    const now = this.clock.now();
    const guaranteeEnd = now + (guaranteedUntil - leader.clock.now()) / (1 + leader.clock.driftRate);
    for (const go of this.goIncarnations) {
      if (go.state !== 'running' || go.replica.leading) continue;
      const seen = go.replica.observation();
      if (!seen || seen.raw !== raw || seen.holder !== holder) continue;
      const mayTakeOver = now + (seen.validUntilMs - go.clock.now()) / (1 + go.clock.driftRate);
      if (mayTakeOver < guaranteeEnd - 1) this.checker.guaranteeOutlastsFollower(leader, leader.leadership.id, go, guaranteeEnd - mayTakeOver);
    }
  }

  private anyLeader(): boolean {
    for (const p of this.participants) if (p.state !== 'crashed' && p.isLeader()) return true;
    return false;
  }

  /**
   * The record in the Lease, and since when it has stood (checked every step): the Lease can carry
   * a longer duration than any config in use (written before a rollout shortened it, and kept by
   * an actor's `kubectl edit`), and followers rightly wait that one, from when it was written.
   */
  private standingRecord = { rv: '', sinceMs: 0 };
  /** Until when L1 waits for followers to wait out such a longer record (and to take over after it). */
  private longerRecordUntilMs = -Infinity;

  /** Whether followers may still be waiting out a record longer than any config in use. */
  private longerRecordStanding(now: number): boolean {
    const lease = this.store.peek(NAMESPACE, LEASE_NAME);
    const rv = lease?.metadata?.resourceVersion ?? '';
    if (rv !== this.standingRecord.rv) this.standingRecord = { rv, sinceMs: now };
    // Re-evaluated every step: the configs in use can shrink (a rollout) while the record stands.
    const recordMs = (lease?.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (Number.isFinite(recordMs) && recordMs > this.writtenLeaseMs) {
      const window = recordMs / (1 - MAX_CLOCK_DRIFT_RATE) + 2 * JITTER_FACTOR_PLUS_ONE * this.longestRetryPeriodMs + LATENCY_SLACK_MS;
      this.longerRecordUntilMs = Math.max(this.longerRecordUntilMs, this.standingRecord.sinceMs + window);
    }
    return now < this.longerRecordUntilMs;
  }

  private checkLiveness(): void {
    const now = this.clock.now();
    const waitingOutLongerRecord = this.longerRecordStanding(now);
    if (this.disturbances > 0 || this.shuttingDown) return;
    if (now - this.quietSinceMs < this.healthyWindowMs || waitingOutLongerRecord) return;
    if (this.l1ReportedFor === this.quietSinceMs) return;
    const running = this.participants.some((p) => p.state === 'running' && !p.suspended());
    if (!running || this.anyLeader()) return;
    this.l1ReportedFor = this.quietSinceMs;
    this.checker.report(
      'L1',
      `no leader ${Math.round(now - this.quietSinceMs)} ms into a healthy window of ${Math.round(this.healthyWindowMs)} ms (lease ${this.writtenLeaseMs} ms, retry ${this.longestRetryPeriodMs} ms)`,
    );
  }

  /** At each virtual minute's end: one sample per elector replica running then. */
  private countRequestsPerMinute(): void {
    const minute = Math.floor(this.clock.now() / 60_000);
    if (minute <= this.statsMinute || this.shuttingDown) return;
    this.statsMinute = minute;
    for (const slot of this.slots) {
      if (slot.kind !== 'leasekit') continue;
      const state = slot.current?.state;
      if (state === 'running' || state === 'stopping') addSample(this.requestsPerReplicaMinute, slot.requestsThisMinute);
      slot.requestsThisMinute = 0;
    }
  }

  private disturbBegin(): void {
    this.disturbances++;
  }

  private disturbEnd(): void {
    this.disturbances = Math.max(0, this.disturbances - 1);
    this.disturbNow();
  }

  /**
   * Something happened: L1's quiet time starts again (never earlier than a pending claim
   * allowance). While the Lease is missing, nobody may have been able to claim it (a 403 episode,
   * a partition): the claim hold starts from now.
   */
  private disturbNow(): void {
    this.quietSinceMs = Math.max(this.quietSinceMs, this.clock.now());
    if (!this.shuttingDown && !this.store.peek(NAMESPACE, LEASE_NAME)) this.leaseWentMissing();
  }

  private at(delayMs: number, run: () => void): void {
    const item: AgendaItem = { atMs: this.clock.now() + Math.max(0, delayMs), seq: this.agendaSeq++, run };
    let i = this.agenda.length;
    while (i > 0 && (this.agenda[i - 1]!.atMs > item.atMs || (this.agenda[i - 1]!.atMs === item.atMs && this.agenda[i - 1]!.seq > item.seq))) i--;
    this.agenda.splice(i, 0, item);
  }

  // -----------------------------------------------------------------------------------------
  // Fault scheduling

  private scheduleNext(kind: ScheduledFault): void {
    const rate = this.rates[kind];
    if (!(rate > 0)) return;
    this.at(this.schedule.exponential(60_000 / rate), () => {
      if (this.shuttingDown) return;
      this.inject(kind);
      this.scheduleNext(kind);
    });
  }

  private running(): Incarnation[] {
    return this.incarnations.filter((inc) => inc.state === 'running');
  }

  /** A running replica, the leader half of the time (faults at the leader are the dangerous ones). */
  private pickTarget(options: { notSuspended?: boolean; watching?: boolean } = {}): Incarnation | undefined {
    const candidates = this.running().filter(
      (inc) => !(options.notSuspended && inc.clock.suspended) && !(options.watching && inc.client.openStreams === 0),
    );
    if (candidates.length === 0) return undefined;
    const leader = candidates.find((inc) => inc.elector.isLeader());
    if (leader && this.schedule.chance(0.5)) return leader;
    return this.schedule.pick(candidates);
  }

  /** Like {@link pickTarget}, among every running process, client-go ones included (crash, partition). */
  private pickAnyTarget(): Process | undefined {
    const candidates: Process[] = this.participants.filter((p) => p.state === 'running');
    if (candidates.length === 0) return undefined;
    const leader = candidates.find((p) => p.isLeader());
    if (leader && this.schedule.chance(0.5)) return leader;
    return this.schedule.pick(candidates);
  }

  private inject(kind: ScheduledFault): void {
    const L = this.fleetTiming.leaseDurationMs;
    switch (kind) {
      case 'api-episode':
        return this.apiEpisode();
      case 'latency-spike': {
        if (this.latencySpike) return;
        const maxMs = this.schedule.between(200, 1.5 * this.fleetTiming.renewDeadlineMs);
        const spike = { minMs: Math.min(100, maxMs / 2), maxMs };
        this.latencySpike = spike;
        this.faults['latency-spike']++;
        this.disturbBegin();
        const duration = this.schedule.between(500, 2 * L);
        this.trace.add(`fault: latency spike up to ${Math.round(maxMs)} ms for ${Math.round(duration)} ms`);
        this.at(duration, () => {
          this.latencySpike = undefined;
          this.trace.add('fault end: latency spike');
          // Requests sent during the spike may still be on their way (a crashed leader's last
          // renewal, say): the API is healthy only once they have landed.
          this.at(maxMs, () => this.disturbEnd());
        });
        return;
      }
      case 'partition': {
        const proc = this.pickAnyTarget();
        if (!proc || proc.slot.partition) return;
        const mode = this.schedule.chance(0.5) ? 'refuse' : 'blackhole';
        this.partition(proc, mode, this.schedule.between(0.5 * L, 4 * L));
        this.faults.partition++;
        return;
      }
      case 'watch-stall': {
        const inc = this.pickTarget({ watching: true });
        if (!inc || inc.slot.stalled || inc.client.openStreams === 0) return;
        const slot = inc.slot;
        slot.stalled = true;
        inc.client.stallWatches();
        this.faults['watch-stall']++;
        this.disturbBegin();
        const duration = this.schedule.between(0.5 * L, 3 * L);
        this.trace.add(`fault: ${inc.key}'s watch stalls for ${Math.round(duration)} ms`);
        this.at(duration, () => {
          slot.stalled = false;
          if (slot.partition !== 'blackhole') inc.client.unstallWatches();
          this.trace.add(`fault end: ${inc.key}'s watch delivers again`);
          this.disturbEnd();
        });
        return;
      }
      case 'watch-drop': {
        const inc = this.pickTarget({ watching: true });
        if (!inc || inc.client.openStreams === 0) return;
        inc.client.dropWatches();
        this.faults['watch-drop']++;
        this.disturbNow();
        this.trace.add(`fault: ${inc.key}'s watch stream dropped`);
        return;
      }
      case 'watch-reset-all': {
        const ended = this.store.stopAllWatches();
        this.faults['watch-reset-all']++;
        let compacted = false;
        if (this.schedule.chance(0.3)) {
          this.store.compact();
          this.faults['watch-410-compaction']++;
          compacted = true;
        }
        this.disturbNow();
        this.trace.add(`fault: API server ended all ${ended} watch streams${compacted ? ' and compacted its history' : ''}`);
        return;
      }
      case 'pause': {
        const inc = this.pickTarget({ notSuspended: true });
        if (!inc) return;
        const roll = this.schedule.random();
        const R = this.fleetTiming.retryPeriodMs;
        const duration = roll < 0.4 ? this.schedule.between(20, R) : roll < 0.7 ? this.schedule.between(R, L) : this.schedule.between(L, 3 * L);
        this.pauseProcess(inc, duration, 'pause', '');
        return;
      }
      case 'pause-in-flight': {
        // The leader half of the time: its next write is a renewal (the answer that would extend
        // its guarantee waits while the process is stopped).
        const target = this.pickTarget();
        if (!target) return;
        const slot = target.slot;
        if (slot.pauseOnNextWriteMs !== undefined) return;
        slot.pauseOnNextWriteMs = this.schedule.chance(0.2) ? this.schedule.between(20, L) : this.schedule.between(L, 3 * L);
        this.trace.detail(`armed: ${slot.id} pauses when its next write reaches the server`);
        // Disarm if it has not written for a while: the fault is about that moment only.
        this.at(4 * L, () => {
          slot.pauseOnNextWriteMs = undefined;
        });
        return;
      }
      case 'crash': {
        const proc = this.pickAnyTarget();
        if (!proc) return;
        if (proc.kind === 'go') this.crashGo(proc);
        else this.crash(proc);
        return;
      }
      case 'graceful-restart': {
        const inc = this.pickTarget();
        if (!inc) return;
        inc.state = 'stopping';
        this.faults['graceful-stop']++;
        this.disturbBegin();
        this.trace.add(`fault: ${inc.key} shuts down gracefully${inc.elector.isLeader() ? ' (while leading)' : ''}`);
        // Delivered through its clock: a paused process handles SIGTERM when it runs again.
        this.signalStop(inc);
        return;
      }
      case 'clock-rate-change': {
        const inc = this.pickTarget();
        if (!inc) return;
        const rate = this.drawDriftRate(this.schedule);
        inc.slot.driftRate = rate;
        inc.clock.setDriftRate(rate);
        this.faults['clock-rate-change']++;
        this.trace.add(`fault: ${inc.key}'s clock rate error is now ${(rate * 100).toFixed(2)}%`);
        return;
      }
      case 'actor-delete-lease':
        return this.actorDelete();
      case 'actor-rewrite-holder':
        return this.actorRewrite();
      case 'actor-delete-before-read':
        return this.startReadDeleter();
      case 'write-forbidden':
        return this.forbidWrites();
      case 'rollout':
        return this.startRollout();
    }
  }

  /** Cuts one process off the API (refused, or blackholed with its watch stalled) for `durationMs`. */
  private partition(proc: Process, mode: 'refuse' | 'blackhole', durationMs: number): void {
    const slot = proc.slot;
    slot.partition = mode;
    if (mode === 'blackhole') proc.client.stallWatches();
    else proc.client.dropWatches();
    this.disturbBegin();
    this.trace.add(`fault: ${slot.id} partitioned from the API (${mode}) for ${Math.round(durationMs)} ms${proc.isLeader() ? ' (while leading)' : ''}`);
    this.at(durationMs, () => {
      slot.partition = undefined;
      // A blackholed connection is dead by now: its streams end.
      slot.current?.client.dropWatches();
      this.trace.add(`fault end: ${slot.id} partition healed`);
      this.disturbEnd();
    });
  }

  private pauseProcess(inc: Incarnation, durationMs: number, kind: 'pause' | 'pause-in-flight', detail: string): void {
    inc.clock.pause();
    this.checker.suspended(inc);
    this.faults[kind]++;
    this.disturbBegin();
    this.trace.add(`fault: ${inc.key} paused for ${Math.round(durationMs)} ms${detail ? ` ${detail}` : ''}${inc.elector.isLeader() ? ' (while leading)' : ''}`);
    this.at(durationMs, () => {
      if (inc.state === 'crashed') return;
      this.trace.add(`fault end: ${inc.key} resumes (${inc.clock.queuedTimers} timer(s) came due meanwhile)`);
      inc.clock.resume(); // onCaughtUp ends the disturbance
    });
  }

  private apiEpisode(): void {
    const all: (readonly [ApiFaultKind, number])[] = [
      ['api-409-conflict', 1],
      ['api-429-retry-after', 1],
      ['api-500-internal', 1],
      ['api-503-unavailable', 1],
      ['api-timeout', 1],
      ['api-ambiguous-write', 1.5],
    ];
    const kinds = this.schedule.chance(0.5) ? [this.schedule.weighted(all.map(([k, w]) => [[k, w] as const, w] as const))] : all;
    const L = this.fleetTiming.leaseDurationMs;
    const target = this.schedule.chance(0.5) ? undefined : this.pickTarget()?.slot;
    const episode: ApiEpisode = { target, probability: this.schedule.pick([0.3, 0.6, 1]), kinds };
    this.apiEpisodes.add(episode);
    this.disturbBegin();
    const duration = this.schedule.between(300, 2.5 * L);
    this.trace.add(
      `fault: API failing ${Math.round(episode.probability * 100)}% of calls (${kinds.map(([k]) => k).join(', ')}) for ${target ? target.id : 'everyone'} for ${Math.round(duration)} ms`,
    );
    this.at(duration, () => {
      this.apiEpisodes.delete(episode);
      this.trace.add('fault end: API episode');
      this.disturbEnd();
    });
  }

  private crash(inc: Incarnation): void {
    const wasLeader = inc.elector.isLeader();
    const wasSuspended = inc.clock.suspended;
    const wasStopping = inc.state === 'stopping';
    inc.state = 'crashed';
    this.configVersion++;
    inc.clock.kill();
    inc.client.kill();
    this.checker.crashed(inc);
    this.faults.crash++;
    if (wasSuspended) this.disturbEnd();
    if (wasStopping) this.disturbEnd();
    this.disturbNow();
    this.trace.add(`fault: ${inc.key} crashed${wasLeader ? ' (while leading)' : ''}`);
    const L = this.fleetTiming.leaseDurationMs;
    this.at(this.schedule.between(0.2 * L, 2 * L), () => {
      this.disturbNow();
      this.faults.restart++;
      this.startIncarnation(inc.slot);
    });
  }

  private crashGo(go: GoIncarnation): void {
    const wasLeader = go.replica.leading;
    go.state = 'crashed';
    go.clock.kill();
    go.client.kill();
    this.checker.crashed(go);
    this.faults.crash++;
    this.disturbNow();
    this.trace.add(`fault: ${go.key} (client-go) crashed${wasLeader ? ' (while leading)' : ''}`);
    const L = go.slot.config.timing.leaseDurationMs;
    this.at(this.schedule.between(0.2 * L, 2 * L), () => {
      this.disturbNow();
      this.faults.restart++;
      this.startGo(go.slot);
    });
  }

  /** For a while, every write (or one replica's) is rejected with 403: an admission webhook, or RBAC. */
  private forbidWrites(): void {
    const target = this.schedule.chance(0.5) ? undefined : this.pickTarget()?.slot;
    const episode = { target };
    this.forbiddenEpisodes.add(episode);
    this.disturbBegin();
    const duration = this.schedule.between(0.5, 3) * this.fleetTiming.leaseDurationMs;
    this.trace.add(`fault: writes rejected with 403 (webhook or RBAC) for ${target ? target.id : 'everyone'} for ${Math.round(duration)} ms`);
    this.at(duration, () => {
      this.forbiddenEpisodes.delete(episode);
      this.trace.add('fault end: writes allowed again');
      this.disturbEnd();
    });
  }
  // -----------------------------------------------------------------------------------------
  // The outside actor: someone with kubectl, writing to the store directly

  private actorDelete(): void {
    if (this.outsideActor === 'none') return;
    const lease = this.store.peek(NAMESPACE, LEASE_NAME);
    if (!lease) return;
    this.store.delete(NAMESPACE, LEASE_NAME);
    this.faults['actor-delete-lease']++;
    this.disturbNow();
    this.leaseWentMissing();
    this.trace.add(`actor: kubectl delete lease (holder was '${lease.spec?.holderIdentity ?? ''}')`);
  }

  /**
   * For 1.5 to 4 lease durations, the Lease is deleted right before each GET of one follower is
   * served (a polling one when there is one), while the leader keeps recreating it: that follower
   * sees nothing but 404s, although a live leader holds the Lease all along.
   */
  private startReadDeleter(): void {
    if (this.outsideActor === 'none' || this.readDeleter) return;
    const followers = this.running().filter((inc) => !inc.elector.isLeader());
    if (followers.length === 0) return;
    const polling = followers.filter((inc) => inc.slot.followerStrategy === 'poll');
    const victim = this.actors.pick(polling.length > 0 && this.actors.chance(0.8) ? polling : followers).slot;
    this.readDeleter = victim;
    this.disturbBegin();
    const duration = this.actors.between(1.5, 4) * this.fleetTiming.leaseDurationMs;
    this.trace.add(`actor: deletes the Lease before each of ${victim.id}'s reads for ${Math.round(duration)} ms`);
    this.at(duration, () => {
      this.readDeleter = undefined;
      this.trace.add(`actor end: ${victim.id}'s reads are left alone`);
      this.disturbEnd();
      this.leaseWentMissing();
    });
  }

  /** The read-targeting deleter at work: `slot`'s GET has reached the server. */
  private deleteBeforeRead(slot: Slot, proc: Process | undefined): void {
    if (!this.store.peek(NAMESPACE, LEASE_NAME)) return;
    this.store.delete(NAMESPACE, LEASE_NAME);
    this.faults['actor-delete-before-read']++;
    this.trace.add(`actor: deleted the Lease right before ${proc?.key ?? slot.id}'s GET`);
  }

  // -----------------------------------------------------------------------------------------
  // Config rollouts (see rollout.ts)

  /**
   * A rollout to another lease duration: the elector replicas restart one by one (0.5 to 2 of
   * the longer lease durations apart) with the new configuration, maxPeerLeaseDurationMs left at
   * its default or set to the longest duration in use (half each). A hostile rollout (half of
   * them) also, when a replica with a shorter duration starts while one with a longer duration
   * leads, partitions that leader and deletes the Lease: the new replica, which never saw the
   * leader's record, finds the Lease missing while that leader's guarantee still runs.
   */
  private startRollout(target?: Timing, hostileRollout?: boolean): void {
    if (this.rollout || this.shuttingDown) return;
    const from = this.fleetTiming;
    const to = target ?? this.actors.pick(ROLLOUT_TIMINGS.filter((t) => t.leaseDurationMs !== from.leaseDurationMs));
    const explicit = this.actors.chance(0.5);
    const hostile = hostileRollout ?? this.actors.chance(0.5);
    const order = this.slots.map((_, i) => i).filter((i) => this.slots[i]!.kind === 'leasekit');
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.actors.int(0, i);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const steps = planRollout(
      this.slots.map((slot) => slot.config),
      to,
      explicit,
      order,
    );
    this.rollout = { steps, hostile };
    this.fleetTiming = to;
    this.faults.rollout++;
    this.trace.add(
      `actor: ${hostile ? 'hostile ' : ''}rollout L=${from.leaseDurationMs} -> L=${to.leaseDurationMs}, maxPeerLeaseDurationMs ${explicit ? 'set to the longest in use' : 'left at its default'} (${steps.length} restarts)`,
    );
    this.rolloutStep();
  }

  private rolloutStep(): void {
    const rollout = this.rollout;
    if (!rollout || this.shuttingDown) return;
    const step = rollout.steps.shift();
    if (!step) {
      this.rollout = undefined;
      this.trace.add('actor: rollout complete');
      return;
    }
    const slot = this.slots[step.slot]!;
    const previous = slot.config;
    slot.config = step.config;
    this.configVersion++;
    slot.hostileOnStart = rollout.hostile && step.phase === 'duration';
    this.faults['rollout-restart']++;
    const inc = slot.current;
    if (inc?.state === 'running') {
      inc.state = 'stopping';
      this.disturbBegin();
      this.trace.add(`actor: rollout restarts ${inc.key} (${step.phase === 'cover' ? 'maxPeerLeaseDurationMs first' : `L=${step.config.timing.leaseDurationMs}`})${inc.elector.isLeader() ? ' (while leading)' : ''}`);
      this.signalStop(inc);
    } // else: it is stopping, stopped or crashed, and its pending restart takes the new config
    const L = Math.max(previous.timing.leaseDurationMs, step.config.timing.leaseDurationMs);
    this.at(this.actors.between(0.5 * L, 2 * L), () => this.rolloutStep());
  }

  /** See {@link startRollout}: runs right before `slot` starts with its new, shorter, duration. */
  private rolloutHostileStep(slot: Slot): void {
    const L = slot.config.timing.leaseDurationMs;
    const leader = this.running().find((inc) => inc.slot !== slot && inc.elector.isLeader() && inc.config.timing.leaseDurationMs > L);
    if (!leader || leader.slot.partition) return;
    const leaderL = leader.config.timing.leaseDurationMs;
    this.faults['rollout-partition-and-delete']++;
    this.partition(leader, 'refuse', this.actors.between(leaderL, 2 * leaderL));
    if (this.store.peek(NAMESPACE, LEASE_NAME)) {
      this.store.delete(NAMESPACE, LEASE_NAME);
      this.leaseWentMissing();
      this.trace.add(`actor: kubectl delete lease while ${leader.key} (L=${leaderL}) is partitioned, as ${slot.id} (L=${L}) starts`);
    }
  }

  private actorRewrite(): void {
    const lease = this.store.peek(NAMESPACE, LEASE_NAME);
    if (!lease) return;
    const live = this.running().map((inc) => inc.slot.id);
    const current = lease.spec?.holderIdentity ?? '';
    let holder = 'kubectl-user';
    let kind: FaultKind = 'actor-rewrite-holder';
    if (this.outsideActor === 'none') return;
    if (this.outsideActor === 'forge-live-holder') {
      const others = live.filter((id) => id !== current);
      if (others.length > 0 && this.schedule.chance(0.7)) {
        holder = this.schedule.pick(others);
        kind = 'actor-forge-live-holder';
      }
    } else if (this.outsideActor === 'force-release' && this.schedule.chance(0.7)) {
      holder = '';
      kind = 'actor-force-release';
    }
    const now = formatMicroTime(this.clock.wallNow());
    const next: Lease = { ...lease, spec: { ...lease.spec, holderIdentity: holder, renewTime: now, acquireTime: now } };
    this.store.update(NAMESPACE, LEASE_NAME, next);
    this.faults[kind]++;
    this.disturbNow();
    // The record keeps its duration: a claim's (up to maxPeerLeaseDurationMs) outlasts L1's window.
    if ((lease.spec?.leaseDurationSeconds ?? 0) * 1000 > this.writtenLeaseMs) this.leaseWentMissing();
    this.trace.add(`actor: kubectl edit lease holder '${current}' -> '${holder}'`);
  }

  // -----------------------------------------------------------------------------------------
  // Shutdown and the R checks

  private async shutdown(): Promise<void> {
    this.shuttingDown = true;
    this.agenda.length = 0;
    this.apiEpisodes.clear();
    this.forbiddenEpisodes.clear();
    this.readDeleter = undefined;
    this.rollout = undefined;
    this.latencySpike = undefined;
    for (const slot of this.slots) {
      slot.partition = undefined;
      slot.stalled = false;
      slot.current?.client.unstallWatches();
    }
    for (const inc of this.incarnations) if (inc.clock.paused) inc.clock.resume();
    this.trace.add('shutdown: faults healed, stopping every replica');
    const live = this.incarnations.filter((inc) => inc.state === 'running' || inc.state === 'stopping');
    for (const inc of live) {
      if (inc.state === 'running') this.signalStop(inc); // a stopping one has its SIGTERM already
      inc.state = 'stopping';
    }
    const liveGo = this.goIncarnations.filter((go) => go.state === 'running');
    for (const go of liveGo) go.controller.abort();
    const longest = this.configsInUse().reduce((a, c) => (c.timing.leaseDurationMs > a.leaseDurationMs ? c.timing : a), this.timing);
    const L = longest.leaseDurationMs;
    const boundMs = this.clock.now() + 4 * (longest.renewDeadlineMs + 1.3 * L) + 10_000;
    const stopping: Process[] = [...live, ...liveGo];
    while (stopping.some((p) => !p.runSettled) && this.clock.now() < boundMs && !this.livelocked) await this.step(boundMs);
    for (const p of stopping) {
      if (!p.runSettled) this.checker.report('R', `${p.key} run() did not resolve within ${Math.round(boundMs)} ms of virtual time after stop`);
    }
    // Requests of crashed processes may still be on the wire (their latency timers): let them land.
    const drainUntil = this.clock.now() + 2 * longest.renewDeadlineMs;
    while (this.clock.pendingTimers > 0 && this.clock.now() < drainUntil && !this.livelocked) await this.step(drainUntil);
    if (this.clock.pendingTimers > 0) {
      this.checker.report('R', `${this.clock.pendingTimers} timer(s) still pending on the FakeClock after every replica stopped`);
    }
  }
}

function apiFault(kind: ApiFaultKind, call: MemoryCall): Fault {
  switch (kind) {
    case 'api-409-conflict':
      return { kind: 'error', error: leaseErrors.conflict(call.name) };
    case 'api-429-retry-after':
      return {
        kind: 'error',
        error: new ApiError(makeStatus(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 1 }), { retryAfterSeconds: 1 }),
      };
    case 'api-500-internal':
      return { kind: 'error', error: leaseErrors.internal('Internal error occurred: etcdserver: request timed out') };
    case 'api-503-unavailable':
      return { kind: 'error', error: new ApiError(makeStatus(503, 'ServiceUnavailable', 'the server is currently unable to handle the request')) };
    case 'api-timeout':
      return { kind: 'hang' };
    case 'api-ambiguous-write':
      return { kind: 'drop-response' };
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return String(value);
}

function fields(f: Record<string, unknown> | undefined): string {
  if (!f) return '';
  try {
    const text = JSON.stringify(f);
    return text.length > 300 ? `${text.slice(0, 297)}...` : text;
  } catch {
    return '';
  }
}
