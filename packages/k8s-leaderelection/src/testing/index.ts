/**
 * @leasekit/k8s-leaderelection/testing: test leader-only logic without a cluster.
 * A fake clock, a seeded random source, the in-memory Lease store (the same one behind the
 * embedded API server: compare-and-swap, validation, watch, label selectors), the in-memory
 * LeaseCandidate store (coordination.k8s.io/v1beta1, same rules), and a LeaseClient
 * over it with injectable latency and failures. What only kubectl needs (patch formats, paging,
 * Event objects) lives in @leasekit/lease-apiserver.
 */
export { FakeClock, settle } from './fake-clock.js';
export type { FakeClockOptions } from './fake-clock.js';
export { LeaseStore, LEASE_STRATEGIES, leaseErrors } from './lease-store.js';
export type {
  DeleteOptions,
  GetOptions,
  LeaseList,
  LeaseStoreOptions,
  ListOptions,
  UpdateOptions,
  WatchFilter,
  WatchHandle,
  WatchListener,
  WriteResult,
} from './lease-store.js';
export {
  CandidateStore,
  CANDIDATE_API_VERSION,
  CANDIDATE_STRATEGIES,
  candidateErrors,
  candidatesFor,
  compareSemver,
  parseSemver,
  parseSemverTolerant,
} from './candidate-store.js';
export type {
  CandidateList,
  CandidateStoreOptions,
  CandidateWatchEvent,
  CandidateWatchListener,
  CandidateWriteResult,
  DeleteCollectionOptions,
  Semver,
} from './candidate-store.js';
export { parseLabelSelector } from './label-selector.js';
export type { LabelRequirement, LabelSelector, LabelSet, SelectorOperator } from './label-selector.js';
export { MemoryLeaseClient } from './memory-lease-client.js';
export type { Fault, MemoryCall, MemoryLeaseClientOptions, MemoryVerb } from './memory-lease-client.js';
export { seededRandom } from '../random.js';
export type { LeaseCandidate, LeaseCandidateSpec } from '../lease.js';
