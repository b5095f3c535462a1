/** The shapes of a sharded run: options and result, the shard invariants, replica slots and processes (ShardedElector incarnations). */
import type { ShardedElector } from '@leasekit/k8s-leaderelection';
import type { Histogram } from '../histogram.js';
import type { Participant } from '../invariants.js';
import type { ReplicaClock } from '../replica-clock.js';
import type { SimClient } from '../sim-client.js';
import type { ShardTiming } from './shard-bounds.js';
import type { ShardVariantName } from './shard-variants.js';

/**
 * S1: one holder per shard at any instant (isLeader(shard) or a live term signal); S2: a shard's
 * fencing tokens strictly increase across its terms; S3: a shard term ends before the lease its
 * own write counted from expires, on its own clock; BAL: fair share once membership is stable;
 * UNOWNED: a dead holder's shard is led again in time; B: request budget; R: hygiene.
 */
export const SHARD_INVARIANTS = ['S1', 'S2', 'S3', 'BAL', 'UNOWNED', 'B', 'R'] as const;
export type ShardInvariant = (typeof SHARD_INVARIANTS)[number];

/** Faults and membership events a sharded run injects. */
export const SHARD_FAULT_KINDS = [
  'api-episode',
  'latency-spike',
  'lost-response',
  'pause',
  'watch-stall',
  'watch-drop',
  'clock-rate-change',
  'crash',
  'graceful-restart',
  'leave',
  'join',
] as const;
export type ShardFaultKind = (typeof SHARD_FAULT_KINDS)[number];
export type ShardFaultCounts = Record<ShardFaultKind, number>;

export function emptyShardFaultCounts(): ShardFaultCounts {
  return Object.fromEntries(SHARD_FAULT_KINDS.map((k) => [k, 0])) as ShardFaultCounts;
}

export interface ShardSimOptions {
  readonly seed: number;
  /** Shards in the set (N). @default 8 */
  readonly shards?: number;
  /** Virtual minutes. @default 10 */
  readonly minutes?: number;
  /** Replica identities (processes) of the run, 2 to 8. @default 3 to 5, from the seed */
  readonly replicas?: number;
  /** @default 'safe' */
  readonly variant?: ShardVariantName;
  /** Receives every trace line (verbose mode). */
  readonly onTrace?: (line: string) => void;
  readonly verbose?: boolean;
}

export interface ShardViolation {
  readonly invariant: ShardInvariant;
  readonly atMs: number;
  readonly message: string;
  readonly trace: string[];
}

export interface ShardSimResult {
  readonly seed: number;
  readonly variant: string;
  readonly shards: number;
  readonly replicas: number;
  readonly virtualMs: number;
  readonly timing: ShardTiming;
  readonly faults: ShardFaultCounts;
  readonly violations: ShardViolation[];
  readonly violationCounts: Record<ShardInvariant, number>;
  /** Shard terms started (all shards). */
  readonly terms: number;
  readonly digest: string;
  readonly events: number;
  /** The derived bounds at the run's largest live M (see shard-bounds.ts). */
  readonly balanceBoundMs: number;
  readonly unownedBoundMs: number;
  /** Stable windows that reached the balance bound (BAL judged), and the longest time a judged window took to balance. */
  readonly balanceJudged: number;
  readonly longestBalanceMs: number;
  /** Back-offs seen (a replica starting to list a member as backed off), the longest unbroken one, and its bound (BAL). */
  readonly backoffs: number;
  readonly longestBackoffMs: number;
  readonly backoffBoundMs: number;
  /** Orphaned shards (holder crashed) judged by UNOWNED, and the longest time one stayed unled among those. */
  readonly orphansJudged: number;
  readonly longestUnownedMs: number;
  readonly requestsPerReplicaMinute: Histogram;
  /** The highest share of its budget one resource (a shard Lease, the membership, the set) used in a window (%). */
  readonly budgetPeakPercent: number;
}

export type ShardIncState = 'running' | 'stopping' | 'stopped' | 'crashed';

export interface ShardSlot {
  readonly id: string;
  driftRate: number;
  incarnations: number;
  current: ShardInc | undefined;
  /** A leave took it out: it comes back only through a join. */
  left: boolean;
  stalled: boolean;
  requestsThisMinute: number;
}

/** One shard term as user code holds it. */
export interface ShardTerm {
  readonly signal: AbortSignal;
  readonly token: number;
  readonly id: number;
}

export interface ShardInc {
  readonly key: string;
  readonly slot: ShardSlot;
  readonly clock: ReplicaClock;
  readonly client: SimClient;
  readonly sharded: ShardedElector;
  readonly controller: AbortController;
  state: ShardIncState;
  runSettled: boolean;
  /** Per shard: the current (or last) term handed to onStartedLeading. */
  readonly terms: (ShardTerm | undefined)[];
  /** Per shard: this process's view for that shard's invariant checker. */
  readonly participants: Participant[];
  /** Per shard: own-clock send time of its latest write whose answer (naming it) it handled (S3). */
  readonly ownWriteSentAt: number[];
  /** Per shard: a term already reported for S3. */
  readonly s3Reported: Set<number>;
  readonly timers: Set<unknown>;
}
