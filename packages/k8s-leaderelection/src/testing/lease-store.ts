/**
 * An in-memory Lease store with the Kubernetes API server's semantics: resourceVersion
 * compare-and-swap, uid preconditions, validation with Status-shaped errors carrying the real
 * `reason` and `code`, MicroTime checks, and watch fan-out with a bounded history (410 Gone
 * beyond it), label selectors on list and watch, and the Event records a LeaseClient reports. The
 * testing kit's LeaseClient and the embedded API server both sit on this one implementation; what
 * only kubectl needs (patch formats, paging, Event objects, tables) is the server's.
 */
import { systemClock, type Clock } from '../clock.js';
import type { Lease, LeaseEventRecord, LeaseWatchEvent } from '../lease.js';
import { MAX_INT32 } from '../record.js';
import { leaseEventRecordOf } from './event-records.js';
import { EVERYTHING, parseLabelSelector, type LabelSelector } from './label-selector.js';
import { leaseErrors, type Cause } from './lease-errors.js';
import { clone, stringify, toJson } from './json-tree.js';
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

export { leaseErrors };

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

export interface ListOptions {
  /**
   * The `resourceVersion` query parameter. Any answer is at least this fresh (the store is always
   * current), but it must parse as the API server's resourceVersion: 400 BadRequest otherwise.
   */
  resourceVersion?: string;
  /** Only this Lease (`fieldSelector=metadata.name=...`). */
  name?: string;
  /**
   * Only Leases whose labels match (`labelSelector`, the API server's syntax; 400 BadRequest when
   * it does not parse).
   */
  labelSelector?: string;
}

export interface LeaseList {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'LeaseList';
  metadata: { resourceVersion: string };
  /** Every matching Lease, sorted by namespace and name. */
  items: Lease[];
}

/** Options of {@link LeaseStore.get}. */
export interface GetOptions {
  /** The `resourceVersion` query parameter: checked like {@link ListOptions.resourceVersion}. */
  resourceVersion?: string;
}

export interface WatchFilter {
  /** undefined means every namespace. */
  namespace?: string;
  name?: string;
  /** Resume after this version; undefined, '' or '0' start with ADDED events for the current state. */
  resourceVersion?: string;
  /**
   * Only Leases whose labels match, like {@link ListOptions.labelSelector}. As on the API server,
   * an update that makes a Lease match arrives as ADDED and one that makes it stop matching as
   * DELETED (its previous state, at the update's resourceVersion).
   */
  labelSelector?: string;
}

export type WatchListener = (event: LeaseWatchEvent) => void;

export interface WatchHandle {
  /** Stops delivery; idempotent. */
  stop(): void;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
}

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

export interface HistoryEntry {
  rv: number;
  namespace: string;
  name: string;
  event: LeaseWatchEvent;
  /** The Lease before a MODIFIED event: a label selector needs both states. */
  previous?: Lease;
}

export interface Watcher {
  filter: WatchFilter;
  selector: LabelSelector;
  listener: WatchListener;
  onClose: (() => void) | undefined;
  active: boolean;
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

/**
 * A resourceVersion as the API server parses it (Go's strconv.ParseUint, base 10, 64 bits): '' and
 * '0' mean "any"; anything else that is not an unsigned integer is refused with 400 BadRequest.
 */
export function parseResourceVersion(rv: string | undefined): bigint {
  if (rv === undefined || rv === '' || rv === '0') return 0n;
  if (!/^[0-9]+$/.test(rv)) throw leaseErrors.invalidResourceVersion(rv, 'invalid syntax');
  const value = BigInt(rv);
  if (value > 0xffff_ffff_ffff_ffffn) throw leaseErrors.invalidResourceVersion(rv, 'value out of range');
  return value;
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
export class LeaseStore {
  private readonly clock: Clock;
  private readonly historyLimit: number;
  private readonly leases = new Map<string, Lease>();
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  /**
   * Events reported through {@link recordEvent}, or created as Event objects about a Lease
   * ({@link createEvent}), oldest first; at most `eventLimit`.
   */
  readonly events: LeaseEventRecord[] = [];
  private readonly eventLimit: number;
  private revision = 0;
  private uidCounter = 0;
  private generatedNames = 0;
  /** Oldest resourceVersion a watch may resume from; older ones get 410 Gone. */
  private compactedRevision = 0;

  constructor(options: LeaseStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.historyLimit = Math.max(1, options.historyLimit ?? 1000);
    this.eventLimit = Math.max(1, options.eventLimit ?? 1000);
  }

  /** The store's current resourceVersion. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  get(namespace: string, name: string, options: GetOptions = {}): Lease {
    parseResourceVersion(options.resourceVersion);
    const lease = this.leases.get(key(namespace, name));
    if (!lease) throw leaseErrors.notFound(name);
    return clone(lease);
  }

  /** Peeks without cloning or throwing (tests reading state). */
  peek(namespace: string, name: string): Lease | undefined {
    const lease = this.leases.get(key(namespace, name));
    return lease ? clone(lease) : undefined;
  }

  list(namespace: string | undefined, options: ListOptions = {}): LeaseList {
    const selector = selectorOf(options.labelSelector);
    parseResourceVersion(options.resourceVersion);
    const all = [...this.leases.entries()]
      .filter(([k, lease]) => (namespace === undefined || k.startsWith(`${namespace}/`)) && (options.name === undefined || lease.metadata?.name === options.name))
      .filter(([, lease]) => selector.matches(lease.metadata?.labels))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'LeaseList',
      metadata: { resourceVersion: this.resourceVersion },
      items: all.map(([, lease]) => clone(lease)),
    };
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
    if (this.leases.has(key(namespace, name))) throw leaseErrors.alreadyExists(name);
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
    const current = this.leases.get(key(namespace, name));
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

  delete(namespace: string, name: string, options: DeleteOptions = {}): Lease {
    const current = this.leases.get(key(namespace, name));
    if (!current) throw leaseErrors.notFound(name);
    checkPreconditions(leaseErrors, name, current, options.preconditions ?? {});
    this.leases.delete(key(namespace, name));
    const deleted = clone(current);
    deleted.metadata = { ...deleted.metadata, resourceVersion: String(++this.revision) };
    this.publish(namespace, name, { type: 'DELETED', object: deleted });
    return clone(deleted);
  }

  /** Deletes every Lease in the namespace (every Lease when undefined); returns what was deleted. */
  deleteCollection(namespace: string | undefined): Lease[] {
    const victims = this.list(namespace).items;
    return victims.map((lease) => this.delete(lease.metadata?.namespace ?? '', lease.metadata?.name ?? ''));
  }

  /**
   * Watches Leases. Throws 410 (reason `Expired`, like the real server's "too old resource
   * version") when `resourceVersion` predates the retained history.
   */
  watch(filter: WatchFilter, listener: WatchListener, onClose?: () => void): WatchHandle {
    const selector = selectorOf(filter.labelSelector);
    const watcher: Watcher = { filter, selector, listener, onClose, active: true };
    const rv = filter.resourceVersion;
    let backlog: LeaseWatchEvent[];
    if (rv === undefined || rv === '' || rv === '0') {
      const current = this.list(filter.namespace, { ...(filter.name !== undefined ? { name: filter.name } : {}), ...(filter.labelSelector !== undefined ? { labelSelector: filter.labelSelector } : {}) });
      backlog = current.items.map((lease) => ({ type: 'ADDED' as const, object: lease }));
    } else {
      backlog = replay(this.history, this.compactedRevision, rv, watcher);
    }
    this.watchers.add(watcher);
    for (const event of backlog) deliver(watcher, event);
    return {
      stop: () => {
        watcher.active = false;
        this.watchers.delete(watcher);
      },
    };
  }

  /** Number of open watches (tests check that clients clean up). */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Drops history so that watches resuming before the current version get 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.compactedRevision = this.revision;
  }

  /** Ends every open watch stream (its `onClose` runs; no more events). Returns how many ended. */
  stopAllWatches(): number {
    return endWatches(this.watchers);
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
        resourceVersion: String(++this.revision),
        creationTimestamp: creationTimestamp(this.clock.wallNow()),
      },
      spec: clone(body.spec ?? {}),
    };
    this.leases.set(key(namespace, name), stored);
    this.publish(namespace, name, { type: 'ADDED', object: clone(stored) });
    return clone(stored);
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
    // An update that changes nothing is a no-op on the real server: no new resourceVersion, no
    // event. It compares decoded objects, so key order and null-versus-absent do not count.
    if (canonicalJson(next) === canonicalJson(current)) return clone(current);
    next.metadata!.resourceVersion = String(++this.revision);
    this.leases.set(key(namespace, name), next);
    this.publish(namespace, name, { type: 'MODIFIED', object: clone(next) }, current);
    return clone(next);
  }

  private nextUid(): string {
    const n = (++this.uidCounter).toString(16).padStart(12, '0');
    return `00000000-0000-4000-8000-${n}`;
  }

  private publish(namespace: string, name: string, event: LeaseWatchEvent, previous?: Lease): void {
    // `previous` is the stored object this change replaced: nothing refers to it any more.
    const entry: HistoryEntry = { rv: this.revision, namespace, name, event, ...(previous !== undefined ? { previous } : {}) };
    this.history.push(entry);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRevision = dropped.rv;
    }
    for (const watcher of this.watchers) {
      const seen = seenBy(watcher, entry);
      if (seen) deliver(watcher, seen);
    }
  }
}

/** Calls a watcher's listener with `event` in a microtask, unless it stopped by then. */
export function deliver(watcher: Watcher, event: LeaseWatchEvent): void {
  queueMicrotask(() => {
    if (!watcher.active) return;
    try {
      watcher.listener(event);
    } catch {
      // A listener's own failure is its business; other watchers still get their events.
    }
  });
}

/** Ends every watcher of `watchers` (each `onClose` runs in a microtask); returns how many. */
export function endWatches(watchers: Set<Watcher>): number {
  const ended = [...watchers];
  watchers.clear();
  for (const watcher of ended) {
    watcher.active = false;
    queueMicrotask(() => watcher.onClose?.());
  }
  return ended.length;
}

/**
 * What a watch resuming after resourceVersion `rv` is owed from `history`: 410 Expired (the real
 * server's "too old resource version") when `rv` predates the retained history.
 */
export function replay(history: readonly HistoryEntry[], compactedRevision: number, rv: string, watcher: Watcher): LeaseWatchEvent[] {
  const parsed = parseResourceVersion(rv);
  // Beyond every revision this store can reach: nothing to replay, only what comes next.
  const from = parsed > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(parsed);
  if (from < compactedRevision) throw leaseErrors.gone(`too old resource version: ${from} (${compactedRevision})`);
  return history.filter((h) => h.rv > from).flatMap((h) => seenBy(watcher, h) ?? []);
}

export function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function matches(filter: WatchFilter, namespace: string, name: string): boolean {
  return (filter.namespace === undefined || filter.namespace === namespace) && (filter.name === undefined || filter.name === name);
}

/** A `labelSelector` option parsed (400 BadRequest when it does not parse); absent selects everything. */
export function selectorOf(labelSelector: string | undefined): LabelSelector {
  return labelSelector === undefined ? EVERYTHING : parseLabelSelector(labelSelector);
}

/**
 * What one watch sees of a change (a copy), as the API server's watch cache decides it: nothing
 * when neither the new state nor the old one passes; ADDED when only the new one does; DELETED,
 * carrying the old state at the change's resourceVersion, when only the old one does.
 */
export function seenBy(watcher: Watcher, entry: HistoryEntry): LeaseWatchEvent | undefined {
  if (!matches(watcher.filter, entry.namespace, entry.name)) return undefined;
  const { event } = entry;
  const { selector } = watcher;
  if (selector.empty) return clone(event);
  const current = event.object as Lease;
  const before = event.type === 'DELETED' ? current : entry.previous;
  const passesNow = event.type !== 'DELETED' && selector.matches(current.metadata?.labels);
  const passedBefore = before !== undefined && selector.matches(before.metadata?.labels);
  if (passesNow) return { type: passedBefore ? event.type : 'ADDED', object: clone(current) };
  if (!passedBefore) return undefined;
  const gone = clone(before);
  gone.metadata = { ...gone.metadata, resourceVersion: current.metadata?.resourceVersion ?? String(entry.rv) };
  return { type: 'DELETED', object: gone };
}

/** JSON with sorted keys and without null members: equal for objects the API server decodes alike. */
export function canonicalJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (!isRecord(v)) return v;
      return Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== null).map((k) => [k, v[k]]));
    }) as string | undefined;
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return toJson(value, true);
  }
}
