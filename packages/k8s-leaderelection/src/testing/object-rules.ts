/**
 * The API server's rules for any object's envelope and ObjectMeta: what its JSON decoder refuses
 * (in Go's words), the label and annotation checks of ObjectMeta validation, and how decoded
 * metadata reads. The LeaseStore applies them to Leases; the embedded API server applies the same
 * ones to its Event objects (through the testing entry), so neither words them a second time.
 */
import { isDnsLabel, isDnsSubdomain } from '../config.js';
import type { ApiError } from '../errors.js';
import { DNS_SUBDOMAIN_MESSAGE, labelKeyProblems, labelValueProblems } from '../labels.js';
import type { ObjectMeta } from '../lease.js';
import { MAX_JSON_DEPTH, nestedDeeperThan, stringify } from './json-tree.js';
import { leaseErrors, type Cause } from './lease-errors.js';

export { aggregate } from './lease-errors.js';
export type { Cause };

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What Go's JSON decoder calls a value's type in "cannot unmarshal X into ..." errors. */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'boolean') return 'bool';
  return typeof value;
}

/**
 * Why Go's JSON decoder would refuse a body, in its words: `typed` errors come from decoding into
 * the Go type (a create or update prefixes them with "Lease in version ..."), `unrecognized` ones
 * from reading the body at all, `bare` ones stand alone.
 */
export interface DecodeFailure {
  readonly form: 'typed' | 'unrecognized' | 'bare';
  readonly message: string;
}

export const typed = (message: string): DecodeFailure => ({ form: 'typed', message });

/**
 * The checks every body gets before its fields: a JSON object, nested no deeper than the decoder
 * reads, and an apiVersion and kind that are absent or the expected ones (the URL says what the
 * body is).
 */
export function envelopeDecodeFailure(body: unknown, apiVersion: string, kind: string): DecodeFailure | undefined {
  if (!isRecord(body)) return typed('the body is not a JSON object');
  const node = nestedDeeperThan(body, MAX_JSON_DEPTH);
  if (node !== undefined) {
    return { form: 'unrecognized', message: `couldn't get version/kind; json parse error: invalid character '${Array.isArray(node) ? '[' : '{'}' exceeded max depth` };
  }
  if (body.apiVersion != null && body.apiVersion !== '' && body.apiVersion !== apiVersion) {
    return { form: 'bare', message: `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})` };
  }
  if (body.kind != null && body.kind !== '' && body.kind !== kind) {
    return typed(`no kind ${JSON.stringify(String(body.kind))} is registered for version "${apiVersion}"`);
  }
  return undefined;
}

/** The ObjectMeta fields Go decodes as strings. */
const META_STRINGS = ['name', 'generateName', 'namespace', 'uid', 'resourceVersion', 'selfLink'] as const;

/** Decoding problems of an ObjectMeta: string fields, the label and annotation string maps, finalizers. */
export function metaDecodeFailure(meta: Record<string, unknown>): DecodeFailure | undefined {
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

/** The 400 BadRequest for a body of `kind` (core or coordination, `version`) that does not decode. */
export function decodeError(kind: string, failure: DecodeFailure, version = 'v1'): ApiError {
  if (failure.form === 'bare') return leaseErrors.badRequest(failure.message);
  if (failure.form === 'unrecognized') return leaseErrors.badRequest(`the object provided is unrecognized (must be of type ${kind}): ${failure.message}`);
  return leaseErrors.badRequest(`${kind} in version "${version}" cannot be handled as a ${kind}: ${failure.message}`);
}

/**
 * The 422 Invalid for a patch whose result does not decode: the API server names the field
 * `patch` (not 400: the body itself was a well-formed patch).
 */
export function patchDecodeError(patched: unknown, failure: DecodeFailure): ApiError {
  return leaseErrors.invalidPatch(stringify(patched) ?? 'null', failure.message);
}

/** The API server's bound on all annotation keys and values together (256 KiB). */
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/**
 * ObjectMeta validation of labels and annotations (the API server's ValidateLabels and
 * ValidateAnnotations): keys are qualified names (annotation keys in any case), label values are
 * short names, and all annotations together fit in 256 KiB. Expects decoded (string) maps.
 */
export function metaCauses(meta: ObjectMeta | undefined): Cause[] {
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

/** The cause for a name that is not a DNS subdomain, in the API server's words (none for a valid one). */
export function nameCauses(name: string): Cause[] {
  if (isDnsSubdomain(name)) return [];
  return [{ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(name)}: ${DNS_SUBDOMAIN_MESSAGE}` }];
}

/**
 * The uid and resourceVersion preconditions of a write or delete against the current object: 409
 * Conflict in the API server's words (`errors` words them for the resource) when one fails.
 */
export function checkPreconditions(
  errors: Pick<typeof leaseErrors, 'preconditionFailed'>,
  name: string,
  current: { metadata?: ObjectMeta },
  pre: { uid?: string | undefined; resourceVersion?: string | undefined },
): void {
  const meta = current.metadata ?? {};
  if (pre.uid && pre.uid !== meta.uid) {
    throw errors.preconditionFailed(name, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${meta.uid ?? ''}`);
  }
  if (pre.resourceVersion && pre.resourceVersion !== meta.resourceVersion) {
    throw errors.preconditionFailed(name, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${meta.resourceVersion ?? ''}`);
  }
}

/** The namespace checks of a create or update: a DNS label, and the body's namespace (if any) the URL's. */
export function checkNamespace(namespace: string, bodyNamespace: string | undefined): void {
  if (!isDnsLabel(namespace)) throw leaseErrors.badRequest(`invalid namespace ${JSON.stringify(namespace)}`);
  if (bodyNamespace && bodyNamespace !== namespace) {
    throw leaseErrors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
  }
}

/** A decoded copy of metadata: null label and annotation values become "", as Go's decoder makes them. */
export function normalizeMeta(meta: ObjectMeta): ObjectMeta {
  const out: ObjectMeta = { ...meta };
  for (const name of ['labels', 'annotations'] as const) {
    const map = out[name];
    if (map != null) out[name] = Object.fromEntries(Object.entries(map).map(([k, v]) => [k, v ?? '']));
  }
  return out;
}

/** The creationTimestamp the API server stamps (metav1.Time: whole seconds) for a wall time. */
export function creationTimestamp(wallMs: number): string {
  return new Date(Math.floor(wallMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
