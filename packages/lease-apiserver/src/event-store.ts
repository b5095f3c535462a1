/**
 * Owns core/v1 Event objects, so recorders (client-go's, client-node's, leasekit's) and
 * `kubectl get events` work against the embedded server: create with the API server's decoding
 * and validation, get, list (by namespace and labels), patch and delete, the oldest dropped
 * beyond a limit (the real server expires them after an hour). Envelope and ObjectMeta rules are
 * the testing kit's (`objectRules`), and an Event about a Lease is reported to the LeaseStore's
 * `events`, so tests read events the same way whichever client recorded them.
 */
import { ApiError, type Clock, type ObjectMeta } from '@leasekit/k8s-leaderelection';
import { makeStatus, objectRules, systemClock } from '@leasekit/k8s-leaderelection/internal';
import { leaseErrors, parseLabelSelector, type LeaseStore } from '@leasekit/k8s-leaderelection/testing';
import type { PatchFormat } from './http.js';
import { cloneJson } from './json-text.js';
import { applyPatch } from './patch.js';

type Cause = objectRules.Cause;
type DecodeFailure = objectRules.DecodeFailure;

/**
 * A core/v1 Event as JSON: the fields kubectl shows and leasekit writes are typed, the rest is kept
 * as sent.
 */
export interface KubeEvent {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  involvedObject?: {
    apiVersion?: string;
    kind?: string;
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    fieldPath?: string;
  };
  reason?: string;
  message?: string;
  type?: string;
  source?: { component?: string; host?: string };
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  count?: number;
  reportingComponent?: string;
  reportingInstance?: string;
  [key: string]: unknown;
}

/** The answer of {@link EventStore.list}: a core/v1 EventList (every match; the server pages it). */
export interface EventList {
  apiVersion: 'v1';
  kind: 'EventList';
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeEvent[];
}

export interface EventStoreOptions {
  /** The Lease store whose `events` hears of Events about Leases. */
  readonly leases: LeaseStore;
  /** Stamps creationTimestamp. @default the system clock */
  readonly clock?: Clock;
  /** How many Event objects are kept; the oldest go first. @default 1000 */
  readonly limit?: number;
}

/** Status errors for core/v1 Events (core group: no group in the messages and details). */
export const eventErrors = {
  notFound: (name: string) => new ApiError(makeStatus(404, 'NotFound', `events "${name}" not found`, { name, kind: 'events' })),
  alreadyExists: (name: string) =>
    new ApiError(makeStatus(409, 'AlreadyExists', `events "${name}" already exists`, { name, kind: 'events' })),
  conflict: (name: string) =>
    new ApiError(
      makeStatus(409, 'Conflict', `Operation cannot be fulfilled on events "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: 'events' }),
    ),
  invalid: (name: string, causes: Cause[]) =>
    new ApiError(makeStatus(422, 'Invalid', `Event "${name}" is invalid: ${objectRules.aggregate(causes)}`, { name, kind: 'Event', causes })),
};

/** The decoding checks for an Event body, like the store's for a Lease. */
function eventDecodeFailure(body: unknown): DecodeFailure | undefined {
  const envelope = objectRules.envelopeDecodeFailure(body, 'v1', 'Event');
  if (envelope !== undefined || !objectRules.isRecord(body)) return envelope;
  for (const field of ['metadata', 'involvedObject', 'source'] as const) {
    if (body[field] != null && !objectRules.isRecord(body[field])) return objectRules.typed(`${field} must be an object`);
  }
  if (objectRules.isRecord(body.metadata)) {
    const meta = objectRules.metaDecodeFailure(body.metadata);
    if (meta) return meta;
  }
  if (body.count != null && (typeof body.count !== 'number' || !Number.isInteger(body.count))) {
    const what = typeof body.count === 'number' ? `number ${String(body.count)}` : objectRules.jsonKind(body.count);
    return objectRules.typed(`json: cannot unmarshal ${what} into Go struct field Event.count of type int32`);
  }
  return undefined;
}

/** The API server's checks on a core/v1 Event that matter here (422 Invalid). */
function validateEvent(event: KubeEvent, name: string, namespace: string): void {
  const causes: Cause[] =
    name === '' ? [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }] : objectRules.nameCauses(name);
  causes.push(...objectRules.metaCauses(event.metadata));
  const involvedNamespace = event.involvedObject?.namespace;
  if (involvedNamespace && involvedNamespace !== namespace) {
    causes.push({ reason: 'FieldValueInvalid', field: 'involvedObject.namespace', message: `Invalid value: ${JSON.stringify(involvedNamespace)}: does not match event.namespace` });
  }
  if (causes.length > 0) throw eventErrors.invalid(name, causes);
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** The Event objects of one server. Methods are synchronous and throw {@link ApiError}s. */
export class EventStore {
  private readonly leases: LeaseStore;
  private readonly clock: Clock;
  private readonly limit: number;
  /** By namespace/name, oldest first. */
  private readonly objects = new Map<string, KubeEvent>();
  // Events count on their own, so that recording one never shifts Lease resourceVersions or uids.
  private revision = 0;
  private uidCounter = 0;
  private generatedNames = 0;

  constructor(options: EventStoreOptions) {
    this.leases = options.leases;
    this.clock = options.clock ?? systemClock;
    this.limit = Math.max(1, options.limit ?? 1000);
  }

  /** POST of a core/v1 Event, decoded and validated like the API server does. */
  create(namespace: string, body: unknown): KubeEvent {
    const failure = eventDecodeFailure(body);
    if (failure !== undefined) throw objectRules.decodeError('Event', failure);
    const event = body as KubeEvent;
    const meta = event.metadata ?? {};
    objectRules.checkNamespace(namespace, meta.namespace);
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '' && typeof meta.generateName === 'string' && meta.generateName !== '') {
      // The real server appends five random characters; a counter keeps tests reproducible.
      name = `${meta.generateName}${(++this.generatedNames).toString(36).padStart(5, '0')}`;
    }
    if (meta.resourceVersion) throw leaseErrors.internal('resourceVersion should not be set on objects to be created');
    validateEvent(event, name, namespace);
    if (this.objects.has(key(namespace, name))) throw eventErrors.alreadyExists(name);
    const stored = this.insert(namespace, name, event);
    this.leases.createEvent(namespace, stored);
    return stored;
  }

  /** GET of one Event. */
  get(namespace: string, name: string): KubeEvent {
    const event = this.objects.get(key(namespace, name));
    if (!event) throw eventErrors.notFound(name);
    return cloneJson(event);
  }

  /** LIST of Events in a namespace (every namespace when undefined) whose labels match, sorted. */
  list(namespace: string | undefined, options: { labelSelector?: string } = {}): EventList {
    const selector = parseLabelSelector(options.labelSelector ?? '');
    const items = [...this.objects.entries()]
      .filter(([k, event]) => (namespace === undefined || k.startsWith(`${namespace}/`)) && selector.matches(event.metadata?.labels))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, event]) => cloneJson(event));
    return { apiVersion: 'v1', kind: 'EventList', metadata: { resourceVersion: String(this.revision) }, items };
  }

  /** PATCH of an Event (client-go's recorder patches `count` and `lastTimestamp` of repeats). */
  patch(namespace: string, name: string, patch: unknown, format: Exclude<PatchFormat, 'apply'>): KubeEvent {
    const current = this.objects.get(key(namespace, name));
    if (!current) throw eventErrors.notFound(name);
    const result = applyPatch(cloneJson(current), patch, format);
    const failure = eventDecodeFailure(result);
    if (failure !== undefined) throw objectRules.patchDecodeError(result, failure);
    const patched = result as KubeEvent;
    if (patched.metadata?.name && patched.metadata.name !== name) {
      throw leaseErrors.badRequest(`the name of the object (${patched.metadata.name}) does not match the name on the URL (${name})`);
    }
    const rv = patched.metadata?.resourceVersion;
    if (rv && rv !== current.metadata?.resourceVersion) throw eventErrors.conflict(name);
    validateEvent(patched, name, namespace);
    const next: KubeEvent = {
      ...patched,
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        ...objectRules.normalizeMeta(patched.metadata ?? {}),
        name,
        namespace,
        uid: current.metadata?.uid,
        creationTimestamp: current.metadata?.creationTimestamp,
        resourceVersion: String(++this.revision),
      },
    };
    this.objects.set(key(namespace, name), next);
    return cloneJson(next);
  }

  /** DELETE of an Event; returns what was deleted. */
  delete(namespace: string, name: string): KubeEvent {
    const current = this.objects.get(key(namespace, name));
    if (!current) throw eventErrors.notFound(name);
    this.objects.delete(key(namespace, name));
    return cloneJson(current);
  }

  private insert(namespace: string, name: string, body: KubeEvent): KubeEvent {
    const stored: KubeEvent = {
      ...cloneJson(body),
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        ...objectRules.normalizeMeta(cloneJson(body.metadata ?? {})),
        name,
        namespace,
        uid: `00000000-0000-4000-9000-${(++this.uidCounter).toString(16).padStart(12, '0')}`,
        resourceVersion: String(++this.revision),
        creationTimestamp: objectRules.creationTimestamp(this.clock.wallNow()),
      },
    };
    delete stored.metadata!.generateName;
    this.objects.set(key(namespace, name), stored);
    while (this.objects.size > this.limit) {
      const oldest = this.objects.keys().next().value;
      if (oldest === undefined) break;
      this.objects.delete(oldest);
    }
    return cloneJson(stored);
  }
}
