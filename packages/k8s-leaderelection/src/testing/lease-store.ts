/**
 * An in-memory Lease store with the Kubernetes API server's semantics: resourceVersion
 * compare-and-swap, uid preconditions, validation with Status-shaped errors carrying the real
 * `reason` and `code`, MicroTime checks, and watch fan-out with a bounded history (410 Gone
 * beyond it). The testing kit's LeaseClient and the embedded API server both sit on this one
 * implementation.
 */
import { systemClock, type Clock } from '../clock.js';
import { ApiError, makeStatus, type KubeStatus } from '../errors.js';
import { isDnsLabel, isDnsSubdomain } from '../config.js';
import type { Lease, LeaseEventRecord, LeaseWatchEvent, ObjectMeta } from '../lease.js';
import { MAX_INT32, eventBodyOf } from '../record.js';
import { DNS_SUBDOMAIN_MESSAGE, EVERYTHING, labelKeyProblems, labelValueProblems, parseLabelSelector, type LabelSelector } from './label-selector.js';
import { MAX_JSON_DEPTH, clone, nestedDeeperThan, stringify, toJson } from './json-tree.js';

const GROUP = 'coordination.k8s.io';
const RESOURCE = 'leases';
const QUALIFIED = `${RESOURCE}.${GROUP}`;
const MICROTIME_LAYOUT = '2006-01-02T15:04:05.000000Z07:00';
const STRICT_MICROTIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
/** Lease strategies the API accepts (coordination.k8s.io/v1). */
export const LEASE_STRATEGIES = ['OldestEmulationVersion'] as const;

export interface LeaseStoreOptions {
  /** Stamps creationTimestamp. @default the system clock */
  clock?: Clock;
  /** How many past watch events are kept for resuming; older resourceVersions get 410 Gone. @default 1000 */
  historyLimit?: number;
  /**
   * How many Event objects are kept; the oldest go first (the real server expires them after an
   * hour). {@link LeaseStore.events} keeps the same number of most recent records. @default 1000
   */
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
  /** At most this many items; the rest is reachable with `continue`. */
  limit?: number;
  /** The token from a previous page's `metadata.continue`. */
  continue?: string;
  /**
   * Only Leases whose labels match (`labelSelector`, the API server's syntax; 400 BadRequest when
   * it does not parse). With a non-empty selector a page has no `remainingItemCount`, as on the
   * API server, which cannot count what the selector leaves.
   */
  labelSelector?: string;
}

export interface LeaseList {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'LeaseList';
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
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

/** Patch flavours: merge and strategic merge are the same for a Lease (it has no keyed lists). */
export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

export interface WriteResult {
  lease: Lease;
  /** True when the write created the object (PUT to a missing name, apply). */
  created: boolean;
}

/**
 * A core/v1 Event as JSON: the fields kubectl shows and leasekit writes are typed, the rest is kept
 * as sent. The store keeps these so `kubectl get events` against the embedded server works.
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

/** The answer of {@link LeaseStore.listEvents}: a core/v1 EventList. */
export interface EventList {
  apiVersion: 'v1';
  kind: 'EventList';
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeEvent[];
}

/** Paging options for {@link LeaseStore.listEvents}. */
export interface EventListOptions {
  limit?: number;
  continue?: string;
  /** Only Events whose labels match, like {@link ListOptions.labelSelector}. */
  labelSelector?: string;
}

interface HistoryEntry {
  rv: number;
  namespace: string;
  name: string;
  event: LeaseWatchEvent;
  /** The Lease before a MODIFIED event: a label selector needs both states. */
  previous?: Lease;
}

interface Watcher {
  filter: WatchFilter;
  selector: LabelSelector;
  listener: WatchListener;
  onClose: (() => void) | undefined;
  active: boolean;
}


function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What Go's JSON decoder calls a value's type in "cannot unmarshal X into ..." errors. */
function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

function details(name: string | undefined, extra?: KubeStatus['details']): KubeStatus['details'] {
  return { ...(name !== undefined ? { name } : {}), group: GROUP, kind: RESOURCE, ...extra };
}

/**
 * Joins field errors the way the API server's error aggregate prints them: one error alone, several
 * in brackets (`[a: ..., b: ...]`).
 */
function aggregate(causes: readonly { message: string; field: string }[]): string {
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  return parts.length === 1 ? parts[0]! : `[${parts.join(', ')}]`;
}

/** Status errors exactly as the real API server words them. */
export const leaseErrors = {
  notFound: (name: string) =>
    new ApiError(makeStatus(404, 'NotFound', `${QUALIFIED} "${name}" not found`, details(name))),
  alreadyExists: (name: string) =>
    new ApiError(makeStatus(409, 'AlreadyExists', `${QUALIFIED} "${name}" already exists`, details(name))),
  conflict: (name: string) =>
    new ApiError(
      makeStatus(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${QUALIFIED} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        details(name),
      ),
    ),
  preconditionFailed: (name: string, detail: string) =>
    new ApiError(
      makeStatus(409, 'Conflict', `Operation cannot be fulfilled on ${QUALIFIED} "${name}": ${detail}`, details(name)),
    ),
  invalid: (name: string, causes: { reason: string; message: string; field: string }[]) =>
    new ApiError(
      makeStatus(422, 'Invalid', `Lease.coordination.k8s.io "${name}" is invalid: ${aggregate(causes)}`, {
        name,
        group: GROUP,
        kind: 'Lease',
        causes,
      }),
    ),
  /**
   * The update-without-resourceVersion error. The API server builds it from the resource, not the
   * kind (a known oddity of its generic registry), so it reads `leases.coordination.k8s.io`.
   */
  resourceVersionRequired: (name: string) => {
    const causes = [{ reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }];
    return new ApiError(
      makeStatus(422, 'Invalid', `${QUALIFIED} "${name}" is invalid: ${aggregate(causes)}`, { name, group: GROUP, kind: RESOURCE, causes }),
    );
  },
  /**
   * A patch whose result does not decode as a Lease: the API server answers 422 with the patched
   * object as the invalid value of a field named `patch`, and no kind or name.
   */
  invalidPatch: (patched: string, reason: string) => {
    const causes = [{ reason: 'FieldValueInvalid', field: 'patch', message: `Invalid value: ${JSON.stringify(patched)}: ${reason}` }];
    return new ApiError(makeStatus(422, 'Invalid', ` "" is invalid: ${aggregate(causes)}`, { causes }));
  },
  /** A resourceVersion that is not an unsigned integer (the API server's ParseResourceVersion). */
  invalidResourceVersion: (rv: string, problem: 'invalid syntax' | 'value out of range') =>
    new ApiError(
      makeStatus(400, 'BadRequest', `invalid resource version: resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: ${problem}`),
    ),
  badRequest: (message: string) => new ApiError(makeStatus(400, 'BadRequest', message)),
  gone: (message: string) => new ApiError(makeStatus(410, 'Expired', message)),
  internal: (message: string) => new ApiError(makeStatus(500, 'InternalError', message)),
};

/**
 * True for what Go's `time.Parse` accepts in the MicroTime layout: exactly six fractional digits,
 * and a date that exists. `Date.parse` rolls 2024-02-31 over into March; Go rejects it.
 */
function isMicroTime(value: string): boolean {
  if (!STRICT_MICROTIME.test(value)) return false;
  const wallClock = value.slice(0, 19);
  const asUtc = Date.parse(`${wallClock}Z`);
  return !Number.isNaN(asUtc) && new Date(asUtc).toISOString().slice(0, 19) === wallClock;
}

/**
 * A resourceVersion as the API server parses it (Go's strconv.ParseUint, base 10, 64 bits): '' and
 * '0' mean "any"; anything else that is not an unsigned integer is refused with 400 BadRequest.
 */
function parseResourceVersion(rv: string | undefined): bigint {
  if (rv === undefined || rv === '' || rv === '0') return 0n;
  if (!/^[0-9]+$/.test(rv)) throw leaseErrors.invalidResourceVersion(rv, 'invalid syntax');
  const value = BigInt(rv);
  if (value > 0xffff_ffff_ffff_ffffn) throw leaseErrors.invalidResourceVersion(rv, 'value out of range');
  return value;
}

/** Status errors for core/v1 Events (core group: no group in the messages and details). */
export const eventErrors = {
  notFound: (name: string) => new ApiError(makeStatus(404, 'NotFound', `events "${name}" not found`, { name, kind: 'events' })),
  alreadyExists: (name: string) =>
    new ApiError(makeStatus(409, 'AlreadyExists', `events "${name}" already exists`, { name, kind: 'events' })),
  invalid: (name: string, causes: { reason: string; message: string; field: string }[]) =>
    new ApiError(makeStatus(422, 'Invalid', `Event "${name}" is invalid: ${aggregate(causes)}`, { name, kind: 'Event', causes })),
};

/**
 * Why Go's JSON decoder would refuse a body, in its words: `typed` errors come from decoding into
 * the Go type (a create or update prefixes them with "Lease in version ..."), `unrecognized` ones
 * from reading the body at all, `bare` ones stand alone.
 */
interface DecodeFailure {
  readonly form: 'typed' | 'unrecognized' | 'bare';
  readonly message: string;
}

const typed = (message: string): DecodeFailure => ({ form: 'typed', message });

/** The ObjectMeta fields Go decodes as strings. */
const META_STRINGS = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'selfLink'] as const;

/** Decoding problems of an ObjectMeta: string fields, the label and annotation string maps, finalizers. */
function metaDecodeFailure(meta: Record<string, unknown>): DecodeFailure | undefined {
  const field = (name: string, kind: string, type: string): DecodeFailure =>
    typed(`json: cannot unmarshal ${kind} into Go struct field ObjectMeta.metadata.${name} of type ${type}`);
  for (const name of META_STRINGS) {
    const v = meta[name];
    if (v != null && typeof v !== 'string') return field(name, jsonKind(v), 'string');
  }
  for (const name of ['labels', 'annotations'] as const) {
    const map = meta[name];
    if (map == null) continue;
    if (!isRecord(map)) return field(name, jsonKind(map), 'map[string]string');
    // null decodes to "" (normalizeMeta stores it so); anything else must be a string.
    for (const v of Object.values(map)) if (v !== null && typeof v !== 'string') return field(name, jsonKind(v), 'string');
  }
  const finalizers = meta.finalizers;
  if (finalizers != null) {
    if (!Array.isArray(finalizers)) return field('finalizers', jsonKind(finalizers), '[]string');
    for (const v of finalizers as unknown[]) if (v !== null && typeof v !== 'string') return field('finalizers', jsonKind(v), 'string');
  }
  return undefined;
}

/** The wire-level checks the real server's JSON decoder makes on a Lease, or undefined when it decodes. */
function leaseDecodeFailure(lease: unknown): DecodeFailure | undefined {
  if (!isRecord(lease)) return typed('the body is not a JSON object');
  const tooDeep = deepestOpening(lease);
  if (tooDeep !== undefined) return { form: 'unrecognized', message: `couldn't get version/kind; json parse error: invalid character '${tooDeep}' exceeded max depth` };
  // apiVersion and kind may be omitted (the URL says what the body is) but must not contradict it.
  if (lease.apiVersion != null && lease.apiVersion !== '' && lease.apiVersion !== `${GROUP}/v1`) {
    return { form: 'bare', message: `the API version in the data (${String(lease.apiVersion)}) does not match the expected API version (${GROUP}/v1)` };
  }
  if (lease.kind != null && lease.kind !== '' && lease.kind !== 'Lease') {
    return typed(`no kind ${JSON.stringify(String(lease.kind))} is registered for version "${GROUP}/v1"`);
  }
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

/** '{' or '[': the bracket that nests deeper than the API server's decoder reads, if any. */
function deepestOpening(value: unknown): '{' | '[' | undefined {
  const node = nestedDeeperThan(value, MAX_JSON_DEPTH);
  return node === undefined ? undefined : Array.isArray(node) ? '[' : '{';
}

/** Checks the wire-level types the real server's JSON decoder enforces (400 BadRequest). */
function decodeCheck(lease: unknown): asserts lease is Lease {
  const failure = leaseDecodeFailure(lease);
  if (failure === undefined) return;
  if (failure.form === 'bare') throw leaseErrors.badRequest(failure.message);
  if (failure.form === 'unrecognized') throw leaseErrors.badRequest(`the object provided is unrecognized (must be of type Lease): ${failure.message}`);
  throw leaseErrors.badRequest(`Lease in version "v1" cannot be handled as a Lease: ${failure.message}`);
}

/**
 * The patched object must decode as a Lease; when it does not, the API server answers 422 Invalid
 * naming the field `patch` (not 400: the body itself was a well-formed patch).
 */
function decodePatched(patched: unknown): asserts patched is Lease {
  const failure = leaseDecodeFailure(patched);
  if (failure !== undefined) throw leaseErrors.invalidPatch(stringify(patched) ?? 'null', failure.message);
}

type Cause = { reason: string; message: string; field: string };

/** The API server's bound on all annotation keys and values together (256 KiB). */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/**
 * ObjectMeta validation of labels and annotations (the API server's ValidateLabels and
 * ValidateAnnotations): keys are qualified names (annotation keys in any case), label values are
 * short names, and all annotations together fit in 256 KiB. Expects decoded (string) maps.
 */
function metaCauses(meta: ObjectMeta | undefined): Cause[] {
  const causes: Cause[] = [];
  const invalid = (field: string, value: string, problem: string): void => {
    causes.push({ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(value)}: ${problem}` });
  };
  for (const [key, value] of Object.entries(meta?.labels ?? {})) {
    for (const problem of labelKeyProblems(key)) invalid('metadata.labels', key, problem);
    for (const problem of labelValueProblems(value ?? '')) invalid('metadata.labels', value ?? '', problem);
  }
  let annotationBytes = 0;
  for (const [key, value] of Object.entries(meta?.annotations ?? {})) {
    for (const problem of labelKeyProblems(key.toLowerCase())) invalid('metadata.annotations', key, problem);
    annotationBytes += Buffer.byteLength(key) + Buffer.byteLength(value ?? '');
  }
  if (annotationBytes > ANNOTATIONS_MAX_BYTES) {
    causes.push({ reason: 'FieldValueTooLong', field: 'metadata.annotations', message: `Too long: may not be more than ${ANNOTATIONS_MAX_BYTES} bytes` });
  }
  return causes;
}

/** A decoded copy of metadata: null label and annotation values become "", as Go's decoder makes them. */
function normalizeMeta(meta: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = { ...meta };
  for (const name of ['labels', 'annotations'] as const) {
    const map = out[name];
    if (map != null) out[name] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v ?? '']));
  }
  return out;
}

/** Field validation (422 Invalid with causes), like the API server's ValidateLease. */
function validate(lease: Lease, name: string): void {
  const causes: Cause[] = [];
  if (!isDnsSubdomain(name)) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: ${JSON.stringify(name)}: ${DNS_SUBDOMAIN_MESSAGE}`,
    });
  }
  causes.push(...metaCauses(lease.metadata));
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

/** RFC 7386 JSON merge patch, without recursion (a patch may nest as deep as its client likes). */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return clone(patch);
  const root: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  const pending: [Record<string, unknown>, Record<string, unknown>][] = [[root, patch]];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [result, patchNode] = item;
    for (const [key, value] of Object.entries(patchNode)) {
      if (value === null) delete result[key];
      else if (!isRecord(value)) result[key] = clone(value);
      else {
        const existing = result[key];
        const merged: Record<string, unknown> = isRecord(existing) ? { ...existing } : {};
        result[key] = merged;
        pending.push([merged, value]);
      }
    }
  }
  return root;
}

/** RFC 6902 JSON patch, the operations kubectl uses (add, replace, remove, test, copy, move). */
function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw leaseErrors.badRequest('json patch must be an array of operations');
  let doc = clone(target);
  const parse = (path: unknown): string[] => {
    if (typeof path !== 'string' || (path !== '' && !path.startsWith('/'))) throw leaseErrors.badRequest(`invalid json patch path ${JSON.stringify(path)}`);
    return path === '' ? [] : path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (parts: string[]): [Record<string, unknown> | unknown[], string] => {
    let node: unknown = doc;
    for (const part of parts.slice(0, -1)) {
      node = Array.isArray(node) ? node[Number(part)] : isRecord(node) ? node[part] : undefined;
      if (node === undefined) throw leaseErrors.badRequest(`json patch path not found: /${parts.join('/')}`);
    }
    if (!isRecord(node) && !Array.isArray(node)) throw leaseErrors.badRequest(`json patch path not found: /${parts.join('/')}`);
    return [node, parts[parts.length - 1] ?? ''];
  };
  const read = (parts: string[]): unknown => {
    const [parent, key] = parentOf(parts);
    return Array.isArray(parent) ? parent[Number(key)] : parent[key];
  };
  const write = (parts: string[], value: unknown, insert: boolean): void => {
    if (parts.length === 0) {
      doc = value;
      return;
    }
    const [parent, key] = parentOf(parts);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (insert) parent.splice(index, 0, value);
      else parent[index] = value;
    } else parent[key] = value;
  };
  const remove = (parts: string[]): void => {
    const [parent, key] = parentOf(parts);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else {
      if (!(key in parent)) throw leaseErrors.badRequest(`json patch: nothing to remove at /${parts.join('/')}`);
      delete parent[key];
    }
  };
  for (const raw of ops) {
    if (!isRecord(raw)) throw leaseErrors.badRequest('json patch operation must be an object');
    const path = parse(raw.path);
    switch (raw.op) {
      case 'add':
        write(path, clone(raw.value), true);
        break;
      case 'replace':
        if (read(path) === undefined) throw leaseErrors.badRequest(`json patch: nothing to replace at ${String(raw.path)}`);
        write(path, clone(raw.value), false);
        break;
      case 'remove':
        remove(path);
        break;
      case 'test':
        if (stringify(read(path)) !== stringify(raw.value)) {
          throw new ApiError(makeStatus(422, 'Invalid', `json patch test operation failed at ${String(raw.path)}`));
        }
        break;
      case 'copy':
      case 'move': {
        const from = parse(raw.from);
        const value = clone(read(from));
        if (raw.op === 'move') remove(from);
        write(path, value, true);
        break;
      }
      default:
        throw leaseErrors.badRequest(`json patch: unknown operation ${JSON.stringify(raw.op)}`);
    }
  }
  return doc;
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
  /** Events recorded through {@link recordEvent}, oldest first. */
  readonly events: LeaseEventRecord[] = [];
  private revision = 0;
  private uidCounter = 0;
  /** Event objects, by namespace/name, oldest first. */
  private readonly eventObjects = new Map<string, KubeEvent>();
  private readonly eventLimit: number;
  // Events count on their own, so that recording one never shifts Lease resourceVersions or uids.
  private eventRevision = 0;
  private eventUidCounter = 0;
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
    const { page, more } = paginate(all, options, selector);
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'LeaseList',
      metadata: { resourceVersion: this.resourceVersion, ...more },
      items: page.map(([, lease]) => clone(lease)),
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

  /** PUT: compare-and-swap on resourceVersion; creates when the name is missing and no resourceVersion is given. */
  update(namespace: string, name: string, body: unknown): WriteResult {
    decodeCheck(body);
    this.checkNamespaceAndName(namespace, body, name);
    const current = this.leases.get(key(namespace, name));
    const rv = body.metadata?.resourceVersion;
    if (!current) {
      if (rv) throw leaseErrors.notFound(name);
      validate(body, name);
      return { lease: this.insert(namespace, name, body), created: true };
    }
    if (!rv) {
      throw leaseErrors.resourceVersionRequired(name);
    }
    const uid = body.metadata?.uid;
    if (uid && uid !== current.metadata?.uid) {
      throw leaseErrors.preconditionFailed(name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata?.uid ?? ''}`);
    }
    if (rv !== current.metadata?.resourceVersion) throw leaseErrors.conflict(name);
    validate(body, name);
    return { lease: this.replace(namespace, name, current, body), created: false };
  }

  /** PATCH: merge / strategic merge / JSON patch on the current object; apply creates when missing. */
  patch(namespace: string, name: string, patch: unknown, type: PatchType): WriteResult {
    const current = this.leases.get(key(namespace, name));
    if (!current && type !== 'apply') throw leaseErrors.notFound(name);
    const base: Lease = current ? clone(current) : { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace } };
    const patched = type === 'json' ? jsonPatch(base, patch) : mergePatch(base, patch);
    // Server-side apply decodes the patch itself as an object; the other flavours decode the result.
    if (type === 'apply') decodeCheck(patched);
    else decodePatched(patched);
    this.checkNamespaceAndName(namespace, patched, name);
    const rv = patched.metadata?.resourceVersion;
    if (current && rv && rv !== current.metadata?.resourceVersion) throw leaseErrors.conflict(name);
    const uid = patched.metadata?.uid;
    if (current && uid && uid !== current.metadata?.uid) {
      throw leaseErrors.preconditionFailed(name, `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${current.metadata?.uid ?? ''}`);
    }
    validate(patched, name);
    if (!current) {
      if (patched.metadata) delete patched.metadata.resourceVersion;
      return { lease: this.insert(namespace, name, patched), created: true };
    }
    return { lease: this.replace(namespace, name, current, patched), created: false };
  }

  delete(namespace: string, name: string, options: DeleteOptions = {}): Lease {
    const current = this.leases.get(key(namespace, name));
    if (!current) throw leaseErrors.notFound(name);
    const pre = options.preconditions ?? {};
    if (pre.uid && pre.uid !== current.metadata?.uid) {
      throw leaseErrors.preconditionFailed(name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata?.uid ?? ''}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== current.metadata?.resourceVersion) {
      throw leaseErrors.preconditionFailed(name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata?.resourceVersion ?? ''}`);
    }
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
      const parsed = parseResourceVersion(rv);
      // Beyond every revision this store can reach: nothing to replay, only what comes next.
      const from = parsed > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(parsed);
      if (from < this.compactedRevision) {
        throw leaseErrors.gone(`too old resource version: ${from} (${this.compactedRevision})`);
      }
      backlog = this.history.filter((h) => h.rv > from).flatMap((h) => seenBy(watcher, h) ?? []);
    }
    this.watchers.add(watcher);
    for (const event of backlog) this.deliver(watcher, event);
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

  /** Keeps {@link events} bounded like the Event objects, so a long-running server cannot grow without limit. */
  private pushEventRecord(record: LeaseEventRecord): void {
    this.events.push(record);
    if (this.events.length > this.eventLimit) this.events.splice(0, this.events.length - this.eventLimit);
  }

  /** Ends every open watch stream (its `onClose` runs; no more events). Returns how many ended. */
  stopAllWatches(): number {
    const ended = [...this.watchers];
    this.watchers.clear();
    for (const watcher of ended) {
      watcher.active = false;
      queueMicrotask(() => watcher.onClose?.());
    }
    return ended.length;
  }

  /**
   * Records a Kubernetes Event (what `recordEvents` produces); kept in {@link events}, and as an
   * Event object (like client-go's recorder would create) for {@link listEvents}.
   */
  recordEvent(event: LeaseEventRecord): void {
    this.pushEventRecord({ ...event });
    // client-go names events "<object>.<unix nanoseconds in hex>".
    let name = `${event.leaseName}.${(BigInt(Math.max(0, Math.floor(event.timeMs))) * 1_000_000n).toString(16)}`;
    for (let n = 1; this.eventObjects.has(key(event.namespace, name)); n++) name = `${name.replace(/-\d+$/, '')}-${n}`;
    this.insertEvent(event.namespace, name, { ...eventBodyOf(event) });
  }

  /**
   * POST of a core/v1 Event, validated like the API server does. An Event about a Lease is also
   * appended to {@link events}, so tests see events the same way whichever client recorded them.
   */
  createEvent(namespace: string, body: unknown): KubeEvent {
    const event = decodeEvent(body);
    if (!isDnsLabel(namespace)) throw leaseErrors.badRequest(`invalid namespace ${JSON.stringify(namespace)}`);
    const meta = event.metadata ?? {};
    if (meta.namespace && meta.namespace !== namespace) {
      throw leaseErrors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    let name = typeof meta.name === 'string' ? meta.name : '';
    if (name === '' && typeof meta.generateName === 'string' && meta.generateName !== '') {
      // The real server appends five random characters; a counter keeps tests reproducible.
      name = `${meta.generateName}${(++this.generatedNames).toString(36).padStart(5, '0')}`;
    }
    if (meta.resourceVersion) throw leaseErrors.internal('resourceVersion should not be set on objects to be created');
    validateEvent(event, name, namespace);
    if (this.eventObjects.has(key(namespace, name))) throw eventErrors.alreadyExists(name);
    const stored = this.insertEvent(namespace, name, event);
    if (stored.involvedObject?.kind === 'Lease') this.pushEventRecord(leaseEventRecordOf(stored, namespace, this.clock.wallNow()));
    return stored;
  }

  /** GET of one Event. */
  getEvent(namespace: string, name: string): KubeEvent {
    const event = this.eventObjects.get(key(namespace, name));
    if (!event) throw eventErrors.notFound(name);
    return clone(event);
  }

  /** LIST of Events in a namespace (every namespace when undefined), paged like {@link list}. */
  listEvents(namespace: string | undefined, options: EventListOptions = {}): EventList {
    const selector = selectorOf(options.labelSelector);
    const all = [...this.eventObjects.entries()]
      .filter(([k, event]) => (namespace === undefined || k.startsWith(`${namespace}/`)) && selector.matches(event.metadata?.labels))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const { page, more } = paginate(all, options, selector);
    return {
      apiVersion: 'v1',
      kind: 'EventList',
      metadata: { resourceVersion: String(this.eventRevision), ...more },
      items: page.map(([, event]) => clone(event)),
    };
  }

  /** PATCH of an Event (client-go's recorder patches `count` and `lastTimestamp` of repeats). */
  patchEvent(namespace: string, name: string, patch: unknown, type: PatchType): KubeEvent {
    const current = this.eventObjects.get(key(namespace, name));
    if (!current) throw eventErrors.notFound(name);
    const patched = decodePatchedEvent(type === 'json' ? jsonPatch(clone(current), patch) : mergePatch(clone(current), patch));
    if (patched.metadata?.name && patched.metadata.name !== name) {
      throw leaseErrors.badRequest(`the name of the object (${patched.metadata.name}) does not match the name on the URL (${name})`);
    }
    const rv = patched.metadata?.resourceVersion;
    if (rv && rv !== current.metadata?.resourceVersion) {
      throw new ApiError(
        makeStatus(409, 'Conflict', `Operation cannot be fulfilled on events "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, kind: 'events' }),
      );
    }
    validateEvent(patched, name, namespace);
    const next: KubeEvent = {
      ...patched,
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { ...normalizeMeta(patched.metadata ?? {}), name, namespace, uid: current.metadata?.uid, creationTimestamp: current.metadata?.creationTimestamp, resourceVersion: String(++this.eventRevision) },
    };
    this.eventObjects.set(key(namespace, name), next);
    return clone(next);
  }

  /** DELETE of an Event; returns what was deleted. */
  deleteEvent(namespace: string, name: string): KubeEvent {
    const current = this.eventObjects.get(key(namespace, name));
    if (!current) throw eventErrors.notFound(name);
    this.eventObjects.delete(key(namespace, name));
    return clone(current);
  }

  private insertEvent(namespace: string, name: string, body: KubeEvent): KubeEvent {
    const stored: KubeEvent = {
      ...clone(body),
      apiVersion: 'v1',
      kind: 'Event',
      metadata: {
        ...normalizeMeta(clone(body.metadata ?? {})),
        name,
        namespace,
        uid: `00000000-0000-4000-9000-${(++this.eventUidCounter).toString(16).padStart(12, '0')}`,
        resourceVersion: String(++this.eventRevision),
        creationTimestamp: new Date(Math.floor(this.clock.wallNow() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      },
    };
    delete stored.metadata!.generateName;
    this.eventObjects.set(key(namespace, name), stored);
    while (this.eventObjects.size > this.eventLimit) {
      const oldest = this.eventObjects.keys().next().value;
      if (oldest === undefined) break;
      this.eventObjects.delete(oldest);
    }
    return clone(stored);
  }

  private checkNamespaceAndName(namespace: string, body: Lease, pathName: string | undefined): string {
    if (!isDnsLabel(namespace)) throw leaseErrors.badRequest(`invalid namespace ${JSON.stringify(namespace)}`);
    const bodyNamespace = body.metadata?.namespace;
    if (bodyNamespace && bodyNamespace !== namespace) {
      throw leaseErrors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const name = body.metadata?.name;
    if (pathName !== undefined) {
      if (name && name !== pathName) throw leaseErrors.badRequest(`the name of the object (${name}) does not match the name on the URL (${pathName})`);
      return pathName;
    }
    if (typeof name !== 'string' || name === '') {
      throw new ApiError(
        makeStatus(422, 'Invalid', 'Lease.coordination.k8s.io "" is invalid: metadata.name: Required value: name or generateName is required', {
          group: GROUP,
          kind: 'Lease',
          causes: [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }],
        }),
      );
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
        creationTimestamp: new Date(Math.floor(this.clock.wallNow() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
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
      if (seen) this.deliver(watcher, seen);
    }
  }

  private deliver(watcher: Watcher, event: LeaseWatchEvent): void {
    queueMicrotask(() => {
      if (!watcher.active) return;
      try {
        watcher.listener(event);
      } catch {
        // A listener's own failure is its business; other watchers still get their events.
      }
    });
  }
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function matches(filter: WatchFilter, namespace: string, name: string): boolean {
  return (filter.namespace === undefined || filter.namespace === namespace) && (filter.name === undefined || filter.name === name);
}

/** A `labelSelector` option parsed (400 BadRequest when it does not parse); absent selects everything. */
function selectorOf(labelSelector: string | undefined): LabelSelector {
  return labelSelector === undefined ? EVERYTHING : parseLabelSelector(labelSelector);
}

/**
 * What one watch sees of a change (a copy), as the API server's watch cache decides it: nothing
 * when neither the new state nor the old one passes; ADDED when only the new one does; DELETED,
 * carrying the old state at the change's resourceVersion, when only the old one does.
 */
function seenBy(watcher: Watcher, entry: HistoryEntry): LeaseWatchEvent | undefined {
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

/**
 * Cuts one page out of sorted entries; `continue` tokens are opaque offsets. A page selected by
 * labels has no `remainingItemCount` (the API server leaves it out when a selector is set).
 */
function paginate<T>(all: [string, T][], options: { limit?: number; continue?: string }, selector: LabelSelector = EVERYTHING): {
  page: [string, T][];
  more: { continue?: string; remainingItemCount?: number };
} {
  let start = 0;
  if (options.continue) {
    const decoded = Number(Buffer.from(options.continue, 'base64').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0) throw leaseErrors.badRequest('invalid continue token');
    start = decoded;
  }
  const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
  const page = all.slice(start, start + limit);
  const next = start + page.length;
  if (next >= all.length) return { page, more: {} };
  const token = Buffer.from(String(next)).toString('base64');
  return { page, more: selector.empty ? { continue: token, remainingItemCount: all.length - next } : { continue: token } };
}

/** The decoding checks for an Event body, like {@link leaseDecodeFailure} for a Lease. */
function eventDecodeFailure(body: unknown): DecodeFailure | undefined {
  if (!isRecord(body)) return typed('the body is not a JSON object');
  const tooDeep = deepestOpening(body);
  if (tooDeep !== undefined) return { form: 'unrecognized', message: `couldn't get version/kind; json parse error: invalid character '${tooDeep}' exceeded max depth` };
  if (body.apiVersion != null && body.apiVersion !== '' && body.apiVersion !== 'v1') {
    return { form: 'bare', message: `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (v1)` };
  }
  if (body.kind != null && body.kind !== '' && body.kind !== 'Event') {
    return typed(`no kind ${JSON.stringify(String(body.kind))} is registered for version "v1"`);
  }
  for (const field of ['metadata', 'involvedObject', 'source'] as const) {
    if (body[field] != null && !isRecord(body[field])) return typed(`${field} must be an object`);
  }
  if (isRecord(body.metadata)) {
    const meta = metaDecodeFailure(body.metadata);
    if (meta) return meta;
  }
  if (body.count != null && (typeof body.count !== 'number' || !Number.isInteger(body.count))) {
    const what = typeof body.count === 'number' ? `number ${String(body.count)}` : jsonKind(body.count);
    return typed(`json: cannot unmarshal ${what} into Go struct field Event.count of type int32`);
  }
  return undefined;
}

/** The decoding checks for an Event body (400 BadRequest), like {@link decodeCheck} for a Lease. */
function decodeEvent(body: unknown): KubeEvent {
  const failure = eventDecodeFailure(body);
  if (failure === undefined) return body as KubeEvent;
  if (failure.form === 'bare') throw leaseErrors.badRequest(failure.message);
  if (failure.form === 'unrecognized') throw leaseErrors.badRequest(`the object provided is unrecognized (must be of type Event): ${failure.message}`);
  throw leaseErrors.badRequest(`Event in version "v1" cannot be handled as a Event: ${failure.message}`);
}

/** A patched Event must decode as one: 422 Invalid naming the field `patch` otherwise, as for a Lease. */
function decodePatchedEvent(patched: unknown): KubeEvent {
  const failure = eventDecodeFailure(patched);
  if (failure !== undefined) throw leaseErrors.invalidPatch(stringify(patched) ?? 'null', failure.message);
  return patched as KubeEvent;
}

/** The API server's checks on a core/v1 Event that matter here (422 Invalid). */
function validateEvent(event: KubeEvent, name: string, namespace: string): void {
  const causes: Cause[] = [];
  if (name === '') {
    causes.push({ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' });
  } else if (!isDnsSubdomain(name)) {
    causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(name)}: ${DNS_SUBDOMAIN_MESSAGE}` });
  }
  causes.push(...metaCauses(event.metadata));
  const involvedNamespace = event.involvedObject?.namespace;
  if (involvedNamespace && involvedNamespace !== namespace) {
    causes.push({ reason: 'FieldValueInvalid', field: 'involvedObject.namespace', message: `Invalid value: ${JSON.stringify(involvedNamespace)}: does not match event.namespace` });
  }
  if (causes.length > 0) throw eventErrors.invalid(name, causes);
}

/** The {@link LeaseEventRecord} view of an Event object about a Lease. */
function leaseEventRecordOf(event: KubeEvent, namespace: string, nowMs: number): LeaseEventRecord {
  const stamped = [event.eventTime, event.lastTimestamp, event.firstTimestamp].find((t): t is string => typeof t === 'string' && t !== '');
  const parsed = stamped === undefined ? Number.NaN : Date.parse(stamped);
  return {
    namespace,
    leaseName: event.involvedObject?.name ?? '',
    ...(event.involvedObject?.uid !== undefined ? { leaseUid: event.involvedObject.uid } : {}),
    type: event.type === 'Warning' ? 'Warning' : 'Normal',
    reason: event.reason ?? '',
    message: event.message ?? '',
    reportingInstance: event.reportingInstance ?? event.source?.component ?? '',
    timeMs: Number.isNaN(parsed) ? nowMs : parsed,
  };
}

/** JSON with sorted keys and without null members: equal for objects the API server decodes alike. */
function canonicalJson(value: unknown): string | undefined {
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
