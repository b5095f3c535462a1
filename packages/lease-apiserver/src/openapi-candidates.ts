/**
 * The OpenAPI v3 document for coordination.k8s.io/v1beta1 (LeaseCandidates), built from the same
 * pieces as the v1 one: `kubectl create -f` and `kubectl apply -f` of a LeaseCandidate download
 * it first. Descriptions are our own.
 */
import { LIST_PARAMS, META_SCHEMAS, NAMESPACE, operation, PATCH_PARAMS, PATCH_TYPES, pathParam, query, ref, serialize, STATUS, WRITE_PARAMS, type SerializedDocument } from './openapi.js';

const GVK = { group: 'coordination.k8s.io', version: 'v1beta1', kind: 'LeaseCandidate' };
const LIST_GVK = { ...GVK, kind: 'LeaseCandidateList' };
const CANDIDATE = ref('io.k8s.api.coordination.v1beta1.LeaseCandidate');
const CANDIDATE_LIST = ref('io.k8s.api.coordination.v1beta1.LeaseCandidateList');
const NAME = pathParam('name', 'The name of the LeaseCandidate.');
const BASE = '/apis/coordination.k8s.io/v1beta1';

/** The coordination.k8s.io/v1beta1 OpenAPI v3 document. */
export const COORDINATION_V1BETA1_OPENAPI = {
  openapi: '3.0.0',
  info: { title: 'Kubernetes (lease-apiserver)', version: 'v1.33.0' },
  paths: {
    [`${BASE}/leasecandidates`]: {
      get: operation('listCoordinationV1beta1LeaseCandidateForAllNamespaces', 'list', GVK, LIST_PARAMS, CANDIDATE_LIST),
    },
    [`${BASE}/namespaces/{namespace}/leasecandidates`]: {
      parameters: [NAMESPACE],
      get: operation('listCoordinationV1beta1NamespacedLeaseCandidate', 'list', GVK, LIST_PARAMS, CANDIDATE_LIST),
      post: operation('createCoordinationV1beta1NamespacedLeaseCandidate', 'post', GVK, WRITE_PARAMS, CANDIDATE, ['*/*']),
      delete: operation('deleteCoordinationV1beta1CollectionNamespacedLeaseCandidate', 'deletecollection', GVK, [query('labelSelector', 'Only candidates with these labels.')], STATUS),
    },
    [`${BASE}/namespaces/{namespace}/leasecandidates/{name}`]: {
      parameters: [NAMESPACE, NAME],
      get: operation('readCoordinationV1beta1NamespacedLeaseCandidate', 'get', GVK, [], CANDIDATE),
      put: operation('replaceCoordinationV1beta1NamespacedLeaseCandidate', 'put', GVK, WRITE_PARAMS, CANDIDATE, ['*/*']),
      patch: operation('patchCoordinationV1beta1NamespacedLeaseCandidate', 'patch', GVK, PATCH_PARAMS, CANDIDATE, PATCH_TYPES),
      delete: operation('deleteCoordinationV1beta1NamespacedLeaseCandidate', 'delete', GVK, [], STATUS),
    },
  },
  components: {
    schemas: {
      'io.k8s.api.coordination.v1beta1.LeaseCandidate': {
        description: 'A candidate for a Lease in coordinated leader election: one per candidate and Lease.',
        type: 'object',
        properties: {
          apiVersion: { description: 'The versioned schema of this object: coordination.k8s.io/v1beta1.', type: 'string' },
          kind: { description: 'The kind of this object: LeaseCandidate.', type: 'string' },
          metadata: { description: "Standard object's metadata.", allOf: [ref('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')], default: {} },
          spec: { description: 'The specification of the candidate.', allOf: [ref('io.k8s.api.coordination.v1beta1.LeaseCandidateSpec')], default: {} },
        },
        'x-kubernetes-group-version-kind': [GVK],
      },
      'io.k8s.api.coordination.v1beta1.LeaseCandidateSpec': {
        description: 'What a candidate offers: the Lease it runs for, its versions and the strategy it asks for.',
        type: 'object',
        required: ['leaseName', 'binaryVersion', 'strategy'],
        properties: {
          binaryVersion: { description: 'The binary version of the candidate (semver without a leading v).', type: 'string', default: '' },
          emulationVersion: { description: 'The emulation version (semver); required with OldestEmulationVersion, at most binaryVersion.', type: 'string' },
          leaseName: { description: 'The Lease (same namespace) this candidate runs for; immutable.', type: 'string', default: '' },
          pingTime: { description: 'When the coordinator last asked the candidate to renew (MicroTime).', type: 'string', format: 'date-time' },
          renewTime: { description: 'When the candidate last renewed this object (MicroTime).', type: 'string', format: 'date-time' },
          strategy: { description: 'The strategy the coordinator should use for the Lease (OldestEmulationVersion).', type: 'string', default: '' },
        },
      },
      'io.k8s.api.coordination.v1beta1.LeaseCandidateList': {
        description: 'A list of LeaseCandidate objects.',
        type: 'object',
        required: ['items'],
        properties: {
          apiVersion: { type: 'string' },
          items: { type: 'array', items: { allOf: [CANDIDATE], default: {} } },
          kind: { type: 'string' },
          metadata: { allOf: [ref('io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta')], default: {} },
        },
        'x-kubernetes-group-version-kind': [LIST_GVK],
      },
      ...META_SCHEMAS,
    },
  },
};

/** The serialized document, and where `/openapi/v3` says it lives. */
export const V1BETA1_DOCUMENT: SerializedDocument = serialize(COORDINATION_V1BETA1_OPENAPI);
export const V1BETA1_INDEX_PATH = 'apis/coordination.k8s.io/v1beta1';
