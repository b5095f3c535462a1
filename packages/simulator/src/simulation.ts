/**
 * One deterministic simulation run: several real Electors against one in-memory Lease store, in
 * virtual time, every random choice drawn from one seed. Faults are injected on a seeded schedule;
 * invariants are checked as time advances; the result says what was injected and what broke.
 */
import {
  ApiError,
  NetworkError,
  formatMicroTime,
  makeStatus,
  type Elector,
  type ElectorConfig,
  type Lease,
  type Logger,
} from '@leasekit/k8s-leaderelection';
import { FakeClock, LeaseStore, MemoryLeaseClient, leaseErrors, settle, type Fault, type MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { DEFAULT_RATES, emptyFaultCounts, type FaultCounts, type FaultKind, type FaultRates, type OutsideActor, type ScheduledFault } from './faults.js';
import { INVARIANTS, InvariantChecker, type Invariant, type Participant, type Violation } from './invariants.js';
import { ReplicaClock } from './replica-clock.js';
import { Draw, deriveRandom } from './rng.js';
import { SimClient } from './sim-client.js';
import { Trace } from './trace.js';
import { VARIANTS, type ElectorFactory, type VariantName } from './variants.js';

export const NAMESPACE = 'default';
export const LEASE_NAME = 'sim-lease';

/** Elector timings the runs pick from (all valid: L > RD > 1.2 R, L >= 1000). */
export const TIMINGS = [
  { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 800 },
  { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 },
  { leaseDurationMs: 5000, renewDeadlineMs: 4000, retryPeriodMs: 1000 },
  // Not whole seconds: the Lease says 3 s while the leader's guarantee is computed from 2.5 s.
  { leaseDurationMs: 2500, renewDeadlineMs: 2000, retryPeriodMs: 600 },
] as const;

export type Timing = (typeof TIMINGS)[number];

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
  readonly followerStrategy: 'watch' | 'poll';
  readonly wallSkewMs: number;
  driftRate: number;
  incarnations: number;
  current: Incarnation | undefined;
  partition: 'refuse' | 'blackhole' | undefined;
  stalled: boolean;
  /** Armed by a pause-in-flight fault: pause for this long when the next write reaches the server. */
  pauseOnNextWriteMs: number | undefined;
}

interface Incarnation extends Participant {
  readonly slot: Slot;
  readonly clock: ReplicaClock;
  readonly client: SimClient;
  readonly elector: Elector;
  readonly controller: AbortController;
  state: IncarnationState;
  runSettled: boolean;
  readonly userTimers: Set<unknown>;
}

interface ApiEpisode {
  readonly target: Slot | undefined;
  readonly probability: number;
  readonly kinds: readonly (readonly [ApiFaultKind, number])[];
}

type ApiFaultKind = Extract<FaultKind, `api-${string}`>;

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
  private readonly timing: Timing;
  private readonly factory: ElectorFactory;
  private readonly rates: Record<ScheduledFault, number>;
  private readonly outsideActor: OutsideActor;
  private readonly slots: Slot[] = [];
  private readonly incarnations: Incarnation[] = [];
  private readonly agenda: AgendaItem[] = [];
  private agendaSeq = 0;
  private readonly apiEpisodes = new Set<ApiEpisode>();
  private latencySpike: { minMs: number; maxMs: number } | undefined;
  private disturbances = 0;
  private quietSinceMs = 0;
  private l1ReportedFor = -1;
  private leaderMs = 0;
  private readonly unhandled: unknown[] = [];
  private shuttingDown = false;
  private stepsAtSameTime = 0;
  private livelocked = false;

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
    this.timing = this.setup.pick(TIMINGS);
    this.factory = options.factory ?? VARIANTS[options.variant ?? 'safe'];
    this.rates = { ...DEFAULT_RATES, ...options.rates };
    this.outsideActor = options.outsideActor ?? 'kubectl';
  }

  /** Lease duration as written in the Lease (whole seconds), which followers wait for. */
  private get writtenLeaseMs(): number {
    return Math.ceil(this.timing.leaseDurationMs / 1000) * 1000;
  }

  /**
   * L1's healthy window: how long after the last disturbance some replica must lead. A polling
   * follower sees the last renewal up to one poll (2.2 R) after it was written, waits the written
   * duration on a clock that may run slow by the drift bound, and tries at its next poll (up to
   * 2.2 R more); plus a few healthy request latencies. (The issue's "lease duration + 3 R" is not
   * enough for polling followers: see docs/reliability.md, seed 903.)
   */
  private get healthyWindowMs(): number {
    const R = this.timing.retryPeriodMs;
    return this.writtenLeaseMs / (1 - MAX_CLOCK_DRIFT_RATE) + 2 * JITTER_FACTOR_PLUS_ONE * R + LATENCY_SLACK_MS;
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
    };
  }

  // -----------------------------------------------------------------------------------------
  // Setup

  private buildWorld(): void {
    const count = this.options.replicas ?? this.setup.int(3, 5);
    const preCreated = this.setup.chance(0.5);
    if (preCreated) this.store.create(NAMESPACE, { metadata: { name: LEASE_NAME } });
    const L = this.timing.leaseDurationMs;
    for (let i = 0; i < count; i++) {
      const slot: Slot = {
        id: String.fromCharCode(97 + i),
        followerStrategy: this.setup.chance(0.5) ? 'watch' : 'poll',
        wallSkewMs: Math.round(this.setup.between(-2 * L, 2 * L)),
        driftRate: this.drawDriftRate(this.setup),
        incarnations: 0,
        current: undefined,
        partition: undefined,
        stalled: false,
        pauseOnNextWriteMs: undefined,
      };
      this.slots.push(slot);
    }
    this.trace.add(
      `seed ${this.seed}: ${count} replicas (${this.slots.map((s) => `${s.id}:${s.followerStrategy},drift ${(s.driftRate * 100).toFixed(2)}%,skew ${s.wallSkewMs}ms`).join('; ')}), ` +
        `L=${L} RD=${this.timing.renewDeadlineMs} R=${this.timing.retryPeriodMs}, lease ${preCreated ? 'pre-created' : 'absent'}`,
    );
    for (const slot of this.slots) {
      const delay = this.setup.between(0, L);
      this.at(delay, () => this.startIncarnation(slot));
    }
    for (const kind of Object.keys(this.rates) as ScheduledFault[]) this.scheduleNext(kind);
  }

  private drawDriftRate(draw: Draw): number {
    // Often at the bound, where the guarantee's margin is thinnest.
    if (draw.chance(0.4)) return draw.chance(0.5) ? MAX_CLOCK_DRIFT_RATE : -MAX_CLOCK_DRIFT_RATE;
    return draw.between(-MAX_CLOCK_DRIFT_RATE, MAX_CLOCK_DRIFT_RATE);
  }

  private startIncarnation(slot: Slot): void {
    if (this.shuttingDown) return;
    const n = ++slot.incarnations;
    const key = `${slot.id}#${n}`;
    const clock = new ReplicaClock(this.clock, {
      driftRate: slot.driftRate,
      wallSkewMs: slot.wallSkewMs,
      startMs: Math.round(this.setup.between(0, 1e6)),
    });
    const memory = new MemoryLeaseClient(this.store, {
      clock: this.clock,
      latencyMs: () => this.requestLatency(),
      fault: (call) => this.callFault(slot, inc, call),
    });
    const client = new SimClient(memory, clock, { responseLatencyMs: () => this.healthyLatency() });
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
      ...this.timing,
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
          const end = this.checker.termStarted(inc, term.token, leaderNow, client.lastWriteUid, this.incarnations);
          signal.addEventListener('abort', end, { once: true });
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
      key,
      slot,
      clock,
      client,
      elector,
      controller,
      state: 'running',
      runSettled: false,
      userTimers,
      isLeader: () => elector.isLeader(),
      suspended: () => clock.suspended,
      alive: () => inc.state !== 'crashed',
    };
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
    slot.current = inc;
    this.disturbNow();
    this.trace.add(`${key} started`);
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
      const L = this.timing.leaseDurationMs;
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
    const L = this.timing.leaseDurationMs;
    const roll = this.user.random();
    const ms = roll < 0.5 ? this.user.between(0, 20) : roll < 0.95 ? this.user.between(0.5 * L, 0.99 * L) : this.user.between(L, 1.3 * L);
    if (ms > this.timing.renewDeadlineMs) this.faults['slow-shutdown-callback']++;
    return new Promise((resolve) => {
      const handle = inc.clock.setTimeout(() => {
        inc.userTimers.delete(handle);
        resolve();
      }, ms);
      inc.userTimers.add(handle);
    });
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

  private callFault(slot: Slot, inc: Incarnation | undefined, call: MemoryCall): Fault | undefined {
    if (inc?.state === 'crashed') return undefined; // a dead process's last request still arrives
    if (slot.partition === 'refuse') return { kind: 'error', error: new NetworkError('connect ECONNREFUSED 10.96.0.1:443') };
    if (slot.partition === 'blackhole') return { kind: 'hang' };
    if (call.verb === 'watch') return undefined; // watch trouble has its own faults
    if ((call.verb === 'create' || call.verb === 'update') && slot.pauseOnNextWriteMs !== undefined && inc?.state === 'running' && !inc.clock.suspended) {
      const durationMs = slot.pauseOnNextWriteMs;
      slot.pauseOnNextWriteMs = undefined;
      this.pauseProcess(inc, durationMs, 'pause-in-flight', `while its ${call.verb} is at the server`);
    }
    for (const episode of this.apiEpisodes) {
      if (episode.target !== undefined && episode.target !== slot) continue;
      if (!this.callFaults.chance(episode.probability)) continue;
      const write = call.verb === 'create' || call.verb === 'update';
      const kinds = episode.kinds.filter(([kind]) => write || (kind !== 'api-409-conflict' && kind !== 'api-ambiguous-write'));
      if (kinds.length === 0) continue;
      const kind = this.callFaults.weighted(kinds);
      this.faults[kind]++;
      this.trace.detail(`${inc?.key ?? slot.id} ${call.verb}: injected ${kind}`);
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
    this.checker.checkLeaders(this.incarnations);
    this.checkLiveness();
  }

  private anyLeader(): boolean {
    for (const inc of this.incarnations) if (inc.state !== 'crashed' && inc.elector.isLeader()) return true;
    return false;
  }

  private checkLiveness(): void {
    if (this.disturbances > 0 || this.shuttingDown) return;
    const now = this.clock.now();
    if (now - this.quietSinceMs < this.healthyWindowMs) return;
    if (this.l1ReportedFor === this.quietSinceMs) return;
    const running = this.incarnations.some((inc) => inc.state === 'running' && !inc.clock.suspended);
    if (!running || this.anyLeader()) return;
    this.l1ReportedFor = this.quietSinceMs;
    this.checker.report(
      'L1',
      `no leader ${Math.round(now - this.quietSinceMs)} ms into a healthy window of ${Math.round(this.healthyWindowMs)} ms (lease ${this.writtenLeaseMs} ms, retry ${this.timing.retryPeriodMs} ms)`,
    );
  }

  private disturbBegin(): void {
    this.disturbances++;
  }

  private disturbEnd(): void {
    this.disturbances = Math.max(0, this.disturbances - 1);
    this.quietSinceMs = this.clock.now();
  }

  private disturbNow(): void {
    this.quietSinceMs = this.clock.now();
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

  private inject(kind: ScheduledFault): void {
    const L = this.timing.leaseDurationMs;
    switch (kind) {
      case 'api-episode':
        return this.apiEpisode();
      case 'latency-spike': {
        if (this.latencySpike) return;
        const maxMs = this.schedule.between(200, 1.5 * this.timing.renewDeadlineMs);
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
        const inc = this.pickTarget();
        if (!inc || inc.slot.partition) return;
        const slot = inc.slot;
        const mode = this.schedule.chance(0.5) ? 'refuse' : 'blackhole';
        slot.partition = mode;
        if (mode === 'blackhole') inc.client.stallWatches();
        else inc.client.dropWatches();
        this.faults.partition++;
        this.disturbBegin();
        const duration = this.schedule.between(0.5 * L, 4 * L);
        this.trace.add(`fault: ${slot.id} partitioned from the API (${mode}) for ${Math.round(duration)} ms`);
        this.at(duration, () => {
          slot.partition = undefined;
          // A blackholed connection is dead by now: its streams end.
          slot.current?.client.dropWatches();
          this.trace.add(`fault end: ${slot.id} partition healed`);
          this.disturbEnd();
        });
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
        const R = this.timing.retryPeriodMs;
        const duration = roll < 0.4 ? this.schedule.between(20, R) : roll < 0.7 ? this.schedule.between(R, L) : this.schedule.between(L, 3 * L);
        this.pauseProcess(inc, duration, 'pause', '');
        return;
      }
      case 'pause-in-flight': {
        const candidates = this.running();
        if (candidates.length === 0) return;
        const slot = this.schedule.pick(candidates).slot;
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
        const inc = this.pickTarget();
        if (!inc) return;
        this.crash(inc);
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
    }
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
    const L = this.timing.leaseDurationMs;
    const all: (readonly [ApiFaultKind, number])[] = [
      ['api-409-conflict', 1],
      ['api-429-retry-after', 1],
      ['api-500-internal', 1],
      ['api-503-unavailable', 1],
      ['api-timeout', 1],
      ['api-ambiguous-write', 1.5],
    ];
    const kinds = this.schedule.chance(0.5) ? [this.schedule.weighted(all.map(([k, w]) => [[k, w] as const, w] as const))] : all;
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
    inc.clock.kill();
    inc.client.kill();
    this.checker.crashed(inc);
    this.faults.crash++;
    if (wasSuspended) this.disturbEnd();
    if (wasStopping) this.disturbEnd();
    this.disturbNow();
    this.trace.add(`fault: ${inc.key} crashed${wasLeader ? ' (while leading)' : ''}`);
    const L = this.timing.leaseDurationMs;
    this.at(this.schedule.between(0.2 * L, 2 * L), () => {
      this.disturbNow();
      this.faults.restart++;
      this.startIncarnation(inc.slot);
    });
  }

  // -----------------------------------------------------------------------------------------
  // The outside actor: someone with kubectl, writing to the store directly

  private actorDelete(): void {
    const lease = this.store.peek(NAMESPACE, LEASE_NAME);
    if (!lease) return;
    this.store.delete(NAMESPACE, LEASE_NAME);
    this.faults['actor-delete-lease']++;
    this.disturbNow();
    this.trace.add(`actor: kubectl delete lease (holder was '${lease.spec?.holderIdentity ?? ''}')`);
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
    this.trace.add(`actor: kubectl edit lease holder '${current}' -> '${holder}'`);
  }

  // -----------------------------------------------------------------------------------------
  // Shutdown and the R checks

  private async shutdown(): Promise<void> {
    this.shuttingDown = true;
    this.agenda.length = 0;
    this.apiEpisodes.clear();
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
    const L = this.timing.leaseDurationMs;
    const boundMs = this.clock.now() + 4 * (this.timing.renewDeadlineMs + 1.3 * L) + 10_000;
    while (live.some((inc) => !inc.runSettled) && this.clock.now() < boundMs && !this.livelocked) await this.step(boundMs);
    for (const inc of live) {
      if (!inc.runSettled) this.checker.report('R', `${inc.key} run() did not resolve within ${Math.round(boundMs)} ms of virtual time after stop`);
    }
    // Requests of crashed processes may still be on the wire (their latency timers): let them land.
    const drainUntil = this.clock.now() + 2 * this.timing.renewDeadlineMs;
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
