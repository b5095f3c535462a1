/**
 * Pins the public API: what the root entry exports, values and types. A name added here is a
 * promise to users; a name removed is a breaking change (and a CHANGELOG entry). What sibling
 * packages need goes to ./internal instead.
 */
import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import * as root from './index.js';

const RUNTIME = [
  'ApiError',
  'ConfigError',
  'DEFAULT_HANDOVER_INTERVAL_MS',
  'DEFAULT_LEASE_DURATION_MS',
  'DEFAULT_MAX_CLOCK_DRIFT_RATE',
  'DEFAULT_RENEW_DEADLINE_MS',
  'DEFAULT_RETRY_PERIOD_MS',
  'Elector',
  'LeaseKitError',
  'MAX_SHARDS',
  'MEMBER_OF_LABEL',
  'Membership',
  'NetworkError',
  'RequestTimeoutError',
  'SHARD_SET_LABEL',
  'ShardedElector',
  'createKubeLeaseClient',
  'identityFromEnv',
  'isAlreadyExists',
  'isApiError',
  'isConflict',
  'isForbidden',
  'isNotFound',
  'isRequestTimeout',
  'memberOfLabelValue',
  'membershipLeaseName',
  'namespaceFromEnv',
  'shardLeaseName',
];

const TYPES_ONLY = [
  'ApiErrorReason',
  'CandidateSettings',
  'Clock',
  'ConfigErrorCode',
  'DeleteRequestOptions',
  'ElectorConfig',
  'ElectorObserver',
  'ElectorSnapshot',
  'FollowerStrategy',
  'KubeLeaseClientOptions',
  'KubeStatus',
  'LeaderCallbacks',
  'LeaderElectionRecord',
  'LeadershipTerm',
  'Lease',
  'LeaseCandidate',
  'LeaseCandidateClient',
  'LeaseCandidateSpec',
  'LeaseCandidateWatchEvent',
  'LeaseCandidateWatchOptions',
  'LeaseClient',
  'LeaseEventRecord',
  'LeaseLabels',
  'LeaseListResult',
  'LeaseSpec',
  'LeaseWatchEvent',
  'ListRequestOptions',
  'LogFields',
  'Logger',
  'MemberInfo',
  'MembershipConfig',
  'ObjectMeta',
  'Observation',
  'Random',
  'RequestInfo',
  'RequestOptions',
  'RequestPurpose',
  'ResignOptions',
  'ResolvedConfig',
  'SafeLogger',
  'SetWatchOptions',
  'ShardCallbacks',
  'ShardElectorOptions',
  'ShardedElectorConfig',
  'ShardedSnapshot',
  'StartedLeadingFailurePolicy',
  'StopReason',
  'StoppedLeadingInfo',
  'TimerHandle',
  'WatchOptions',
];

/** Every name the root entry exports, types included, as the TypeScript compiler sees it. */
function exportedNames(): string[] {
  const entry = fileURLToPath(new URL('./index.ts', import.meta.url));
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true, skipLibCheck: true });
  const checker = program.getTypeChecker();
  const symbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!);
  return checker.getExportsOfModule(symbol!).map((s) => s.getName());
}

describe('the public API of @leasekit/k8s-leaderelection', () => {
  it('exports exactly these runtime names', () => {
    expect(Object.keys(root).sort()).toEqual(RUNTIME);
  });

  it('exports exactly these names, types included', () => {
    expect(exportedNames().sort()).toEqual([...RUNTIME, ...TYPES_ONLY].sort());
  });
});
