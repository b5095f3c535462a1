/**
 * @leasekit/k8s-leaderelection: leader election over coordination.k8s.io/v1 Leases.
 * Pure: no event bus, no metrics library. See the README for a runnable example.
 *
 * The public API: the Elector and its types, configuration defaults and types, the environment
 * helpers, the errors and their guards, the LeaseClient interface, the client-node client factory
 * and the logger types. The testing kit is `./testing`; what the other leasekit packages share
 * with this one is `./internal`, which is not public API.
 */
export { Elector } from './elector.js';
export type { ElectorSnapshot, LeaderCallbacks, LeadershipTerm, Observation, ResignOptions, StoppedLeadingInfo } from './elector.js';
export { DEFAULT_LEASE_DURATION_MS, DEFAULT_MAX_CLOCK_DRIFT_RATE, DEFAULT_RENEW_DEADLINE_MS, DEFAULT_RETRY_PERIOD_MS } from './config.js';
export type { LeaseLabels } from './labels.js';
export type { CandidateSettings, ElectorConfig, FollowerStrategy, ResolvedConfig, StartedLeadingFailurePolicy } from './config.js';
export { identityFromEnv, namespaceFromEnv } from './env.js';
export {
  ApiError,
  ConfigError,
  LeaseKitError,
  NetworkError,
  RequestTimeoutError,
  isAlreadyExists,
  isApiError,
  isConflict,
  isForbidden,
  isNotFound,
  isRequestTimeout,
} from './errors.js';
export type { ApiErrorReason, ConfigErrorCode, KubeStatus } from './errors.js';
export { createKubeLeaseClient } from './lease-lock.js';
export type { KubeLeaseClientOptions } from './lease-lock.js';
export type { Lease, LeaseClient, LeaseEventRecord, LeaseSpec, LeaseWatchEvent, ObjectMeta, RequestOptions, WatchOptions } from './lease.js';
export type { DeleteRequestOptions, LeaseListResult, ListRequestOptions } from './lease.js';
export type { LeaseCandidate, LeaseCandidateSpec, LeaseCandidateWatchEvent, LeaseCandidateWatchOptions, SetWatchOptions } from './lease.js';
export type { LeaseCandidateClient } from './candidate.js';
export { MEMBER_OF_LABEL, Membership, memberOfLabelValue, membershipLeaseName } from './membership.js';
export type { MemberInfo, MembershipConfig } from './membership.js';
export { DEFAULT_HANDOVER_INTERVAL_MS, MAX_SHARDS, SHARD_SET_LABEL, ShardedElector, shardLeaseName } from './sharding/sharded-elector.js';
export type { ShardCallbacks, ShardElectorOptions, ShardedElectorConfig, ShardedSnapshot } from './sharding/sharded-elector.js';
export type { LogFields, Logger, SafeLogger } from './logger.js';
export type { ElectorObserver, RequestInfo, RequestPurpose, StopReason } from './observer.js';
export type { LeaderElectionRecord } from './record.js';
export type { Clock, TimerHandle } from './clock.js';
export type { Random } from './random.js';
