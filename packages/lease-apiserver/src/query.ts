/**
 * Query parameters of list, watch and write requests, checked the way the API server checks
 * them. What the server cannot honour (server-side dry run) is refused with a 400 rather than
 * silently ignored: an answer that looks right but is not would mislead.
 */
import { parseLabelSelector } from '@leasekit/k8s-leaderelection/testing';
import { statusError } from './http.js';
import type { IncludeObject } from './table.js';

/** A parsed `fieldSelector`: only `metadata.name` and `metadata.namespace` exist for Leases. */
export interface FieldSelector {
  name?: string;
  namespace?: string;
}

/** Parses `fieldSelector` (`metadata.name=x`, `metadata.namespace==y`, comma-separated). */
export function parseFieldSelector(raw: string | null): FieldSelector {
  const selector: FieldSelector = {};
  if (raw === null || raw.trim() === '') return selector;
  for (const term of raw.split(',')) {
    const match = /^\s*([^!=\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(term);
    if (!match) throw statusError(400, 'BadRequest', `invalid selector: '${raw}'; can't understand '${term}'`);
    const [, field, operator, value] = match as unknown as [string, string, string, string];
    if (field !== 'metadata.name' && field !== 'metadata.namespace') {
      throw statusError(400, 'BadRequest', `field label not supported: ${field}`);
    }
    if (operator === '!=') throw statusError(400, 'BadRequest', `lease-apiserver does not support the != operator in fieldSelector (${term})`);
    if (field === 'metadata.name') selector.name = value;
    else selector.namespace = value;
  }
  return selector;
}

/**
 * `labelSelector` of a list, watch or deletecollection, for the store to apply. Checked here, so
 * that a bad one is refused first, as the API server's parameter decoding refuses it: 400
 * BadRequest with the parser's message (`unable to parse requirement: ...`).
 */
export function labelSelectorOf(query: URLSearchParams): { labelSelector?: string } {
  const raw = query.get('labelSelector');
  if (raw === null) return {};
  parseLabelSelector(raw);
  return { labelSelector: raw };
}

/** Refuses what is not implemented; accepts (and ignores) what does not change the answer. */
export function checkUnsupported(query: URLSearchParams): void {
  const dryRun = query.getAll('dryRun').filter((v) => v !== '');
  if (dryRun.length > 0) throw statusError(400, 'BadRequest', 'lease-apiserver does not implement dryRun');
}

/** `limit`: a non-negative integer (0 or absent means no limit). */
export function parseLimit(query: URLSearchParams): number | undefined {
  const raw = query.get('limit');
  if (raw === null || raw === '') return undefined;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 0) throw statusError(400, 'BadRequest', `limit: Invalid value: ${JSON.stringify(raw)}: must be a non-negative integer`);
  return limit === 0 ? undefined : limit;
}

/** `timeoutSeconds` of a watch, in ms; undefined when absent. */
export function parseTimeoutMs(query: URLSearchParams): number | undefined {
  const raw = query.get('timeoutSeconds');
  if (raw === null || raw === '') return undefined;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw statusError(400, 'BadRequest', `timeoutSeconds: Invalid value: ${JSON.stringify(raw)}: must be a non-negative integer`);
  }
  return seconds === 0 ? undefined : seconds * 1000;
}

/** `includeObject` for Table responses. */
export function parseIncludeObject(query: URLSearchParams): IncludeObject {
  const raw = query.get('includeObject');
  if (raw === null || raw === '') return 'Metadata';
  if (raw === 'None' || raw === 'Metadata' || raw === 'Object') return raw;
  throw statusError(400, 'BadRequest', `includeObject: Unsupported value: ${JSON.stringify(raw)}: supported values: "Metadata", "None", "Object"`);
}
