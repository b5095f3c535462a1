/**
 * An in-memory Lease store with the Kubernetes API server's semantics: resourceVersion
 * compare-and-swap, uid preconditions, validation with Status-shaped errors carrying the real
 * `reason` and `code`, MicroTime checks, and watch fan-out with a bounded history (410 Gone
 * beyond it), label selectors on list and watch, and the Event records a LeaseClient reports. The
 * testing kit's LeaseClient and the embedded API server both sit on this one implementation; what
 * only kubectl needs (patch formats, paging, Event objects, tables) is the server's. Versions,
 * history and watch are the shared {@link ObjectHistory}'s.
 */
import { systemClock, type Clock } from '../clock.js';
import type { Lease, LeaseEventRecord, LeaseWatchEvent } from '../lease.js';
import { MAX_INT32 } from '../record.js';
import { leaseEventRecordOf } from './event-records.js';
import { leaseErrors, type Cause } from './lease-errors.js';
import { clone, stringify } from './json-tree.js';
import {
  checkNamespace,
  checkPreconditions,
  creationTimestamp,
  decodeError,
  envelopeDecodeFailure,
  isRecord,
  jsonKind,
  metaCauses,
  metaDecodeFailure,
  nameCauses,
  normalizeMeta,
  patchDecodeError,
  typed,
  type DecodeFailure,
} from './object-rules.js';
import { ObjectHistory, VersionedStore, type DeleteOptions, type GetOptions, type ListOptions, type WatchFilter, type WatchHandle } from './object-history.js';

export { leaseErrors };
export type { DeleteOptions, GetOptions, ListOptions, WatchFilter, WatchHandle };

const GROUP = 'coordination.k8s.io';
export const MICROTIME_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';
const STRICT_MICROTIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
/** Lease strategies the API accepts (coordination.k8s.io/v1). */
export const LEASE_STRATEGIES = ['OldestEmulationVersion'] as const;

export interface LeaseStoreOptions {
  /** Stamps creationTimestamp. @default the system clock */
  clock?: Clock;
  /** How many past watch events are kept for resuming; older resourceVersions get 410 Gone. @default 1000 */
  historyLimit?: number;
  /** How many records {@link LeaseStore.events} keeps; the oldest go first. @default 1000 */
  eventLimit?: number;
}

export interface LeaseList {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'LeaseList';
  metadata: { resourceVersion: string };
  /** Every matching Lease, sorted by namespace and name. */
  items: Lease[];
}

export type WatchListener = (event: LeaseWatchEvent) => void;

export interface WriteResult {
  lease: Lease;
  /** True when the write created the object (PUT to a missing name, apply). */
  created: boolean;
}

/** Options of {@link LeaseStore.update}. */
export interface UpdateOptions {
  /**
   * Where the body comes from. `put` (the default): a replacement, which must name the current
   * resourceVersion. `patch` and `apply`: the result of a patch on the current object, written
   * over whatever is current unless it names a resourceVersion (a stale one is 409 Conflict);
   * `apply` creates a missing Lease. A `patch` result that does not decode as a Lease is 422
   * Invalid on the field `patch`, as the API server answers (the patch itself was well formed).
   */
  via?: 'put' | 'patch' | 'apply';
}

/**
 * True for what Go's `time.Parse` accepts in the MicroTime layout: exactly six fractional digits,
 * and a date that exists. `Date.parse` rolls 2024-02-31 over into March; Go rejects it.
 */
export function isMicroTime(value: string): boolean {
  if (!STRICT_MICROTIME.test(value)) return false;
  const wallClock = value.slice(0, 19);
  const asUtc = Date.parse(`${wallClock}Z`);
  return !Number.isNaN(asUtc) && new Date(asUtc).toISOString().slice(0, 19) === wallClock;
}

/** The wire-level checks the real server's JSON decoder makes on a Lease, or undefined when it decodes. */
function leaseDecodeFailure(lease: unknown): DecodeFailure | undefined {
  const envelope = envelopeDecodeFailure(lease, `${GROUP}/v1`, 'Lease');
  if (envelope !== undefined || !isRecord(lease)) return envelope;
  if (lease.metadata != null) {
    if (!isRecord(lease.metadata)) return typed(`json: cannot unmarshal ${jsonKind(lease.metadata)} into Go struct field Lease.metadata of type v1.ObjectMeta`);
    const meta = metaDecodeFailure(lease.metadata);
    if (meta) return meta;
  }
  if (lease.spec == null) return undefined;
  if (!isRecord(lease.spec)) return typed(`json: cannot unmarshal ${jsonKind(lease.spec)} into Go struct field Lease.spec of type v1.LeaseSpec`);
  const spec = lease.spec;
  for (const field of ['holderIdentity', 'strategy', 'preferredHolder'] as const) {
    const v = spec[field];
    if (v != null && typeof v !== 'string') return typed(`json: cannot unmarshal ${jsonKind(v)} into Go struct field LeaseSpec.spec.${field} of type string`);
  }
  for (const field of ['leaseDurationSeconds', 'leaseTransitions'] as const) {
    const v = spec[field];
    if (v == null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v > MAX_INT32 || v < -MAX_INT32 - 1) {
      const what = typeof v === 'number' ? `number ${String(v)}` : jsonKind(v);
      return typed(`json: cannot unmarshal ${what} into Go struct field LeaseSpec.spec.${field} of type int32`);
    }
  }
  for (const field of ['acquireTime', 'renewTime'] as const) {
    const v = spec[field];
    if (v == null) continue;
    if (typeof v !== 'string' || !isMicroTime(v)) {
      return typed(`parsing time ${stringify(v) ?? 'undefined'} as "${MICROTIME_LAYOUT}": cannot parse as a MicroTime`);
    }
  }
  return undefined;
}

/** Checks the wire-level types the real server's JSON decoder enforces (400 BadRequest). */
function decodeCheck(lease: unknown): asserts lease is Lease {
  const failure = leaseDecodeFailure(lease);
  if (failure !== undefined) throw decodeError('Lease', failure);
}

/** A patch result must decode as a Lease: 422 Invalid on the field `patch` otherwise. */
function decodePatched(patched: unknown): asserts patched is Lease {
  const failure = leaseDecodeFailure(patched);
  if (failure !== undefined) throw patchDecodeError(patched, failure);
}

/** Field validation (422 Invalid with causes), like the API server's ValidateLease. */
function validate(lease: Lease, name: string): void {
  const causes: Cause[] = [...nameCauses(name), ...metaCauses(lease.metadata)];
  const spec = lease.spec ?? {};
  if (spec.leaseDurationSeconds != null && spec.leaseDurationSeconds <= 0) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.leaseDurationSeconds', message: `Invalid value: ${spec.leaseDurationSeconds}: must be greater than 0` });
  }
  if (spec.leaseTransitions != null && spec.leaseTransitions < 0) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.leaseTransitions', message: `Invalid value: ${spec.leaseTransitions}: must be greater than or equal to 0` });
  }
  if (spec.strategy != null && spec.strategy !== '' && !(LEASE_STRATEGIES as readonly string[]).includes(spec.strategy)) {
    causes.push({ reason: 'FieldValueNotSupported', field: 'spec.strategy', message: `Unsupported value: ${JSON.stringify(spec.strategy)}: supported values: ${LEASE_STRATEGIES.map((s) => `"${s}"`).join(', ')}` });
  }
  if (spec.preferredHolder != null && spec.preferredHolder !== '' && (spec.strategy == null || spec.strategy === '')) {
    causes.push({ reason: 'FieldValueForbidden', field: 'spec.preferredHolder', message: 'Forbidden: may only be specified if `strategy` is defined' });
  }
  if (causes.length > 0) throw leaseErrors.invalid(name, causes);
}

/**
 * The store. All methods are synchronous and throw {@link ApiError}s; watch listeners are called
 * asynchronously (in a microtask), in resourceVersion order.
 */
export class LeaseStore extends VersionedStore<Lease, WatchListener> {
  private readonly clock: Clock;
  private readonly leases: ObjectHistory<Lease>;
  /**
   * Events reported through {@link recordEvent}, or created as Event objects about a Lease
   * ({@link createEvent}), oldest first; at most `eventLimit`.
   */
  readonly events: LeaseEventRecord[] = [];
  private readonly eventLimit: number;
  private uidCounter = 0;
  private generatedNames = 0;

  constructor(options: LeaseStoreOptions = {}) {
    const leases = new ObjectHistory<Lease>({ historyLimit: options.historyLimit ?? 1000, errors: leaseErrors });
    super(leases);
    this.leases = leases;
    this.clock = options.clock ?? systemClock;
    this.eventLimit = Math.max(1, options.eventLimit ?? 1000);
  }

  list(namespace: string | undefined, options: ListOptions = {}): LeaseList {
    const items = this.leases.list(namespace, options);
    return { apiVersion: 'coordination.k8s.io/v1', kind: 'LeaseList', metadata: { resourceVersion: this.resourceVersion }, items };
  }

  create(namespace: string, body: unknown): Lease {
    decodeCheck(body);
    let lease: Lease = body;
    const generateName = lease.metadata?.generateName;
    if (!lease.metadata?.name && typeof generateName === 'string' && generateName !== '') {
      // The real server appends five random characters; a counter keeps tests reproducible.
      lease = { ...lease, metadata: { ...lease.metadata, name: `${generateName}${(++this.generatedNames).toString(36).padStart(5, '0')}` } };
    }
    const name = this.checkNamespaceAndName(namespace, lease, undefined);
    if (lease.metadata?.resourceVersion) {
      throw leaseErrors.internal('resourceVersion should not be set on objects to be created');
    }
    validate(lease, name);
    if (this.leases.current(namespace, name)) throw leaseErrors.alreadyExists(name);
    return this.insert(namespace, name, lease);
  }

  /**
   * PUT: compare-and-swap on resourceVersion; creates when the name is missing and no
   * resourceVersion is given. With `via: 'patch'` or `'apply'` the body is the result of a patch
   * on the current object (the embedded server's PATCH), see {@link UpdateOptions}.
   */
  update(namespace: string, name: string, body: unknown, options: UpdateOptions = {}): WriteResult {
    const via = options.via ?? 'put';
    if (via === 'patch') decodePatched(body);
    else decodeCheck(body);
    this.checkNamespaceAndName(namespace, body, name);
    const current = this.leases.current(namespace, name);
    const rv = body.metadata?.resourceVersion;
    if (!current) {
      if (via === 'patch' || (via === 'put' && rv)) throw leaseErrors.notFound(name);
      validate(body, name);
      return { lease: this.insert(namespace, name, body), created: true };
    }
    const checkUid = (): void => checkPreconditions(leaseErrors, name, current, { uid: body.metadata?.uid });
    if (via === 'put') {
      if (!rv) throw leaseErrors.resourceVersionRequired(name);
      checkUid();
      if (rv !== current.metadata?.resourceVersion) throw leaseErrors.conflict(name);
    } else {
      // A patch writes over whatever is current unless it names a resourceVersion.
      if (rv && rv !== current.metadata?.resourceVersion) throw leaseErrors.conflict(name);
      checkUid();
    }
    validate(body, name);
    return { lease: this.replace(namespace, name, current, body), created: false };
  }

  /** Deletes every Lease in the namespace (every Lease when undefined); returns what was deleted. */
  deleteCollection(namespace: string | undefined): Lease[] {
    const victims = this.list(namespace).items;
    return victims.map((lease) => this.delete(lease.metadata?.namespace ?? '', lease.metadata?.name ?? ''));
  }

  /** Records a Kubernetes Event (what a LeaseClient's `recordEvent` reports) in {@link events}. */
  recordEvent(event: LeaseEventRecord): void {
    this.events.push({ ...event });
    if (this.events.length > this.eventLimit) this.events.splice(0, this.events.length - this.eventLimit);
  }

  /**
   * Takes note of a core/v1 Event object a client created (client-node's `createNamespacedEvent`,
   * the embedded server's POST): one about a Lease is appended to {@link events}, so tests see
   * events the same way whichever client recorded them. Returns a copy of the body. The store
   * neither validates nor keeps Event objects: the embedded API server does (`kubectl get events`).
   */
  createEvent(namespace: string, body: unknown): unknown {
    const record = leaseEventRecordOf(body, namespace, this.clock.wallNow());
    if (record !== undefined) this.recordEvent(record);
    return clone(body);
  }

  private checkNamespaceAndName(namespace: string, body: Lease, pathName: string | undefined): string {
    checkNamespace(namespace, body.metadata?.namespace);
    const name = body.metadata?.name;
    if (pathName !== undefined) {
      if (name && name !== pathName) throw leaseErrors.badRequest(`the name of the object (${name}) does not match the name on the URL (${pathName})`);
      return pathName;
    }
    if (typeof name !== 'string' || name === '') {
      throw leaseErrors.invalid('', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
    }
    return name;
  }

  private insert(namespace: string, name: string, body: Lease): Lease {
    const stored: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...normalizeMeta(clone(body.metadata ?? {})),
        name,
        namespace,
        uid: this.nextUid(),
        resourceVersion: undefined, // stamped by the history, in this position
        creationTimestamp: creationTimestamp(this.clock.wallNow()),
      },
      spec: clone(body.spec ?? {}),
    };
    return this.leases.write(namespace, name, stored, undefined);
  }

  private replace(namespace: string, name: string, current: Lease, body: Lease): Lease {
    const meta = current.metadata ?? {};
    const next: Lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...normalizeMeta(clone(body.metadata ?? {})),
        name,
        namespace,
        uid: meta.uid,
        creationTimestamp: meta.creationTimestamp,
        resourceVersion: meta.resourceVersion,
      },
      spec: clone(body.spec ?? {}),
    };
    return this.leases.write(namespace, name, next, current);
  }

  private nextUid(): string {
    const n = (++this.uidCounter).toString(16).padStart(12, '0');
    return `00000000-0000-4000-8000-${n}`;
  }
}
