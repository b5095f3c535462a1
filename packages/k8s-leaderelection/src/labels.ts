/**
 * Owns the Kubernetes label rules: label keys (apimachinery's IsQualifiedName) and values
 * (IsValidLabelValue), checked once and worded twice: in the API server's words for the store's
 * metadata checks and selector parsing (`labelKeyProblems`, `labelValueProblems`), and briefly for
 * the `labels` option, so a bad label is a ConfigError at construction instead of a 422 on every
 * create (`resolveLabels`).
 */
import { ConfigError, type ConfigErrorCode } from './errors.js';

/** Labels the elector writes on every Lease it creates. */
export type LeaseLabels = Readonly<Record<string, string>>;

/** The DNS subdomain rule (a Lease name, a label key prefix) in the API server's words. */
export const DNS_SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

const LABEL_KEY_FORMAT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY_RULE = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_FORMAT = `(${LABEL_KEY_FORMAT})?`;
const LABEL_VALUE_RULE = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_KEY_RE = new RegExp(`^${LABEL_KEY_FORMAT}$`);
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FORMAT}$`);
const DNS_SUBDOMAIN_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** Longest label value and key name part, and longest key prefix, in bytes. */
const MAX_NAME_BYTES = 63;
const MAX_PREFIX_BYTES = 253;

/** One broken rule of a label key, in the order the API server reports them. */
type KeyIssue = 'slashes' | 'prefix-empty' | 'prefix-long' | 'prefix-format' | 'name-empty' | 'name-long' | 'name-format';

/** Every rule `key` breaks (IsQualifiedName); [] for a valid key. */
function keyIssues(key: string): KeyIssue[] {
  const parts = key.split('/');
  if (parts.length > 2) return ['slashes'];
  const issues: KeyIssue[] = [];
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    const prefix = parts[0]!;
    if (prefix === '') issues.push('prefix-empty');
    else {
      if (Buffer.byteLength(prefix) > MAX_PREFIX_BYTES) issues.push('prefix-long');
      if (!DNS_SUBDOMAIN_RE.test(prefix)) issues.push('prefix-format');
    }
  }
  if (name === '') issues.push('name-empty');
  else if (Buffer.byteLength(name) > MAX_NAME_BYTES) issues.push('name-long');
  if (!LABEL_KEY_RE.test(name)) issues.push('name-format');
  return issues;
}

/** Every rule `value` breaks (IsValidLabelValue); [] for a valid value ('' is valid). */
function valueIssues(value: string): ('long' | 'format')[] {
  const issues: ('long' | 'format')[] = [];
  if (Buffer.byteLength(value) > MAX_NAME_BYTES) issues.push('long');
  if (!LABEL_VALUE_RE.test(value)) issues.push('format');
  return issues;
}

// -- the API server's words --------------------------------------------------------------------

/** The API server's RegexError wording (its examples really are joined with ",  or "). */
function regexError(message: string, regex: string, ...examples: string[]): string {
  const shown = examples.map((e, i) => `${i > 0 ? ' or ' : ''}'${e}', `).join('');
  return `${message} (e.g. ${shown}regex used for validation is '${regex}')`;
}

const KEY_NAME_REGEX_ERROR = regexError(LABEL_KEY_RULE, LABEL_KEY_FORMAT, 'MyName', 'my.name', '123-abc');

const API_KEY_WORDS: Record<KeyIssue, string> = {
  slashes: `a valid label key ${KEY_NAME_REGEX_ERROR} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
  'prefix-empty': 'prefix part must be non-empty',
  'prefix-long': `prefix part must be no more than ${MAX_PREFIX_BYTES} bytes`,
  'prefix-format': `prefix part ${DNS_SUBDOMAIN_MESSAGE}`,
  'name-empty': 'name part must be non-empty',
  'name-long': `name part must be no more than ${MAX_NAME_BYTES} bytes`,
  'name-format': `name part ${KEY_NAME_REGEX_ERROR}`,
};

/** The API server's IsQualifiedName (a label key): an optional DNS subdomain prefix and '/', then a name. */
export function labelKeyProblems(key: string): string[] {
  return keyIssues(key).map((issue) => API_KEY_WORDS[issue]);
}

/** The API server's IsValidLabelValue. */
export function labelValueProblems(value: string): string[] {
  return valueIssues(value).map((issue) =>
    issue === 'long' ? `must be no more than ${MAX_NAME_BYTES} bytes` : regexError(LABEL_VALUE_RULE, LABEL_VALUE_FORMAT, 'MyValue', 'my_value', '12345'),
  );
}

// -- the `labels` option ------------------------------------------------------------------------

const NAME_RULE = "alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric, at most 63 characters";
const PREFIX_RULE = "has a prefix that is not a DNS subdomain (lowercase alphanumerics, '-' and '.', at most 253 characters)";

/** The option's wording of a key's first broken rule: one sentence per part of the key. */
const CONFIG_KEY_WORDS: Record<KeyIssue, string> = {
  slashes: "has more than one '/'",
  'prefix-empty': "has an empty prefix before '/'",
  'prefix-long': PREFIX_RULE,
  'prefix-format': PREFIX_RULE,
  'name-empty': 'has an empty name part',
  'name-long': `has a name part that is not ${NAME_RULE}`,
  'name-format': `has a name part that is not ${NAME_RULE}`,
};

// The code of every labels rule (until errors.ts lists it, see the report to the lead).
const LABELS_INVALID: ConfigErrorCode = 'LABELS_INVALID';

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const [first] = keyIssues(key);
  return first === undefined ? undefined : CONFIG_KEY_WORDS[first];
}

/** Why `value` is not a valid label value, or undefined when it is ('' is valid). */
export function labelValueProblem(value: string): string | undefined {
  return valueIssues(value).length === 0 ? undefined : `must be empty or ${NAME_RULE}`;
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
