/**
 * Unknown fields in a Lease or LeaseCandidate body, handled like the API server's decoder: dropped with a warning
 * by default (`fieldValidation=Warn`), dropped silently (`Ignore`), or refused with 400 (`Strict`,
 * what kubectl sends). Without this, a typo such as `spec.holderIdentiy` would be stored and read
 * back, which no real cluster does.
 */
import { statusError } from './http.js';

/** How the request wants unknown fields treated. */
export type FieldValidation = 'Ignore' | 'Warn' | 'Strict';

const TOP_LEVEL = new Set(['apiVersion', 'kind', 'metadata', 'spec']);
const OBJECT_META = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);
/** The fields of a LeaseSpec (coordination.k8s.io/v1). */
export const LEASE_SPEC: ReadonlySet<string> = new Set(['holderIdentity', 'leaseDurationSeconds', 'acquireTime', 'renewTime', 'leaseTransitions', 'strategy', 'preferredHolder']);

/** The fields of a LeaseCandidateSpec (coordination.k8s.io/v1beta1). */
export const CANDIDATE_SPEC: ReadonlySet<string> = new Set(['leaseName', 'pingTime', 'renewTime', 'binaryVersion', 'emulationVersion', 'strategy']);

/** `?fieldValidation=`; Warn when absent, like the API server since 1.27. */
export function parseFieldValidation(query: URLSearchParams): FieldValidation {
  const raw = query.get('fieldValidation');
  if (raw === null || raw === '') return 'Warn';
  if (raw === 'Ignore' || raw === 'Warn' || raw === 'Strict') return raw;
  throw statusError(400, 'BadRequest', `fieldValidation: Unsupported value: ${JSON.stringify(raw)}: supported values: "Ignore", "Strict", "Warn"`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pruneLevel(node: unknown, known: ReadonlySet<string>, prefix: string, unknown: string[]): void {
  if (!isRecord(node)) return;
  for (const key of Object.keys(node)) {
    // Strategic-merge directives ($patch, $retainKeys, $setElementOrder/...) are not fields.
    if (key.startsWith('$')) continue;
    if (!known.has(key)) {
      unknown.push(`${prefix}${key}`);
      delete node[key];
    }
  }
}

/**
 * Removes unknown fields from a body or merge-style patch (a Lease unless `specFields` says
 * otherwise), in place, and handles them as `mode` says. Returns the warnings to send (one per
 * field, in `Warn` mode).
 */
export function applyFieldValidation(body: unknown, mode: FieldValidation, decodeContext: string, specFields: ReadonlySet<string> = LEASE_SPEC): string[] {
  const unknown: string[] = [];
  pruneLevel(body, TOP_LEVEL, '', unknown);
  if (isRecord(body)) {
    pruneLevel(body.metadata, OBJECT_META, 'metadata.', unknown);
    pruneLevel(body.spec, specFields, 'spec.', unknown);
  }
  if (unknown.length === 0 || mode === 'Ignore') return [];
  const messages = unknown.map((field) => `unknown field ${JSON.stringify(field)}`);
  if (mode === 'Strict') throw statusError(400, 'BadRequest', `${decodeContext}strict decoding error: ${messages.join(', ')}`);
  return messages;
}

/** A Warning header value (RFC 7234 code 299, as the API server sends them). */
export function warningHeader(message: string): string {
  return `299 - ${JSON.stringify(message)}`;
}
