/**
 * @leasekit/controller-leaderelection: leader election for controllers, as events on an
 * eventemitter3 bus, prom-client metrics and a liveness check, over the pure
 * @leasekit/k8s-leaderelection elector. See the README for usage, events and metrics.
 */
export { LeaderElectionComponent } from './component.js';
export type { LeaderElectionSnapshot } from './component.js';
export type { LeaderElectionComponentConfig } from './config.js';
export { LEADER_ELECTION_EVENTS, createLeaderElectionBus } from './events.js';
export type {
  BecameLeaderEvent,
  LeaderElectionBus,
  LeaderElectionEventName,
  LeaderElectionEventPayload,
  LeaderElectionEvents,
  LeaderElectionStartedEvent,
  LeaderEventBase,
  LostLeadershipEvent,
  NewLeaderObservedEvent,
} from './events.js';
export { DEFAULT_HEALTH_TOLERANCE_MS, createHealthHandler } from './health.js';
export type { HealthCheckable, HealthHandler, HealthHandlerOptions } from './health.js';
export { DEFAULT_METRICS_PREFIX } from './metrics.js';
export { ShardedLeaderElectionComponent } from './sharded-component.js';
export type { ShardedLeaderElectionComponentConfig } from './sharded-config.js';
export { SHARDED_LEADER_ELECTION_EVENTS, createShardedLeaderElectionBus } from './sharded-events.js';
export type {
  ShardAcquiredEvent,
  ShardLostEvent,
  ShardedLeaderElectionBus,
  ShardedLeaderElectionEventName,
  ShardedLeaderElectionEventPayload,
  ShardedLeaderElectionEvents,
  ShardsChangedEvent,
} from './sharded-events.js';
export { STANDALONE_IDENTITY } from './standalone.js';
// The pure package's types that appear in this package's signatures, for one-import use.
export type {
  ElectorConfig,
  ElectorObserver,
  LeaderCallbacks,
  LeadershipTerm,
  Logger,
  ResignOptions,
  ShardCallbacks,
  ShardElectorOptions,
  ShardedElectorConfig,
  ShardedSnapshot,
  StartedLeadingFailurePolicy,
  StopReason,
  StoppedLeadingInfo,
} from '@leasekit/k8s-leaderelection';
