/** A run's shared state (clock, store, draws, slots, processes, agenda, L1 bookkeeping) and the small helpers every part uses. */
import { FakeClock, LeaseStore } from '@leasekit/k8s-leaderelection/testing';
import { Agenda } from './agenda.js';
import { DEFAULT_RATES, emptyFaultCounts, type OutsideActor, type ScheduledFault } from './faults.js';
import type { GoExpiry } from './go-replica.js';
import type { Histogram } from './histogram.js';
import { InvariantChecker } from './invariants.js';
import { Draw, deriveRandom } from './rng.js';
import { effectiveMaxPeer, type ReplicaConfig, type RolloutStep } from './rollout.js';
import type { SimOptions, Slot, Incarnation, GoIncarnation, Process, ApiEpisode } from './sim-types.js';
import { NAMESPACE, LEASE_NAME, TIMINGS, GO_TIMINGS, CLIENT_GO_SEED_SHARE, LEASEKIT_ONLY_SEED_SHARE, LEASEKIT_ONLY_TIMINGS, MAX_CLOCK_DRIFT_RATE, type Timing } from './timings.js';
import { Trace } from './trace.js';
import { VARIANTS, type ElectorFactory } from './variants.js';

/** Acquire retries wait in [R, 2.2 R): client-go's jitter factor 1.2, plus one. */
export const JITTER_FACTOR_PLUS_ONE = 2.2;
/** Four healthy request legs (GET and PUT, there and back) at their 40.5 ms maximum, rounded up. */
export const LATENCY_SLACK_MS = 250;

/** Everything one run owns; the parts of the simulation (setup, replicas, faults, actors, checks, loop) act on it. */
export class World {
  readonly seed: number;
  readonly endMs: number;
  readonly clock = new FakeClock({ startMs: 0 });
  readonly store = new LeaseStore({ clock: this.clock, historyLimit: 50 });
  readonly trace: Trace;
  readonly checker: InvariantChecker;
  readonly faults = emptyFaultCounts();
  readonly setup: Draw;
  readonly schedule: Draw;
  readonly callFaults: Draw;
  readonly latency: Draw;
  readonly user: Draw;
  /** Outside actors' own choices (the read-targeting deleter, rollout pacing). */
  readonly actors: Draw;
  /** Wall-clock faults: when, whom, how long (their own stream: adding them shifted no other draw). */
  readonly wallClockDraw: Draw;
  /** Directed handovers and preferredHolder writes: when, by whom, to whom (their own stream). */
  readonly handoverDraw: Draw;
  /** A directed handover to a live, connected, watching replica, awaiting that replica's term (L2). */
  pendingHandover: { readonly target: Slot; readonly from: string; readonly sinceMs: number; readonly quietSinceMs: number } | undefined;
  /** Leaders asked to `resign({ to })` whose call has not resolved yet (their `handed_over` is no preferredHolder yield). */
  readonly directedHandovers = new Set<Incarnation>();
  /** When each replica's last term ended (virtual ms): a replica in its cooldown does not take a handover at once. */
  readonly lastTermEndMs = new Map<string, number>();
  /** Per slot id: when one of its requests last failed (the elector backs off after it; L2 waits it out). */
  readonly lastFailedRequestMs = new Map<string, number>();
  /** No client-go replica, and every elector runs with `clientGoFollowers: false` (shorter leases allowed). */
  readonly leasekitOnly: boolean;
  /** The timing the run starts with. */
  readonly timing: Timing;
  /** The timing the fleet is configured with now (a rollout changes it); fault sizes follow it. */
  fleetTiming: Timing;
  readonly clientGoExpiry: GoExpiry | undefined;
  readonly factory: ElectorFactory;
  readonly rates: Record<ScheduledFault, number>;
  readonly outsideActor: OutsideActor;
  readonly slots: Slot[] = [];
  readonly incarnations: Incarnation[] = [];
  readonly goIncarnations: GoIncarnation[] = [];
  /** Every process of the run (elector incarnations and client-go ones), for the invariants. */
  readonly participants: Process[] = [];
  readonly agenda = new Agenda(() => this.clock.now());
  readonly apiEpisodes = new Set<ApiEpisode>();
  /** Write-rejection episodes (403 from a webhook or RBAC): everyone (undefined) or one slot. */
  readonly forbiddenEpisodes = new Set<{ target: Slot | undefined }>();
  /** The read-targeting deleter's current victim. */
  readDeleter: Slot | undefined;
  rollout: { steps: RolloutStep[]; hostile: boolean } | undefined;
  latencySpike: { minMs: number; maxMs: number } | undefined;
  disturbances = 0;
  quietSinceMs = 0;
  l1ReportedFor = -1;
  leaderMs = 0;
  readonly unhandled: unknown[] = [];
  shuttingDown = false;
  stepsAtSameTime = 0;
  livelocked = false;
  /** The longest maxPeerLeaseDurationMs (whole seconds) any elector of the run started with. */
  longestHoldEverMs = 0;
  /** Bumped whenever the configs in use may change (see configExtremes). */
  configVersion = 0;
  extremesCache = { version: -1, value: { writtenLeaseMs: 0, retryPeriodMs: 0, holdMs: 0 } };
  readonly requestsPerReplicaMinute: Histogram = {};
  statsMinute = 0;
  /** The Lease as a client-go follower compares it, cached by the store's resourceVersion (S4). */
  goView: { rv: string; raw: string | undefined; holder: string | undefined } = { rv: '', raw: undefined, holder: undefined };

  /**
   * The record in the Lease, and since when it has stood (checked every step): the Lease can carry
   * a longer duration than any config in use (written before a rollout shortened it, and kept by
   * an actor's `kubectl edit`), and followers rightly wait that one, from when it was written.
   */
  standingRecord = { rv: '', sinceMs: 0 };
  /** Until when L1 waits for followers to wait out such a longer record (and to take over after it). */
  longerRecordUntilMs = -Infinity;

  constructor(readonly options: SimOptions) {
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
    this.wallClockDraw = new Draw(deriveRandom(this.seed, 'wall-clock'));
    this.handoverDraw = new Draw(deriveRandom(this.seed, 'handover'));
    const clientGo = options.clientGo ?? 'auto';
    const withGo = clientGo === 'auto' ? this.setup.chance(CLIENT_GO_SEED_SHARE) : clientGo !== 'none';
    this.clientGoExpiry = !withGo ? undefined : clientGo === 'auto' ? (this.setup.chance(0.5) ? 'record' : 'configured') : clientGo === 'none' ? undefined : clientGo;
    const fleet = options.fleet ?? 'auto';
    this.leasekitOnly = !withGo && (fleet === 'auto' ? new Draw(deriveRandom(this.seed, 'fleet')).chance(LEASEKIT_ONLY_SEED_SHARE) : fleet === 'leasekit-only');
    this.timing = this.setup.pick(withGo ? GO_TIMINGS : this.leasekitOnly ? LEASEKIT_ONLY_TIMINGS : TIMINGS);
    this.fleetTiming = this.timing;
    this.factory = options.factory ?? VARIANTS[options.variant ?? 'safe'];
    this.rates = { ...DEFAULT_RATES, ...options.rates };
    this.outsideActor = options.outsideActor ?? 'kubectl';
  }

  /** The configs in use: every slot's next one and every live incarnation's. */
  configsInUse(): ReplicaConfig[] {
    const configs = this.slots.map((slot) => slot.config);
    for (const inc of this.incarnations) if (inc.state === 'running' || inc.state === 'stopping') configs.push(inc.config);
    return configs;
  }

  /** Extremes of the configs in use, recomputed only when they may have changed (checked every step). */
  configExtremes(): { writtenLeaseMs: number; retryPeriodMs: number; holdMs: number } {
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
  get writtenLeaseMs(): number {
    return this.configExtremes().writtenLeaseMs;
  }

  get longestRetryPeriodMs(): number {
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
  get healthyWindowMs(): number {
    return this.writtenLeaseMs / (1 - MAX_CLOCK_DRIFT_RATE) + 2 * JITTER_FACTOR_PLUS_ONE * this.longestRetryPeriodMs + LATENCY_SLACK_MS;
  }

  /**
   * When the Lease goes missing (deleted, or absent at the start), electors that did not lead it
   * create it as a claim and lead only once the claim has stood for the longest lease duration a
   * peer may use (maxPeerLeaseDurationMs, 15 s by default): L1's quiet time starts only after that.
   * Noticing the deletion, the recreate grace and the poll after the claim: 3 x 2.2 R more.
   */
  get claimAllowanceMs(): number {
    // Every duration any replica ever used: a claim writes its hold into the Lease, and replicas
    // that saw it hold their own claims at least that long, whatever they are configured with now.
    const longestHold = Math.max(this.configExtremes().holdMs, this.longestHoldEverMs);
    return longestHold / (1 - MAX_CLOCK_DRIFT_RATE) + 3 * JITTER_FACTOR_PLUS_ONE * this.longestRetryPeriodMs;
  }

  /** The Lease is gone (deleted, or absent at the start): see {@link claimAllowanceMs}. */
  leaseWentMissing(): void {
    this.quietSinceMs = Math.max(this.quietSinceMs, this.clock.now() + this.claimAllowanceMs);
  }

  anyLeader(): boolean {
    for (const p of this.participants) if (p.state !== 'crashed' && p.isLeader()) return true;
    return false;
  }

  disturbBegin(): void {
    this.disturbances++;
  }

  disturbEnd(): void {
    this.disturbances = Math.max(0, this.disturbances - 1);
    this.disturbNow();
  }

  /**
   * Something happened: L1's quiet time starts again (never earlier than a pending claim
   * allowance). While the Lease is missing, nobody may have been able to claim it (a 403 episode,
   * a partition): the claim hold starts from now.
   */
  disturbNow(): void {
    this.quietSinceMs = Math.max(this.quietSinceMs, this.clock.now());
    if (!this.shuttingDown && !this.store.peek(NAMESPACE, LEASE_NAME)) this.leaseWentMissing();
  }

  at(delayMs: number, run: () => void): void {
    this.agenda.at(delayMs, run);
  }

  running(): Incarnation[] {
    return this.incarnations.filter((inc) => inc.state === 'running');
  }

  /** A running replica, the leader half of the time (faults at the leader are the dangerous ones). */
  pickTarget(options: { notSuspended?: boolean; watching?: boolean } = {}, draw: Draw = this.schedule): Incarnation | undefined {
    const candidates = this.running().filter(
      (inc) => !(options.notSuspended && inc.clock.suspended) && !(options.watching && inc.client.openStreams === 0),
    );
    if (candidates.length === 0) return undefined;
    const leader = candidates.find((inc) => inc.elector.isLeader());
    if (leader && draw.chance(0.5)) return leader;
    return draw.pick(candidates);
  }

  /** Like {@link pickTarget}, among every running process, client-go ones included (crash, partition). */
  pickAnyTarget(): Process | undefined {
    const candidates: Process[] = this.participants.filter((p) => p.state === 'running');
    if (candidates.length === 0) return undefined;
    const leader = candidates.find((p) => p.isLeader());
    if (leader && this.schedule.chance(0.5)) return leader;
    return this.schedule.pick(candidates);
  }
}

export function describe(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return String(value);
}
