/** The shapes a run is made of: options and result, replica slots, processes (elector incarnations and client-go ones), episodes. */
import type { Elector, LeadershipTerm } from '@leasekit/k8s-leaderelection';
import type { FaultCounts, FaultKind, FaultRates, OutsideActor } from './faults.js';
import type { GoReplica, GoExpiry } from './go-replica.js';
import type { Histogram } from './histogram.js';
import type { Invariant, Participant, Violation } from './invariants.js';
import type { ReplicaClock } from './replica-clock.js';
import type { ReplicaConfig } from './rollout.js';
import type { SimClient } from './sim-client.js';
import type { Timing } from './timings.js';
import type { ElectorFactory, VariantName } from './variants.js';
import type { WallClockFaults } from './wall-clock.js';

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
  /**
   * Which electors: 'auto' (in runs without client-go, {@link LEASEKIT_ONLY_SEED_SHARE} of seeds
   * are leasekit-only), 'leasekit-only' (every elector with `clientGoFollowers: false`, unless a
   * client-go replica runs), or 'default' (`clientGoFollowers` left at true). @default 'auto'
   */
  readonly fleet?: 'auto' | 'leasekit-only' | 'default';
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
  /** Whether every elector ran with `clientGoFollowers: false` (no client-go replica). */
  readonly leasekitOnly: boolean;
  /** Requests (GET, POST, PUT, watch opens) each elector replica sent per full virtual minute. */
  readonly requestsPerReplicaMinute: Histogram;
  /** The most API requests one process sent in one budget window, as a share of its budget (%). */
  readonly budgetPeakPercent: number;
  /** Times leader user code ran, and times it saw a live signal past its guarantee (term.isValid() false). */
  readonly userWorkRuns: number;
  readonly staleSignalsSeen: number;
}

export type IncarnationState = 'running' | 'stopping' | 'stopped' | 'crashed';

export interface Slot {
  readonly id: string;
  /** An elector replica, or the client-go model. */
  readonly kind: 'leasekit' | 'go';
  readonly followerStrategy: 'watch' | 'poll';
  readonly wallSkewMs: number;
  /** The machine's wall-clock faults (stand still, step back): every incarnation's wallNow() reads through them. */
  readonly wallClock: WallClockFaults;
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

export interface Leadership {
  readonly id: number;
  readonly signal: AbortSignal;
  readonly term: LeadershipTerm;
}

export interface Incarnation extends Participant {
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

export interface GoIncarnation extends Participant {
  readonly kind: 'go';
  readonly slot: Slot;
  readonly clock: ReplicaClock;
  readonly client: SimClient;
  readonly replica: GoReplica;
  readonly controller: AbortController;
  state: IncarnationState;
  runSettled: boolean;
}

export type Process = Incarnation | GoIncarnation;

/** A term's user code reads isValid() only where the term offers it (older electors do not). */
export type MaybeValidTerm = Omit<LeadershipTerm, 'isValid'> & { isValid?: () => boolean };

export interface ApiEpisode {
  readonly target: Slot | undefined;
  readonly probability: number;
  readonly kinds: readonly (readonly [ApiFaultKind, number])[];
}

/** Faults of an API episode (403s have their own episodes). */
export type ApiFaultKind = Exclude<Extract<FaultKind, `api-${string}`>, 'api-403-forbidden'>;

