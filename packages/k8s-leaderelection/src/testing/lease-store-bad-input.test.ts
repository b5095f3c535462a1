/**
 * The store's answers to bad input, in the real API server's words: bodies nested as deep as a
 * client likes (never a stack overflow), labels and annotations that are not string maps or not
 * valid, and resourceVersions that do not parse (patches: the embedded server's patch tests).
 */
import { describe, expect, it } from '@jest/globals';
import type { ApiError } from '../errors.js';
import { apiErrorOf } from '../__tests__/thrown.js';
import { LeaseStore } from './lease-store.js';

const NS = 'default';

/** `{"a":{"a":...}}` with `depth` objects, built without recursion. */
function nested(depth: number, leaf: unknown = 'x'): Record<string, unknown> {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value as Record<string, unknown>;
}

const summary = (err: ApiError) => ({ code: err.statusCode, reason: err.reason, message: err.status.message });

describe('LeaseStore: bodies nested deeper than JSON.stringify can go', () => {
  it('refuses a Lease nested beyond the API server decoder limit (10,000) with 400, naming the bracket', () => {
    const err = apiErrorOf(() => new LeaseStore().create(NS, { metadata: { name: 'deep', labels: nested(10_000) } }));
    expect(summary(err)).toEqual({
      code: 400,
      reason: 'BadRequest',
      message: "the object provided is unrecognized (must be of type Lease): couldn't get version/kind; json parse error: invalid character '{' exceeded max depth",
    });
  });

  it('refuses labels nested 9,000 deep as a decoding error (not a string), not a stack overflow', () => {
    const err = apiErrorOf(() => new LeaseStore().create(NS, { metadata: { name: 'deep', labels: nested(9_000) } }));
    expect(summary(err)).toEqual({
      code: 400,
      reason: 'BadRequest',
      message: 'Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal object into Go struct field ObjectMeta.metadata.labels of type string',
    });
  });
});

describe('LeaseStore: labels and annotations', () => {
  it('refuses labels or annotations that are not string maps with 400, in the decoder words', () => {
    const store = new LeaseStore();
    const cases: [unknown, string][] = [
      [{ labels: { app: 1 } }, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string'],
      [{ labels: { app: true } }, 'json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string'],
      [{ labels: 'app=x' }, 'json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string'],
      [{ labels: ['app'] }, 'json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string'],
      [{ annotations: { note: { nested: 'x' } } }, 'json: cannot unmarshal object into Go struct field ObjectMeta.metadata.annotations of type string'],
      [{ finalizers: 'x' }, 'json: cannot unmarshal string into Go struct field ObjectMeta.metadata.finalizers of type []string'],
      [{ name: 7 }, 'json: cannot unmarshal number into Go struct field ObjectMeta.metadata.name of type string'],
    ];
    for (const [meta, message] of cases) {
      const err = apiErrorOf(() => store.create(NS, { metadata: { name: 'a', ...(meta as object) } }));
      expect(summary(err)).toEqual({ code: 400, reason: 'BadRequest', message: `Lease in version "v1" cannot be handled as a Lease: ${message}` });
    }
    expect(store.list(NS).items).toEqual([]);
  });

  it('refuses them on update too', () => {
    const store = new LeaseStore();
    const created = store.create(NS, { metadata: { name: 'a' } });
    const update = apiErrorOf(() => store.update(NS, 'a', { metadata: { ...created.metadata, labels: { app: 1 } } }));
    expect([update.statusCode, update.reason]).toEqual([400, 'BadRequest']);
    expect(store.get(NS, 'a').metadata?.labels).toBeUndefined();
  });

  it('answers invalid label keys and values with 422 Invalid, causes on metadata.labels, in the API server words', () => {
    const err = apiErrorOf(() => new LeaseStore().create(NS, { metadata: { name: 'a', labels: { 'bad key!': 'ok', app: 'bad value!' } } }));
    expect([err.statusCode, err.reason]).toEqual([422, 'Invalid']);
    expect(err.status.details?.causes).toEqual([
      {
        reason: 'FieldValueInvalid',
        field: 'metadata.labels',
        message:
          "Invalid value: \"bad key!\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
      },
      {
        reason: 'FieldValueInvalid',
        field: 'metadata.labels',
        message:
          "Invalid value: \"bad value!\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
      },
    ]);
    expect(err.status.message.startsWith('Lease.coordination.k8s.io "a" is invalid: [metadata.labels: Invalid value: "bad key!": ')).toBe(true);
  });

  it('checks label prefixes, key and value lengths, annotation keys in any case and the annotation size', () => {
    const store = new LeaseStore();
    const causes = (meta: object) => apiErrorOf(() => store.create(NS, { metadata: { name: 'a', ...meta } })).status.details?.causes?.map((c) => `${c.field} ${c.reason} ${c.message.split(': ').slice(2).join(': ')}`);
    expect(causes({ labels: { 'Bad_Prefix/app': 'x' } })).toEqual([expect.stringMatching(/^metadata\.labels FieldValueInvalid prefix part a lowercase RFC 1123 subdomain/)]);
    expect(causes({ labels: { '/app': 'x' } })).toEqual(['metadata.labels FieldValueInvalid prefix part must be non-empty']);
    expect(causes({ labels: { ['k'.repeat(64)]: 'x' } })).toEqual(['metadata.labels FieldValueInvalid name part must be no more than 63 bytes']);
    expect(causes({ labels: { app: 'v'.repeat(64) } })).toEqual(['metadata.labels FieldValueInvalid must be no more than 63 bytes']);
    expect(causes({ labels: { 'a/b/c': 'x' } })).toEqual([expect.stringMatching(/^metadata\.labels FieldValueInvalid a valid label key must consist of/)]);
    expect(causes({ annotations: { 'has space': 'x' } })).toEqual([expect.stringMatching(/^metadata\.annotations FieldValueInvalid name part must consist of/)]);
    expect(causes({ annotations: { big: 'x'.repeat(256 * 1024) } })).toEqual(['metadata.annotations FieldValueTooLong ']);
    // Annotation keys are checked lowercased; values are free text.
    expect(() => store.create(NS, { metadata: { name: 'b', annotations: { 'Example.COM/Key': 'any text at all! ✓' } } })).not.toThrow();
  });

  it('stores a null label or annotation value as an empty string, as the Go decoder does', () => {
    const store = new LeaseStore();
    const lease = store.create(NS, { metadata: { name: 'a', labels: { app: null }, annotations: { note: null } } });
    expect(lease.metadata?.labels).toEqual({ app: '' });
    expect(lease.metadata?.annotations).toEqual({ note: '' });
  });
});

describe('LeaseStore: resourceVersion parameters', () => {
  it('refuses a resourceVersion that is not an unsigned integer on get, list and watch with 400', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'a' } });
    const message = (rv: string, problem: string) =>
      `invalid resource version: resourceVersion: Invalid value: ${JSON.stringify(rv)}: strconv.ParseUint: parsing ${JSON.stringify(rv)}: ${problem}`;
    for (const rv of ['abc', '-1', '1.5', ' 1', '1e3', '0x10']) {
      expect(summary(apiErrorOf(() => store.get(NS, 'a', { resourceVersion: rv })))).toEqual({ code: 400, reason: 'BadRequest', message: message(rv, 'invalid syntax') });
      expect(summary(apiErrorOf(() => store.list(NS, { resourceVersion: rv })))).toEqual({ code: 400, reason: 'BadRequest', message: message(rv, 'invalid syntax') });
      expect(summary(apiErrorOf(() => store.watch({ namespace: NS, resourceVersion: rv }, () => {})))).toEqual({ code: 400, reason: 'BadRequest', message: message(rv, 'invalid syntax') });
    }
    const huge = '18446744073709551616';
    expect(apiErrorOf(() => store.get(NS, 'a', { resourceVersion: huge })).status.message).toBe(message(huge, 'value out of range'));
    expect(store.watcherCount).toBe(0);
  });

  it('accepts every resourceVersion the API server parses: empty, 0, and unsigned integers up to 2^64-1', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'a' } });
    for (const rv of ['', '0', '1', '007', '18446744073709551615']) {
      expect(store.get(NS, 'a', { resourceVersion: rv }).metadata?.name).toBe('a');
      expect(store.list(NS, { resourceVersion: rv }).items).toHaveLength(1);
      store.watch({ namespace: NS, resourceVersion: rv }, () => {}).stop();
    }
  });
});
