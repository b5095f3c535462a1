/**
 * The verbs on Leases, LeaseCandidates and Events, over the testing-kit stores and the
 * EventStore. This file only translates HTTP into store calls and store results into HTTP: every
 * object rule (resourceVersion compare-and-swap, validation, preconditions) lives in the
 * LeaseStore or the CandidateStore; patches are computed by `patch.ts` and lists paged by `paging.ts`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { EventStore, KubeEvent } from './event-store.js';
import { decodeBody, mediaType, methodNotAllowedError, parsePatch, statusError, tableVersionRequested, unsupportedMediaType, type PatchFormat } from './http.js';
import { pageOf } from './paging.js';
import { applyFieldValidation, parseFieldValidation } from './fields.js';
import { checkUnsupported, labelSelectorOf, parseFieldSelector, parseIncludeObject, parseLimit } from './query.js';
import type { ResourceRoute } from './routes.js';
import type { StoredResource } from './stored-resources.js';
import { eventTable, type TableOptions } from './table.js';

/** An answer: status code and JSON body. */
export interface Reply {
  readonly code: number;
  readonly body: unknown;
  /** Sent as Warning headers (unknown fields dropped under fieldValidation=Warn). */
  readonly warnings?: readonly string[];
}

/** What a handler needs from the request. */
export interface ResourceRequest {
  readonly route: ResourceRoute;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** Reads the (bounded) body. */
  readonly body: () => Promise<Buffer>;
  /** Wall time, for table ages. */
  readonly nowMs: number;
}

const PATCH_TYPES: Record<string, PatchFormat> = {
  'application/json-patch+json': 'json',
  'application/merge-patch+json': 'merge',
  'application/strategic-merge-patch+json': 'strategic',
  'application/apply-patch+yaml': 'apply',
};

/** The patch flavour from the Content-Type (415 for anything else, as the real server does). */
function patchType(headers: IncomingHttpHeaders): PatchFormat {
  const type = PATCH_TYPES[mediaType(headers['content-type'])];
  if (type === undefined) throw unsupportedMediaType(Object.keys(PATCH_TYPES));
  return type;
}

/** Decodes a patch body: JSON, or YAML for server-side apply. */
async function readPatch(request: ResourceRequest, type: PatchFormat): Promise<unknown> {
  const body = await request.body();
  if (body.length === 0) throw statusError(400, 'BadRequest', 'the request body of a patch must not be empty');
  return parsePatch(body, type);
}

/** DeleteOptions from the body (kubectl sends one), or none. */
async function readDeleteOptions(request: ResourceRequest): Promise<{ preconditions?: { uid?: string; resourceVersion?: string } }> {
  const body = await request.body();
  if (body.length === 0) return {};
  const options = decodeBody(body, request.headers['content-type'], 'DeleteOptions');
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw statusError(400, 'BadRequest', 'the object provided is unrecognized (must be of type DeleteOptions)');
  }
  const { preconditions, dryRun } = options as { preconditions?: unknown; dryRun?: unknown };
  if (Array.isArray(dryRun) && dryRun.length > 0) throw statusError(400, 'BadRequest', 'lease-apiserver does not implement dryRun');
  if (preconditions == null) return {};
  if (typeof preconditions !== 'object' || Array.isArray(preconditions)) throw statusError(400, 'BadRequest', 'DeleteOptions.preconditions must be an object');
  const { uid, resourceVersion } = preconditions as { uid?: unknown; resourceVersion?: unknown };
  return {
    preconditions: {
      ...(typeof uid === 'string' && uid !== '' ? { uid } : {}),
      ...(typeof resourceVersion === 'string' && resourceVersion !== '' ? { resourceVersion } : {}),
    },
  };
}

/** The Status a successful DELETE answers with (the generic registry's, for objects without finalizers). */
function deletedStatus(name: string, uid: string | undefined, group: string | undefined, kind: string): unknown {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name, ...(group !== undefined ? { group } : {}), kind, ...(uid !== undefined ? { uid } : {}) },
  };
}

function tableOptions(request: ResourceRequest, listMeta?: TableOptions['listMeta']): TableOptions | undefined {
  const version = tableVersionRequested(request.headers.accept);
  if (version === undefined) return undefined;
  return { version, includeObject: parseIncludeObject(request.query), nowMs: request.nowMs, ...(listMeta ? { listMeta } : {}) };
}

/** The `resourceVersion` query parameter, for the store to check (it refuses what does not parse). */
function resourceVersionOf(query: URLSearchParams): { resourceVersion?: string } {
  const rv = query.get('resourceVersion');
  return rv === null ? {} : { resourceVersion: rv };
}

/**
 * Serves one request on a stored resource (Leases, LeaseCandidates): every verb but watch. The
 * store decides everything about the object; this translates query, body and answer.
 */
export async function handleStored(stored: StoredResource, request: ResourceRequest): Promise<Reply> {
  const { route, query } = request;
  const namespace = route.namespace ?? '';
  const name = route.name ?? '';
  checkUnsupported(query);
  switch (route.verb) {
    case 'get': {
      const object = stored.get(namespace, name, resourceVersionOf(query));
      const table = tableOptions(request, { resourceVersion: object.metadata?.resourceVersion ?? '' });
      return { code: 200, body: table ? stored.table([object], table) : object };
    }
    case 'list': {
      const labels = labelSelectorOf(query);
      const selector = parseFieldSelector(query.get('fieldSelector'));
      const limit = parseLimit(query);
      const cont = query.get('continue');
      const all = stored.list(route.namespace ?? selector.namespace, {
        ...resourceVersionOf(query),
        ...labels,
        ...(selector.name !== undefined ? { name: selector.name } : {}),
      });
      const list = pageOf(all, { ...labels, ...(limit !== undefined ? { limit } : {}), ...(cont ? { continue: cont } : {}) });
      // metadata.namespace selecting another namespace than the path's: nothing can match.
      if (route.namespace !== undefined && selector.namespace !== undefined && selector.namespace !== route.namespace) list.items = [];
      const table = tableOptions(request, list.metadata);
      return { code: 200, body: table ? stored.table(list.items, table) : list };
    }
    case 'create': {
      const body = decodeBody(await request.body(), request.headers['content-type'], stored.kind);
      const warnings = applyFieldValidation(body, parseFieldValidation(query), stored.decodeContext, stored.specFields);
      return { code: 201, body: stored.create(namespace, body), warnings };
    }
    case 'update': {
      const body = decodeBody(await request.body(), request.headers['content-type'], stored.kind);
      const warnings = applyFieldValidation(body, parseFieldValidation(query), stored.decodeContext, stored.specFields);
      const result = stored.update(namespace, name, body);
      return { code: result.created ? 201 : 200, body: result.object, warnings };
    }
    case 'patch': {
      const type = patchType(request.headers);
      const validation = parseFieldValidation(query);
      if (type === 'apply' && !query.get('fieldManager')) {
        throw statusError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
      }
      const patch = await readPatch(request, type);
      // A merge-style patch names fields as the object does; a JSON patch names paths instead.
      const warnings = type === 'json' ? [] : applyFieldValidation(patch, validation, '', stored.specFields);
      const result = stored.patch(namespace, name, patch, type);
      return { code: result.created ? 201 : 200, body: result.object, warnings };
    }
    case 'delete': {
      const deleted = stored.delete(namespace, name, await readDeleteOptions(request));
      return { code: 200, body: deletedStatus(name, deleted.metadata?.uid, 'coordination.k8s.io', stored.resource) };
    }
    case 'deletecollection': {
      const labels = labelSelectorOf(query);
      const selector = parseFieldSelector(query.get('fieldSelector'));
      await readDeleteOptions(request);
      // What a list with the same selectors returns, deleted one by one.
      const victims = stored.list(namespace, { ...labels, ...(selector.name !== undefined ? { name: selector.name } : {}) }).items;
      const deleted = victims.map((object) => stored.delete(namespace, object.metadata?.name ?? '', {}));
      return { code: 200, body: { apiVersion: stored.apiVersion, kind: `${stored.kind}List`, metadata: { resourceVersion: stored.resourceVersion() }, items: deleted } };
    }
    case 'watch':
      throw new Error('watch is streamed, not handled here');
  }
}

/** Serves one Event request: create, get, list, patch and delete (enough for recorders and kubectl). */
export async function handleEvent(events: EventStore, request: ResourceRequest): Promise<Reply> {
  const { route, query } = request;
  const namespace = route.namespace ?? '';
  const name = route.name ?? '';
  checkUnsupported(query);
  switch (route.verb) {
    case 'get': {
      const event = events.get(namespace, name);
      const table = tableOptions(request, { resourceVersion: event.metadata?.resourceVersion ?? '' });
      return { code: 200, body: table ? eventTable([event], table) : event };
    }
    case 'list': {
      const labels = labelSelectorOf(query);
      const selector = parseFieldSelector(query.get('fieldSelector'));
      const limit = parseLimit(query);
      const cont = query.get('continue');
      let list = pageOf(events.list(route.namespace ?? selector.namespace, labels), { ...labels, ...(limit !== undefined ? { limit } : {}), ...(cont ? { continue: cont } : {}) });
      if (selector.name !== undefined) list = { ...list, items: list.items.filter((e: KubeEvent) => e.metadata?.name === selector.name) };
      const table = tableOptions(request, list.metadata);
      return { code: 200, body: table ? eventTable(list.items, table) : list };
    }
    case 'create':
      return { code: 201, body: events.create(namespace, decodeBody(await request.body(), request.headers['content-type'], 'Event')) };
    case 'patch': {
      const type = patchType(request.headers);
      if (type === 'apply') throw unsupportedMediaType(Object.keys(PATCH_TYPES).filter((t) => PATCH_TYPES[t] !== 'apply'));
      return { code: 200, body: events.patch(namespace, name, await readPatch(request, type), type) };
    }
    case 'delete': {
      await readDeleteOptions(request);
      const deleted = events.delete(namespace, name);
      return { code: 200, body: deletedStatus(name, deleted.metadata?.uid, undefined, 'events') };
    }
    default:
      // update, deletecollection and watch of Events are not implemented (not in discovery either).
      throw methodNotAllowedError();
  }
}
