/**
 * The in-memory `coordination.k8s.io/v1beta1` LeaseCandidate store: the API server's validation
 * of LeaseCandidates (pkg/apis/coordination/validation), resourceVersion compare-and-swap, uid
 * and resourceVersion preconditions, label and name selectors, and watch with a bounded history
 * (410 beyond it). The testing kit's clients and the embedded API server (and its coordinator)
 * sit on this one implementation; it reuses the Lease store's decoding rules, and its versions,
 * history and watch are the shared {@link ObjectHistory}'s, as the Lease store's are.
 */
import { systemClock, type Clock } from '../clock.js';
import { labelKeyProblems } from '../labels.js';
import type { LeaseCandidate, LeaseWatchEvent } from '../lease.js';
import { candidateErrors, type Cause } from './lease-errors.js';
import { clone, stringify } from './json-tree.js';
import { isMicroTime, MICROTIME_LAYOUT, type UpdateOptions } from './lease-store.js';
import { ObjectHistory, VersionedStore, type ListOptions } from './object-history.js';
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
  normalizeMeta,
  patchDecodeError,
  typed,
  type DecodeFailure,
} from './object-rules.js';

export { candidateErrors };

export const CANDIDATE_API_VERSION = 'coordination.k8s.io/v1beta1';
const VERSION = 'v1beta1';
const KIND = 'LeaseCandidate';
/** The strategies without a domain prefix the API accepts (`example.com/x` is any qualified name). */
export const CANDIDATE_STRATEGIES = ['OldestEmulationVersion'] as const;

export interface CandidateStoreOptions {
  /** Stamps creationTimestamp. @default the system clock */
  clock?: Clock;
  /** How many past watch events are kept for resuming; older resourceVersions get 410 Gone. @default 1000 */
  historyLimit?: number;
}

export interface CandidateList {
  apiVersion: typeof CANDIDATE_API_VERSION;
  kind: 'LeaseCandidateList';
  metadata: { resourceVersion: string };
  /** Every matching LeaseCandidate, sorted by namespace and name. */
  items: LeaseCandidate[];
}

/** A watch notification about a LeaseCandidate (for ERROR, a Status object). */
export interface CandidateWatchEvent {
  type: LeaseWatchEvent['type'];
  object: LeaseCandidate | Record<string, unknown>;
}

export type CandidateWatchListener = (event: CandidateWatchEvent) => void;

export interface CandidateWriteResult {
  candidate: LeaseCandidate;
  /** True when the write created the object (PUT to a missing name, apply). */
  created: boolean;
}

/** Options of {@link CandidateStore.deleteCollection}. */
export interface DeleteCollectionOptions {
  labelSelector?: string;
}

// --- versions ------------------------------------------------------------------------------------

/** A parsed semantic version (major, minor, patch, pre-release identifiers). */
export interface Semver {
  readonly core: readonly [number, number, number];
  readonly pre: readonly string[];
}

const STRICT_SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

/** Strict semver, as blang/semver's `Parse` (the API server's validation): no `v`, three parts. */
export function parseSemver(text: string): Semver | undefined {
  const m = STRICT_SEMVER.exec(text);
  if (!m) return undefined;
  const pre = m[4] === undefined ? [] : m[4].split('.');
  if (pre.some((p) => /^0\d+$/.test(p))) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre };
}

/**
 * Tolerant semver, as blang/semver's `ParseTolerant` (the coordinator's ranking): surrounding
 * spaces and a leading `v` are dropped, missing minor and patch parts count as 0, and leading
 * zeros are allowed.
 */
export function parseSemverTolerant(text: string): Semver | undefined {
  let s = text.trim().replace(/^v/, '');
  const cut = s.search(/[-+]/);
  const core = (cut < 0 ? s : s.slice(0, cut)).split('.');
  if (core.length > 3 || core.some((p) => !/^\d+$/.test(p))) return undefined;
  while (core.length < 3) core.push('0');
  s = core.map((p) => String(Number(p))).join('.') + (cut < 0 ? '' : s.slice(cut));
  return parseSemver(s);
}

/** Semver precedence: negative when `a` is older than `b`, 0 when equal. */
export function compareSemver(a: Semver, b: Semver): number {
  for (let i = 0; i < 3; i++) if (a.core[i] !== b.core[i]) return a.core[i]! - b.core[i]!;
  if (a.pre.length === 0 || b.pre.length === 0) return b.pre.length - a.pre.length;
  for (let i = 0; i < Math.min(a.pre.length, b.pre.length); i++) {
    const x = a.pre[i]!;
    const y = b.pre[i]!;
    if (x === y) continue;
    const xn = /^\d+$/.test(x);
    const yn = /^\d+$/.test(y);
    if (xn && yn) return Number(x) - Number(y);
    if (xn !== yn) return xn ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return a.pre.length - b.pre.length;
}

// --- decoding and validation ---------------------------------------------------------------------

const NAME_MAX = 253;
const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;

/** The API server's candidate name rule (IsConfigMapKey), in its words. */
function candidateNameCauses(name: string): Cause[] {
  const problems: string[] = [];
  if (name.length > NAME_MAX) problems.push(`must be no more than ${NAME_MAX} characters`);
  if (!CONFIG_KEY.test(name)) {
    problems.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')");
  }
  if (name === '.') problems.push("must not be '.'");
  else if (name === '..') problems.push("must not be '..'");
  else if (name.startsWith('..')) problems.push("must not start with '..'");
  return problems.map((p) => ({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(name)}: ${p}` }));
}

/** The wire-level checks the real server's JSON decoder makes on a LeaseCandidate. */
function candidateDecodeFailure(body: unknown): DecodeFailure | undefined {
  const envelope = envelopeDecodeFailure(body, CANDIDATE_API_VERSION, KIND);
  if (envelope !== undefined || !isRecord(body)) return envelope;
  if (body.metadata != null) {
    if (!isRecord(body.metadata)) return typed(`json: cannot unmarshal ${jsonKind(body.metadata)} into Go struct field LeaseCandidate.metadata of type v1.ObjectMeta`);
    const meta = metaDecodeFailure(body.metadata);
    if (meta) return meta;
  }
  if (body.spec == null) return undefined;
  if (!isRecord(body.spec)) return typed(`json: cannot unmarshal ${jsonKind(body.spec)} into Go struct field LeaseCandidate.spec of type v1beta1.LeaseCandidateSpec`);
  const spec = body.spec;
  for (const field of ['leaseName', 'binaryVersion', 'emulationVersion', 'strategy'] as const) {
    const v = spec[field];
    if (v != null && typeof v !== 'string') return typed(`json: cannot unmarshal ${jsonKind(v)} into Go struct field LeaseCandidateSpec.spec.${field} of type string`);
  }
  for (const field of ['pingTime', 'renewTime'] as const) {
    const v = spec[field];
    if (v != null && (typeof v !== 'string' || !isMicroTime(v))) {
      return typed(`parsing time ${stringify(v) ?? 'undefined'} as "${MICROTIME_LAYOUT}": cannot parse as a MicroTime`);
    }
  }
  return undefined;
}

function decodeCheck(body: unknown): asserts body is LeaseCandidate {
  const failure = candidateDecodeFailure(body);
  if (failure !== undefined) throw decodeError(KIND, failure, VERSION);
}

function decodePatched(body: unknown): asserts body is LeaseCandidate {
  const failure = candidateDecodeFailure(body);
  if (failure !== undefined) throw patchDecodeError(body, failure);
}

/** ValidateLeaseCandidateSpec, in the API server's order and words. */
function specCauses(candidate: LeaseCandidate): Cause[] {
  const spec = candidate.spec ?? {};
  const causes: Cause[] = [];
  const required = (field: string, detail = ''): void => {
    causes.push({ reason: 'FieldValueRequired', field: `spec.${field}`, message: detail ? `Required value: ${detail}` : 'Required value' });
  };
  const invalid = (field: string, value: string, detail: string): void => {
    causes.push({ reason: 'FieldValueInvalid', field: `spec.${field}`, message: `Invalid value: ${JSON.stringify(value)}: ${detail}` });
  };
  if (!spec.leaseName) required('leaseName');
  const emulation = spec.emulationVersion ?? '';
  const binary = spec.binaryVersion ?? '';
  const ev = emulation === '' ? undefined : parseSemver(emulation);
  if (emulation !== '' && ev === undefined) invalid('emulationVersion', emulation, 'must be a valid semantic version');
  const bv = binary === '' ? undefined : parseSemver(binary);
  if (binary === '') required('binaryVersion');
  else if (bv === undefined) invalid('binaryVersion', binary, 'must be a valid semantic version');
  if (binary !== '' && emulation !== '' && compareSemver(bv ?? ZERO, ev ?? ZERO) < 0) {
    invalid('binaryVersion', binary, 'must be greater than or equal to `emulationVersion`');
  }
  const strategy = spec.strategy ?? '';
  if (strategy === '') {
    required('strategy');
    return causes;
  }
  if (strategy === 'OldestEmulationVersion' && compareSemver(ev ?? ZERO, ZERO) === 0) {
    required('emulationVersion', "must be specified when `strategy` is 'OldestEmulationVersion'");
  }
  if (!strategy.includes('/')) {
    if (!(CANDIDATE_STRATEGIES as readonly string[]).includes(strategy)) {
      causes.push({ reason: 'FieldValueNotSupported', field: 'spec.strategy', message: `Unsupported value: ${JSON.stringify(strategy)}: supported values: ${CANDIDATE_STRATEGIES.map((s) => `"${s}"`).join(', ')}` });
    }
  } else {
    for (const problem of labelKeyProblems(strategy)) invalid('strategy', strategy, problem);
  }
  return causes;
}

const ZERO: Semver = { core: [0, 0, 0], pre: [] };

function validate(candidate: LeaseCandidate, name: string, previous?: LeaseCandidate): void {
  const causes = [...candidateNameCauses(name), ...metaCauses(candidate.metadata), ...specCauses(candidate)];
  const before = previous?.spec?.leaseName ?? '';
  const after = candidate.spec?.leaseName ?? '';
  if (previous !== undefined && before !== after) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.leaseName', message: `Invalid value: ${JSON.stringify(after)}: field is immutable` });
  }
  if (causes.length > 0) throw candidateErrors.invalid(name, causes);
}

// --- the store -----------------------------------------------------------------------------------

/**
 * The store. All methods are synchronous and throw {@link ApiError}s with the API server's
 * wording (`leasecandidates.coordination.k8s.io "x" not found`, ...); watch listeners are called
 * asynchronously (in a microtask), in resourceVersion order.
 */
export class CandidateStore extends VersionedStore<LeaseCandidate, CandidateWatchListener> {
  private readonly clock: Clock;
  private readonly items: ObjectHistory<LeaseCandidate>;
  private uidCounter = 0;
  private generatedNames = 0;

  constructor(options: CandidateStoreOptions = {}) {
    const items = new ObjectHistory<LeaseCandidate>({ historyLimit: options.historyLimit ?? 1000, errors: candidateErrors });
    super(items);
    this.items = items;
    this.clock = options.clock ?? systemClock;
  }

  /** Candidates in `namespace` (every namespace when undefined), filtered like LeaseStore.list. */
  list(namespace: string | undefined, options: ListOptions = {}): CandidateList {
    const items = this.items.list(namespace, options);
    return { apiVersion: CANDIDATE_API_VERSION, kind: 'LeaseCandidateList', metadata: { resourceVersion: this.resourceVersion }, items };
  }

  create(namespace: string, body: unknown): LeaseCandidate {
    decodeCheck(body);
    let candidate: LeaseCandidate = body;
    const generateName = candidate.metadata?.generateName;
    if (!candidate.metadata?.name && typeof generateName === 'string' && generateName !== '') {
      candidate = { ...candidate, metadata: { ...candidate.metadata, name: `${generateName}${(++this.generatedNames).toString(36).padStart(5, '0')}` } };
    }
    checkNamespace(namespace, candidate.metadata?.namespace);
    const name = candidate.metadata?.name;
    if (typeof name !== 'string' || name === '') {
      throw candidateErrors.invalid('', [{ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' }]);
    }
    if (candidate.metadata?.resourceVersion) throw candidateErrors.internal('resourceVersion should not be set on objects to be created');
    validate(candidate, name);
    if (this.items.current(namespace, name)) throw candidateErrors.alreadyExists(name);
    return this.write(namespace, name, candidate, undefined);
  }

  /**
   * PUT (compare-and-swap on resourceVersion; creates a missing name when no resourceVersion is
   * given), or with `via: 'patch' | 'apply'` the result of a patch on the current object, written
   * over whatever is current unless it names a resourceVersion. Same rules as LeaseStore.update.
   */
  update(namespace: string, name: string, body: unknown, options: UpdateOptions = {}): CandidateWriteResult {
    const via = options.via ?? 'put';
    if (via === 'patch') decodePatched(body);
    else decodeCheck(body);
    checkNamespace(namespace, body.metadata?.namespace);
    const bodyName = body.metadata?.name;
    if (bodyName && bodyName !== name) throw candidateErrors.badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
    const current = this.items.current(namespace, name);
    const rv = body.metadata?.resourceVersion;
    if (!current) {
      if (via === 'patch' || (via === 'put' && rv)) throw candidateErrors.notFound(name);
      validate(body, name);
      return { candidate: this.write(namespace, name, body, undefined), created: true };
    }
    if (via === 'put' && !rv) throw candidateErrors.resourceVersionRequired(name);
    checkPreconditions(candidateErrors, name, current, { uid: body.metadata?.uid });
    if (rv && rv !== current.metadata?.resourceVersion) throw candidateErrors.conflict(name);
    validate(body, name, current);
    return { candidate: this.write(namespace, name, body, current), created: false };
  }

  /** Deletes every matching candidate in the namespace (every namespace when undefined). */
  deleteCollection(namespace: string | undefined, options: DeleteCollectionOptions = {}): LeaseCandidate[] {
    const victims = this.list(namespace, options.labelSelector !== undefined ? { labelSelector: options.labelSelector } : {}).items;
    return victims.map((c) => this.delete(c.metadata?.namespace ?? '', c.metadata?.name ?? ''));
  }

  /** Stores a create (no `current`) or a replacement; an update that changes nothing is a no-op. */
  private write(namespace: string, name: string, body: LeaseCandidate, current: LeaseCandidate | undefined): LeaseCandidate {
    const meta = current?.metadata;
    const next: LeaseCandidate = {
      apiVersion: CANDIDATE_API_VERSION,
      kind: KIND,
      metadata: {
        ...normalizeMeta(clone(body.metadata ?? {})),
        name,
        namespace,
        uid: meta ? meta.uid : this.nextUid(),
        creationTimestamp: meta ? meta.creationTimestamp : creationTimestamp(this.clock.wallNow()),
        resourceVersion: meta?.resourceVersion,
      },
      spec: clone(body.spec ?? {}),
    };
    return this.items.write(namespace, name, next, current);
  }

  private nextUid(): string {
    return `00000000-0000-4000-9000-${(++this.uidCounter).toString(16).padStart(12, '0')}`;
  }
}

/** The candidates for one Lease (same namespace, `spec.leaseName`), as the coordinator lists them. */
export function candidatesFor(store: CandidateStore, namespace: string, leaseName: string): LeaseCandidate[] {
  return store.list(namespace).items.filter((c) => c.spec?.leaseName === leaseName);
}
