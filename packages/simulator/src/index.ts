/**
 * @leasekit/simulator: a deterministic simulator for @leasekit/k8s-leaderelection. Several real
 * electors run against the in-memory Lease store in virtual time, driven by one seed, while
 * faults are injected and invariants are checked. See the README.
 */
export { runSimulation, TIMINGS, ROLLOUT_TIMINGS, GO_TIMINGS, CLIENT_GO_SEED_SHARE, MAX_CLOCK_DRIFT_RATE, LEASE_NAME, NAMESPACE } from './simulation.js';
export type { SimOptions, SimResult, Timing } from './simulation.js';
export { runSweep, addResult, mergeSummaries, emptySummary, formatSummary, formatViolation, summaryJson, totalViolations, MAX_FAILED_SEEDS } from './sweep.js';
export type { FailedSeed, SweepOptions, SweepSummary } from './sweep.js';
export { INVARIANTS, InvariantChecker, leadershipVisible } from './invariants.js';
export type { Invariant, Participant, TermStart, UserView, Violation } from './invariants.js';
export { clientGoBudget, SlidingWindow, BUDGET_WINDOW_RETRY_PERIODS } from './budget.js';
export type { RequestBudget } from './budget.js';
export { GoReplica, rawRecord } from './go-replica.js';
export type { GoExpiry, GoReplicaOptions } from './go-replica.js';
export { percentile, maxSample, mergeHistograms, sampleCount } from './histogram.js';
export type { Histogram } from './histogram.js';
export { planRollout, effectiveMaxPeer, DEFAULT_MAX_PEER_FLOOR_MS } from './rollout.js';
export type { ReplicaConfig, RolloutStep } from './rollout.js';
export { DEFAULT_RATES, FAULT_KINDS, emptyFaultCounts } from './faults.js';
export type { FaultCounts, FaultKind, FaultRates, OutsideActor, ScheduledFault } from './faults.js';
export { ReplicaClock } from './replica-clock.js';
export type { ReplicaClockOptions } from './replica-clock.js';
export { SimClient } from './sim-client.js';
export type { SentVerb, SimClientOptions } from './sim-client.js';
export { UNSAFE_VARIANTS, VARIANTS, isVariantName } from './variants.js';
export type { ElectorFactory, VariantName } from './variants.js';
export { Draw, deriveRandom, fnv1a } from './rng.js';
export { Trace, TRACE_RING_SIZE, formatTime } from './trace.js';
export { runShardSimulation } from './shards/shard-simulation.js';
export { runShardSweep, formatShardSummary, shardSummaryJson, totalShardViolations } from './shards/shard-sweep.js';
export type { ShardSweepOptions, ShardSweepSummary } from './shards/shard-sweep.js';
export { SHARD_INVARIANTS, SHARD_FAULT_KINDS } from './shards/shard-types.js';
export type { ShardInvariant, ShardSimOptions, ShardSimResult, ShardViolation } from './shards/shard-types.js';
export { SHARD_TIMINGS, balanceBoundMs, unownedBoundMs, shardBudget } from './shards/shard-bounds.js';
export type { ShardTiming, ShardBudget } from './shards/shard-bounds.js';
export { SHARD_VARIANTS, isShardVariantName } from './shards/shard-variants.js';
export type { ShardVariantName, ShardedFactory } from './shards/shard-variants.js';
