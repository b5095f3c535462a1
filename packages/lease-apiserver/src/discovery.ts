/**
 * The discovery documents kubectl and client-go read before they touch a resource. Served as
 * plain `application/json` (the legacy, unaggregated discovery), which every client accepts.
 */
import type { DiscoveryDocument } from './routes.js';

/** The Kubernetes version reported on `/version`. */
export interface KubernetesVersion {
  /** @default '1' */
  readonly major: string;
  /**
   * The kubectl dispatcher picks the kubectl binary matching the server's minor, so report a
   * current one. @default '32'
   */
  readonly minor: string;
}

/** Verbs served for Leases: all of them. */
export const LEASE_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] as const;
/** Verbs served for LeaseCandidates (coordination.k8s.io/v1beta1): all of them. */
export const CANDIDATE_VERBS = LEASE_VERBS;
/** Verbs served for Events: enough to record them and to read them back with kubectl. */
export const EVENT_VERBS = ['create', 'delete', 'get', 'list', 'patch'] as const;

const COORDINATION_V1 = { groupVersion: 'coordination.k8s.io/v1', version: 'v1' };
const COORDINATION_V1BETA1 = { groupVersion: 'coordination.k8s.io/v1beta1', version: 'v1beta1' };
/** Both versions of the group, preferred first (v1 stays preferred, as on a real server). */
const COORDINATION_VERSIONS = [COORDINATION_V1, COORDINATION_V1BETA1];

/** Builds one discovery document. `serverAddress` is host:port as clients reach the server. */
export function discoveryDocument(document: DiscoveryDocument, version: KubernetesVersion, serverAddress: string): unknown {
  switch (document) {
    case 'version':
      return {
        major: version.major,
        minor: version.minor,
        gitVersion: `v${version.major}.${version.minor}.0`,
        // Not a Kubernetes build: say what answers instead of inventing a commit.
        gitCommit: '@leasekit/lease-apiserver',
        gitTreeState: 'clean',
        buildDate: '1970-01-01T00:00:00Z',
        goVersion: `node ${process.version}`,
        compiler: 'gc',
        platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
      };
    case 'api':
      return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
    case 'apiV1':
      return {
        kind: 'APIResourceList',
        groupVersion: 'v1',
        resources: [{ name: 'events', singularName: 'event', namespaced: true, kind: 'Event', verbs: [...EVENT_VERBS], shortNames: ['ev'] }],
      };
    case 'apis':
      return {
        kind: 'APIGroupList',
        apiVersion: 'v1',
        groups: [{ name: 'coordination.k8s.io', versions: COORDINATION_VERSIONS, preferredVersion: COORDINATION_V1 }],
      };
    case 'coordinationGroup':
      return { kind: 'APIGroup', apiVersion: 'v1', name: 'coordination.k8s.io', versions: COORDINATION_VERSIONS, preferredVersion: COORDINATION_V1 };
    case 'coordinationV1':
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'coordination.k8s.io/v1',
        resources: [{ name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: [...LEASE_VERBS] }],
      };
    case 'coordinationV1beta1':
      return {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: 'coordination.k8s.io/v1beta1',
        resources: [{ name: 'leasecandidates', singularName: 'leasecandidate', namespaced: true, kind: 'LeaseCandidate', verbs: [...CANDIDATE_VERBS] }],
      };
  }
}
