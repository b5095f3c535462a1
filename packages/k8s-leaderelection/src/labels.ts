/**
 * Owns the `labels` option: validates a label map with the API server's rules for label keys
 * (IsQualifiedName) and values (IsValidLabelValue), so a bad label is a ConfigError at
 * construction instead of a 422 on every create.
 */
import { ConfigError, type ConfigErrorCode } from './errors.js';

/** Labels the elector writes on every Lease it creates. */
export type LeaseLabels = Readonly<Record<string, string>>;

const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const NAME_RULE = "alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric, at most 63 characters";

// The code of every labels rule (until errors.ts lists it, see the report to the lead).
const LABELS_INVALID: ConfigErrorCode = 'LABELS_INVALID';

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return "has more than one '/'";
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') return "has an empty prefix before '/'";
    if (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)) return 'has a prefix that is not a DNS subdomain (lowercase alphanumerics, \'-\' and \'.\', at most 253 characters)';
  }
  if (name === '') return 'has an empty name part';
  if (name.length > 63 || !NAME.test(name)) return `has a name part that is not ${NAME_RULE}`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is ('' is valid). */
export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !NAME.test(value)) return `must be empty or ${NAME_RULE}`;
  return undefined;
}

/**
 * Validates the `labels` option and returns a frozen copy ({} when absent). Throws a
 * {@link ConfigError} (`FIELD_TYPE` for a non-object, `LABELS_INVALID` otherwise) naming the bad key.
 */
export function resolveLabels(labels: unknown): LeaseLabels {
  if (labels === undefined) return Object.freeze({});
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new ConfigError('FIELD_TYPE', 'labels', `labels must be an object mapping label keys to string values, got ${Array.isArray(labels) ? 'an array' : String(labels)}`);
  }
  const copy: Record<string, string> = {};
  for (const [key, value] of Object.entries(labels)) {
    const keyProblem = labelKeyProblem(key);
    if (keyProblem !== undefined) {
      throw new ConfigError(LABELS_INVALID, 'labels', `labels key ${JSON.stringify(key)} ${keyProblem}`);
    }
    if (typeof value !== 'string') {
      throw new ConfigError(LABELS_INVALID, 'labels', `labels value of ${JSON.stringify(key)} must be a string, got ${typeof value}`);
    }
    const valueProblem = labelValueProblem(value);
    if (valueProblem !== undefined) {
      throw new ConfigError(LABELS_INVALID, 'labels', `labels value of ${JSON.stringify(key)} (${JSON.stringify(value)}) ${valueProblem}`);
    }
    copy[key] = value;
  }
  return Object.freeze(copy);
}
