/**
 * A small OpenAPI v3 document for coordination.k8s.io/v1. kubectl needs it before it writes:
 * `kubectl apply` and `kubectl create` look up whether the server validates fields itself
 * (the `fieldValidation` parameter on the PATCH operation of the kind) and refuse to go on when
 * no OpenAPI can be downloaded. `kubectl explain lease` reads the schemas. Descriptions are our own.
 */
import { createHash } from 'node:crypto';

const GVK = { group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' };
const LIST_GVK = { ...GVK, kind: 'LeaseList' };
export const ref = (name: string): { $ref: string } => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object): object => ({ content: { 'application/json': { schema } } });
export const query = (name: string, description: string): object => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
export const pathParam = (name: string, description: string): object => ({ name, in: 'path', required: true, description, schema: { type: 'string', uniqueItems: true } });

export const WRITE_PARAMS = [
  query('fieldManager', 'Name of the actor making the change (required for server-side apply).'),
  query('fieldValidation', 'How to treat unknown fields in the body: Ignore, Warn (the default) or Strict.'),
];
export const LIST_PARAMS = [
  query('continue', 'Token from a previous page of a paged list.'),
  query('fieldSelector', 'Only metadata.name and metadata.namespace, with = or ==.'),
  { name: 'limit', in: 'query', description: 'Largest number of items in one page.', schema: { type: 'integer', uniqueItems: true } },
  query('resourceVersion', 'For a watch: the version to resume after.'),
  { name: 'timeoutSeconds', in: 'query', description: 'End a watch after this many seconds.', schema: { type: 'integer', uniqueItems: true } },
  { name: 'watch', in: 'query', description: 'Stream changes instead of listing.', schema: { type: 'boolean', uniqueItems: true } },
];

/** One operation on a coordination.k8s.io kind (`gvk`: its group, version and kind). */
export function operation(id: string, action: string, gvk: { version: string; kind: string }, parameters: object[], response: object, requestTypes?: string[]): object {
  const kind = gvk.kind.replace(/List$/, '');
  const body = ref(`io.k8s.api.coordination.${gvk.version}.${kind}`);
  return {
    description: `${action} ${kind}`,
    operationId: id,
    parameters,
    ...(requestTypes ? { requestBody: { content: Object.fromEntries(requestTypes.map((t) => [t, { schema: t.includes('patch') ? ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') : body }])), required: true } } : {}),
    responses: { '200': { description: 'OK', ...json(response) }, '401': { description: 'Unauthorized' } },
    tags: [`coordination_${gvk.version}`],
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
  };
}

export const STATUS = ref('io.k8s.apimachinery.pkg.apis.meta.v1.Status');
const LEASE = ref('io.k8s.api.coordination.v1.Lease');
const LEASE_LIST = ref('io.k8s.api.coordination.v1.LeaseList');
export const NAMESPACE = pathParam('namespace', 'The namespace of the objects.');
const NAME = pathParam('name', 'The name of the Lease.');
/** The PATCH content types the server accepts. */
export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
/** PATCH parameters (fieldValidation among them: kubectl looks for it). */
export const PATCH_PARAMS = [...WRITE_PARAMS, { name: 'force', in: 'query', description: 'Ignored: apply has no field ownership here.', schema: { type: 'boolean', uniqueItems: true } }];

/** The meta.k8s.io schemas every group-version document refers to. */
export const META_SCHEMAS = {
  'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': {
    description: 'Metadata every persisted object has.',
    type: 'object',
    properties: {
      annotations: { type: 'object', additionalProperties: { type: 'string', default: '' } },
      creationTimestamp: { type: 'string', format: 'date-time' },
      generateName: { type: 'string' },
      labels: { type: 'object', additionalProperties: { type: 'string', default: '' } },
      name: { type: 'string' },
      namespace: { type: 'string' },
      resourceVersion: { type: 'string' },
      uid: { type: 'string' },
    },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta': {
    type: 'object',
    properties: { continue: { type: 'string' }, remainingItemCount: { type: 'integer', format: 'int64' }, resourceVersion: { type: 'string' } },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Patch': { description: 'A patch document (JSON patch, merge patch, strategic merge patch or apply configuration).', type: 'object' },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Status': {
    description: 'The result of an operation that does not return an object.',
    type: 'object',
    properties: { code: { type: 'integer', format: 'int32' }, message: { type: 'string' }, reason: { type: 'string' }, status: { type: 'string' } },
    'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
  },
};

/** The coordination.k8s.io/v1 OpenAPI v3 document. */
export const COORDINATION_V1_OPENAPI = {
  openapi: '3.0.0',
  info: { title: 'Kubernetes (lease-apiserver)', version: 'v1.32.0' },
  paths: {
    '/apis/coordination.k8s.io/v1/leases': {
      get: operation('listCoordinationV1LeaseForAllNamespaces', 'list', GVK, LIST_PARAMS, LEASE_LIST),
    },
    '/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases': {
      parameters: [NAMESPACE],
      get: operation('listCoordinationV1NamespacedLease', 'list', GVK, LIST_PARAMS, LEASE_LIST),
      post: operation('createCoordinationV1NamespacedLease', 'post', GVK, WRITE_PARAMS, LEASE, ['*/*']),
      delete: operation('deleteCoordinationV1CollectionNamespacedLease', 'deletecollection', GVK, [query('fieldSelector', 'Only metadata.name.')], STATUS),
    },
    '/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}': {
      parameters: [NAMESPACE, NAME],
      get: operation('readCoordinationV1NamespacedLease', 'get', GVK, [], LEASE),
      put: operation('replaceCoordinationV1NamespacedLease', 'put', GVK, WRITE_PARAMS, LEASE, ['*/*']),
      patch: operation('patchCoordinationV1NamespacedLease', 'patch', GVK, PATCH_PARAMS, LEASE, PATCH_TYPES),
      delete: operation('deleteCoordinationV1NamespacedLease', 'delete', GVK, [], STATUS),
    },
  },
  components: {
    schemas: {
      'io.k8s.api.coordination.v1.Lease': {
        description: 'Lease defines a lease concept: one holder at a time, renewed before it expires.',
        type: 'object',
        properties: {
          apiVersion: { description: 'The versioned schema of this object: coordination.k8s.io/v1.', type: 'string' },
          kind: { description: 'The kind of this object: Lease.', type: 'string' },
          metadata: { description: "Standard object's metadata.", allOf: [ref('io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta')], default: {} },
          spec: { description: 'The specification of the Lease.', allOf: [ref('io.k8s.api.coordination.v1.LeaseSpec')], default: {} },
        },
        'x-kubernetes-group-version-kind': [GVK],
      },
      'io.k8s.api.coordination.v1.LeaseSpec': {
        description: 'The state of a Lease: who holds it, since when, for how long.',
        type: 'object',
        properties: {
          acquireTime: { description: 'When the current holder acquired the lease (MicroTime, six fractional digits).', type: 'string', format: 'date-time' },
          holderIdentity: { description: 'The identity of the current holder; empty when the lease is free.', type: 'string' },
          leaseDurationSeconds: { description: 'How long candidates wait, after last seeing the lease change, before taking it over.', type: 'integer', format: 'int32' },
          leaseTransitions: { description: 'How many times the lease changed holders.', type: 'integer', format: 'int32' },
          preferredHolder: { description: 'The holder the lease should go to; only with strategy.', type: 'string' },
          renewTime: { description: 'When the current holder last renewed the lease (MicroTime).', type: 'string', format: 'date-time' },
          strategy: { description: 'How the holder is chosen in coordinated leader election (OldestEmulationVersion).', type: 'string' },
        },
      },
      'io.k8s.api.coordination.v1.LeaseList': {
        description: 'A list of Lease objects.',
        type: 'object',
        required: ['items'],
        properties: {
          apiVersion: { type: 'string' },
          items: { type: 'array', items: { allOf: [LEASE], default: {} } },
          kind: { type: 'string' },
          metadata: { allOf: [ref('io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta')], default: {} },
        },
        'x-kubernetes-group-version-kind': [LIST_GVK],
      },
      ...META_SCHEMAS,
    },
  },
};

/** A group-version document, serialized once, with its hash (clients cache by it). */
export interface SerializedDocument {
  readonly json: string;
  readonly hash: string;
}

/** Serializes a document and hashes it as the API server does (SHA-512, upper-case hex). */
export function serialize(document: object): SerializedDocument {
  const text = JSON.stringify(document);
  return { json: text, hash: createHash('sha512').update(text).digest('hex').toUpperCase() };
}

const V1 = serialize(COORDINATION_V1_OPENAPI);
const DOCUMENT_JSON = V1.json;
const HASH = V1.hash;

/** The path of the coordination.k8s.io/v1 document, without query. */
export const OPENAPI_COORDINATION_PATH = '/openapi/v3/apis/coordination.k8s.io/v1';

/**
 * `/openapi/v3`: where each group-version document lives (the hash lets clients cache it);
 * `more` adds other documents by their path under `/openapi/v3/`.
 */
export function openApiIndex(more: Record<string, SerializedDocument> = {}): object {
  const extra = Object.fromEntries(Object.entries(more).map(([path, doc]) => [path, { serverRelativeURL: `/openapi/v3/${path}?hash=${doc.hash}` }]));
  return { paths: { 'apis/coordination.k8s.io/v1': { serverRelativeURL: `${OPENAPI_COORDINATION_PATH}?hash=${HASH}` }, ...extra } };
}

/** The serialized coordination.k8s.io/v1 document and its ETag. */
export function openApiDocument(): { json: string; etag: string } {
  return { json: DOCUMENT_JSON, etag: `"${HASH}"` };
}
