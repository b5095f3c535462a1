/**
 * @leasekit/k8s-leaderelection: leader election over coordination.k8s.io/v1 Leases.
 * Pure: no event bus, no metrics library. See the README for a runnable example.
 */
export { Elector } from './elector.js';
export type { ElectorSnapshot, LeaderCallbacks, LeadershipTerm, Observation, ResignOptions, StoppedLeadingInfo } from './elector.js';
export {
  DEFAULT_LEASE_DURATION_MS,
  DEFAULT_MAX_CLOCK_DRIFT_RATE,
  DEFAULT_RENEW_DEADLINE_MS,
  DEFAULT_RETRY_PERIOD_MS,
  JITTER_FACTOR,
  isDnsLabel,
  isDnsSubdomain,
  resolveConfig,
} from './config.js';
export type { ElectorConfig, FollowerStrategy, ResolvedConfig, StartedLeadingFailurePolicy } from './config.js';
export { identityFromEnv, namespaceFromEnv, SERVICE_ACCOUNT_NAMESPACE_FILE } from './env.js';
export {
  ApiError,
  ConfigError,
  LeaseKitError,
  NetworkError,
  RequestTimeoutError,
  describeError,
  isAlreadyExists,
  isApiError,
  isConflict,
  isForbidden,
  isNotFound,
  isRequestTimeout,
  makeStatus,
} from './errors.js';
export type { ApiErrorReason, ConfigErrorCode, KubeStatus } from './errors.js';
export { KubeLeaseClient, createKubeLeaseClient, isKubeConfig, mapClientError } from './lease-lock.js';
export type { KubeLeaseClientOptions } from './lease-lock.js';
export type { Lease, LeaseClient, LeaseEventRecord, LeaseSpec, LeaseWatchEvent, ObjectMeta, RequestOptions, WatchOptions } from './lease.js';
export { defaultLogger, silentLogger, toSafeLogger } from './logger.js';
export type { LogFields, Logger, SafeLogger } from './logger.js';
export type { ElectorObserver, RequestInfo, RequestPurpose, StopReason } from './observer.js';
export { formatMicroTime, isStrictMicroTime, leaseWithRecord, parseMicroTime, recordFromLease, sameForGoFollower, specFromRecord, MAX_INT32 } from './record.js';
export type { LeaderElectionRecord, ParsedRecord } from './record.js';
export { MAX_TIMER_DELAY_MS, sleep, systemClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { seededRandom, systemRandom } from './random.js';
export type { Random } from './random.js';
