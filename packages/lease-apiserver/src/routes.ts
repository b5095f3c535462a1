/**
 * Maps a request line to what it asks for: a health check, a discovery document, or a verb on a
 * resource, with the API server's path grammar (namespaced and cluster-wide collections, the
 * deprecated `/watch/` prefix, `?watch=true`, and a watch on one object by name).
 */
import type { ResourceName, Verb } from './verbs.js';

/** Discovery documents kubectl and client-go read. */
export type DiscoveryDocument = 'version' | 'api' | 'apiV1' | 'apis' | 'coordinationGroup' | 'coordinationV1' | 'coordinationV1beta1';

/** A request on a resource. */
export interface ResourceRoute {
  kind: 'resource';
  resource: ResourceName;
  verb: Verb;
  /** undefined for a cluster-wide collection (`/apis/coordination.k8s.io/v1/leases`). */
  namespace: string | undefined;
  /** The object named in the path (get, update, patch, delete, watch of one object). */
  name: string | undefined;
}

/** What a request asks for. */
export type Route =
  | ResourceRoute
  | { kind: 'health'; check: 'healthz' | 'readyz' | 'livez' }
  | { kind: 'discovery'; document: DiscoveryDocument }
  | { kind: 'openapi'; document: 'index' | 'coordinationV1' | 'coordinationV1beta1' }
  | { kind: 'methodNotAllowed' }
  | { kind: 'notFound' };

const DISCOVERY: Record<string, DiscoveryDocument> = {
  '/version': 'version',
  '/api': 'api',
  '/api/v1': 'apiV1',
  '/apis': 'apis',
  '/apis/coordination.k8s.io': 'coordinationGroup',
  '/apis/coordination.k8s.io/v1': 'coordinationV1',
  '/apis/coordination.k8s.io/v1beta1': 'coordinationV1beta1',
};

const OPENAPI: Record<string, 'index' | 'coordinationV1' | 'coordinationV1beta1'> = {
  '/openapi/v3': 'index',
  '/openapi/v3/apis/coordination.k8s.io/v1': 'coordinationV1',
  '/openapi/v3/apis/coordination.k8s.io/v1beta1': 'coordinationV1beta1',
};

const HEALTH = new Set(['healthz', 'readyz', 'livez']);

/** Go's strconv.ParseBool, which the server uses for `?watch=`. */
function parseBool(value: string | null): boolean {
  return value !== null && ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value);
}

/** Resolves a method and URL to a {@link Route}. Never throws. */
export function parseRoute(method: string, pathname: string, query: URLSearchParams): Route {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  const isRead = method === 'GET';
  const discovery = DISCOVERY[path];
  if (discovery !== undefined) return isRead ? { kind: 'discovery', document: discovery } : { kind: 'methodNotAllowed' };
  const openapi = OPENAPI[path];
  if (openapi !== undefined) return isRead ? { kind: 'openapi', document: openapi } : { kind: 'methodNotAllowed' };
  const health = path.slice(1).split('/')[0] ?? '';
  if (HEALTH.has(health)) {
    return isRead || method === 'HEAD' ? { kind: 'health', check: health as 'healthz' } : { kind: 'methodNotAllowed' };
  }

  const segments = path.split('/').slice(1).map(decodeSegment);
  if (segments.some((s) => s === undefined)) return { kind: 'notFound' };
  if (segments.some((s) => s === '')) return { kind: 'notFound' };
  return resourceRoute(method, segments as string[], query);
}

/**
 * A percent-decoded path segment, undefined for a broken escape (`%ZZ`). Bytes that are not UTF-8
 * become U+FFFD, as they do when the API server writes them into a JSON answer.
 */
function decodeSegment(segment: string): string | undefined {
  if (!segment.includes('%')) return segment;
  if (/%(?![0-9A-Fa-f]{2})/.test(segment)) return undefined;
  const bytes = Buffer.from(segment.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
  return bytes.toString('utf8');
}

/** The route of a path under /api/v1 or /apis/coordination.k8s.io/{v1,v1beta1}, split into decoded segments. */
function resourceRoute(method: string, segments: string[], query: URLSearchParams): Route {
  const isRead = method === 'GET';
  let resource: ResourceName;
  let rest: string[];
  if (segments[0] === 'apis' && segments[1] === 'coordination.k8s.io' && segments[2] === 'v1') {
    resource = 'leases';
    rest = segments.slice(3);
  } else if (segments[0] === 'apis' && segments[1] === 'coordination.k8s.io' && segments[2] === 'v1beta1') {
    resource = 'leasecandidates';
    rest = segments.slice(3);
  } else if (segments[0] === 'api' && segments[1] === 'v1') {
    resource = 'events';
    rest = segments.slice(2);
  } else {
    return { kind: 'notFound' };
  }

  // The deprecated /watch/ prefix: only GET, always a watch.
  const watchPrefix = rest[0] === 'watch';
  if (watchPrefix) rest = rest.slice(1);
  let namespace: string | undefined;
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  if (rest[0] !== resource || rest.length > 2) return { kind: 'notFound' };
  const name = rest[1];
  if (name !== undefined && namespace === undefined) return { kind: 'notFound' };

  const route = (verb: Verb): ResourceRoute => ({ kind: 'resource', resource, verb, namespace, name });
  if (watchPrefix) return isRead ? route('watch') : { kind: 'methodNotAllowed' };
  const watch = parseBool(query.get('watch'));
  if (name === undefined) {
    switch (method) {
      case 'GET':
        return route(watch ? 'watch' : 'list');
      case 'POST':
        return namespace === undefined ? { kind: 'methodNotAllowed' } : route('create');
      case 'DELETE':
        return namespace === undefined ? { kind: 'methodNotAllowed' } : route('deletecollection');
      default:
        return { kind: 'methodNotAllowed' };
    }
  }
  switch (method) {
    case 'GET':
      return route(watch ? 'watch' : 'get');
    case 'PUT':
      return route('update');
    case 'PATCH':
      return route('patch');
    case 'DELETE':
      return route('delete');
    default:
      return { kind: 'methodNotAllowed' };
  }
}
