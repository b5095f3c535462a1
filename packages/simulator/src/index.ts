/**
 * @leasekit/simulator: a deterministic simulator for @leasekit/k8s-leaderelection. Several real
 * electors run against the in-memory Lease store in virtual time, driven by one seed, while
 * faults are injected and invariants are checked. See the README.
 */
export { runSimulation, TIMINGS, MAX_CLOCK_DRIFT_RATE, LEASE_NAME, NAMESPACE } from './simulation.js';
export type { SimOptions, SimResult, Timing } from './simulation.js';
export { runSweep, addResult, mergeSummaries, emptySummary, formatSummary, formatViolation, summaryJson, totalViolations, MAX_FAILED_SEEDS } from './sweep.js';
export type { FailedSeed, SweepOptions, SweepSummary } from './sweep.js';
export { INVARIANTS, InvariantChecker } from './invariants.js';
export type { Invariant, Participant, Violation } from './invariants.js';
export { DEFAULT_RATES, FAULT_KINDS, emptyFaultCounts } from './faults.js';
export type { FaultCounts, FaultKind, FaultRates, OutsideActor, ScheduledFault } from './faults.js';
export { ReplicaClock } from './replica-clock.js';
export type { ReplicaClockOptions } from './replica-clock.js';
export { SimClient } from './sim-client.js';
export type { SimClientOptions } from './sim-client.js';
export { IgnoresRenewDeadlineElector, ReleasesWithoutCheckElector, TrustsServerRenewTimeElector, UNSAFE_VARIANTS, VARIANTS, isVariantName } from './variants.js';
export type { ElectorFactory, VariantName } from './variants.js';
export { Draw, deriveRandom, fnv1a } from './rng.js';
export { Trace, TRACE_RING_SIZE, formatTime } from './trace.js';
