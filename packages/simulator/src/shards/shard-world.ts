/** A sharded run's shared state: clock, store, draws, slots, per-shard invariant checkers, fault episodes, the quiet and live-set bookkeeping the checks read. */
import { FakeClock, LeaseStore } from '@leasekit/k8s-leaderelection/testing';
import { Agenda } from '../agenda.js';
import type { Histogram } from '../histogram.js';
import { InvariantChecker, type Participant } from '../invariants.js';
import { Draw, deriveRandom } from '../rng.js';
import type { ApiFaultKind } from '../sim-types.js';
import { Trace } from '../trace.js';
import { SHARD_TIMINGS, type ShardTiming } from './shard-bounds.js';
import { emptyShardFaultCounts, type ShardInc, type ShardInvariant, type ShardSimOptions, type ShardSlot, type ShardViolation } from './shard-types.js';
import { SHARD_VARIANTS, type ShardedFactory } from './shard-variants.js';

export const SHARD_NAMESPACE = 'default';
export const SET_NAME = 'sim-set';

/** A window of failing API calls: for everyone (undefined) or one slot, with a failure probability, of one error kind or any (and maybe lost write answers). */
export interface ApiEpisode {
  readonly target: ShardSlot | undefined;
  readonly probability: number;
  readonly kinds: readonly (readonly [ApiFaultKind, number])[];
  readonly lostResponses: boolean;
}

/** A shard whose holder crashed while leading it, waiting to be led again (UNOWNED). */
export interface Orphan {
  readonly shard: number;
  readonly holder: string;
  readonly sinceMs: number;
  /** A fault went on at some point since the crash (it is then judged from the last one's end, and left out of the figures). */
  disturbed: boolean;
}

export class ShardWorld {
  readonly seed: number;
  readonly shards: number;
  readonly endMs: number;
  readonly clock = new FakeClock({ startMs: 0 });
  readonly store = new LeaseStore({ clock: this.clock, historyLimit: 200 });
  readonly trace: Trace;
  readonly setup: Draw;
  readonly schedule: Draw;
  readonly callFaults: Draw;
  readonly latency: Draw;
  readonly timing: ShardTiming;
  readonly factory: ShardedFactory;
  readonly faults = emptyShardFaultCounts();
  readonly slots: ShardSlot[] = [];
  readonly incarnations: ShardInc[] = [];
  /** Per shard: the checker that judges S1 and S2 on that shard's participants (InvariantChecker, reused as is). */
  readonly checkers: InvariantChecker[];
  /** Per shard: every incarnation's participant for it. */
  readonly participants: Participant[][];
  /** Violations found by this run's own checks (S3, BAL, UNOWNED, B, R). */
  readonly own: ShardViolation[] = [];
  readonly agenda = new Agenda(() => this.clock.now());
  /** API failure episodes: everyone (undefined) or one slot, with a failure probability. */
  readonly apiEpisodes = new Set<ApiEpisode>();
  latencySpike: { minMs: number; maxMs: number } | undefined;
  /** Storm: faults of every kind are injected; calm: only crashes, restarts, joins and leaves. */
  storm = false;
  disturbances = 0;
  quietSinceMs = 0;
  /** When the set of live (running, not paused) replicas last changed. */
  liveChangedAtMs = 0;
  liveKey = '';
  readonly orphans: Orphan[] = [];
  /** Figures for the report. */
  balanceJudged = 0;
  longestBalanceMs = 0;
  balanceReportedFor = -1;
  balancedFor = -1;
  balanceJudgedFor = -1;
  orphansJudged = 0;
  longestUnownedMs = 0;
  /** The last time a running replica listed a live member as backed off (BAL is judged from after it). */
  backoffSeenAtMs = 0;
  /** "replica-incarnation member" -> since when that replica has listed that member as backed off without a break. */
  readonly backoffSince = new Map<string, number>();
  readonly backoffReported = new Set<string>();
  /** Back-offs seen (a replica starting to list a member), and the longest unbroken one. */
  backoffs = 0;
  longestBackoffMs = 0;
  maxLive = 0;
  shuttingDown = false;
  stepsAtSameTime = 0;
  livelocked = false;
  statsMinute = 0;
  readonly requestsPerReplicaMinute: Histogram = {};
  budgetPeakPercent = 0;
  readonly unhandled: unknown[] = [];

  constructor(readonly options: ShardSimOptions) {
    this.seed = options.seed;
    this.shards = options.shards ?? 8;
    this.endMs = Math.round((options.minutes ?? 10) * 60_000);
    this.trace = new Trace(() => this.clock.now(), options.onTrace);
    this.setup = new Draw(deriveRandom(this.seed, 'shard-setup'));
    this.schedule = new Draw(deriveRandom(this.seed, 'shard-schedule'));
    this.callFaults = new Draw(deriveRandom(this.seed, 'shard-call-faults'));
    this.latency = new Draw(deriveRandom(this.seed, 'shard-latency'));
    this.timing = this.setup.pick(SHARD_TIMINGS);
    this.factory = SHARD_VARIANTS[options.variant ?? 'safe'];
    this.checkers = Array.from({ length: this.shards }, () => new InvariantChecker(this.trace, () => this.clock.now()));
    this.participants = Array.from({ length: this.shards }, () => []);
  }

  report(invariant: ShardInvariant, message: string): void {
    this.trace.add(`VIOLATION ${invariant}: ${message}`);
    this.own.push({ invariant, atMs: this.clock.now(), message, trace: this.trace.recent() });
  }

  at(delayMs: number, run: () => void): void {
    this.agenda.at(delayMs, run);
  }

  running(): ShardInc[] {
    return this.incarnations.filter((inc) => inc.state === 'running');
  }

  /** Running and able to act: the replicas the balance counts (M). */
  live(): ShardInc[] {
    return this.incarnations.filter((inc) => inc.state === 'running' && !inc.clock.suspended);
  }

  disturbBegin(): void {
    this.disturbances++;
  }

  disturbEnd(): void {
    this.disturbances = Math.max(0, this.disturbances - 1);
    this.disturbNow();
  }

  disturbNow(): void {
    this.quietSinceMs = Math.max(this.quietSinceMs, this.clock.now());
  }

  /** Re-derives the live set; a change restarts the balance window. */
  liveMaybeChanged(): void {
    const live = this.live();
    const key = live.map((inc) => inc.slot.id).sort().join(',');
    this.maxLive = Math.max(this.maxLive, live.length);
    if (key === this.liveKey) return;
    this.liveKey = key;
    this.liveChangedAtMs = this.clock.now();
  }

  /** Since when both the live set and the fault mix have been quiet. */
  get stableSinceMs(): number {
    return Math.max(this.quietSinceMs, this.liveChangedAtMs);
  }
}
