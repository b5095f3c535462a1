/**
 * @leasekit/lease-apiserver: a real HTTP Kubernetes Lease API without a cluster, for demos,
 * integration tests and benchmarks. See the README for what is and is not implemented.
 */
export { startLeaseApiServer } from './server.js';
export type { LeaseApiServer, LeaseApiServerOptions, RequestRecord } from './server.js';
export { Coordinator } from './coordinator.js';
export type { CoordinatorCounts, CoordinatorOptions, CoordinatorTimings } from './coordinator.js';
export { Faults } from './faults.js';
export type {
  ActivePartition,
  CutMode,
  DropResponseFault,
  Duration,
  ErrorFault,
  FaultDescription,
  FaultHandle,
  FaultPlan,
  FaultRequest,
  FaultScope,
  FaultTarget,
  FaultsOptions,
  HangFault,
  LatencyFault,
  LossMode,
  PartitionFault,
  WatchCutOptions,
  WatchLifetime,
} from './faults.js';
export { matchesClient } from './client-matcher.js';
export type { ClientInfo, ClientMatcher } from './client-matcher.js';
export { RequestCounters } from './counters.js';
export type { VerbCounts } from './counters.js';
export { kubeConfigFor, kubeconfigYaml } from './kubeconfig.js';
export type { KubeConfigOptions } from './kubeconfig.js';
export type { KubernetesVersion } from './discovery.js';
export { isLoopbackHost } from './host.js';
export { humanDuration } from './table.js';
export { RESOURCES, VERBS, WRITE_VERBS, isVerb } from './verbs.js';
export type { ResourceName, Verb } from './verbs.js';
