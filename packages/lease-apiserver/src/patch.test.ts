/**
 * The patch formats on their own and PATCH of a Lease through the store: what the result must
 * decode as (422 on the field "patch" when it does not), deep bodies without a stack overflow,
 * and the store's compare-and-swap for a patch that names a resourceVersion.
 */
import { describe, expect, it } from '@jest/globals';
import type { ApiError } from '@leasekit/k8s-leaderelection';
import { LeaseStore } from '@leasekit/k8s-leaderelection/testing';
import { apiErrorOf, depthOf, nested } from './__tests__/values.js';
import { jsonPatch, mergePatch, patchLease } from './patch.js';

const NS = 'default';

const summary = (err: ApiError) => ({ code: err.statusCode, reason: err.reason, message: err.status.message });

describe('mergePatch and jsonPatch', () => {
  it('merges objects, deletes members patched to null and replaces everything else (RFC 7386)', () => {
    const target = { a: { b: 1, c: 2 }, list: [1, 2], keep: 'k' };
    expect(mergePatch(target, { a: { b: null, d: 3 }, list: [3] })).toEqual({ a: { c: 2, d: 3 }, list: [3], keep: 'k' });
    expect(target).toEqual({ a: { b: 1, c: 2 }, list: [1, 2], keep: 'k' });
  });

  it('applies add, replace, remove, test, copy and move, and refuses what does not apply (RFC 6902)', () => {
    const doc = { spec: { holderIdentity: 'a', list: [1] } };
    const ops = [
      { op: 'test', path: '/spec/holderIdentity', value: 'a' },
      { op: 'replace', path: '/spec/holderIdentity', value: 'b' },
      { op: 'add', path: '/spec/list/-', value: 2 },
      { op: 'copy', from: '/spec/holderIdentity', path: '/spec/copied' },
      { op: 'move', from: '/spec/copied', path: '/spec/moved' },
      { op: 'remove', path: '/spec/list/0' },
    ];
    expect(jsonPatch(doc, ops)).toEqual({ spec: { holderIdentity: 'b', list: [2], moved: 'b' } });
    expect(apiErrorOf(() => jsonPatch(doc, [{ op: 'test', path: '/spec/holderIdentity', value: 'z' }])).statusCode).toBe(422);
    expect(apiErrorOf(() => jsonPatch(doc, [{ op: 'remove', path: '/spec/nothing' }])).statusCode).toBe(400);
    expect(apiErrorOf(() => jsonPatch(doc, { op: 'add' })).statusCode).toBe(400);
  });
});

describe('patchLease', () => {
  it('answers a merge patch of a missing Lease with 404 and creates one with apply', () => {
    const store = new LeaseStore();
    expect(apiErrorOf(() => patchLease(store, NS, 'a', { spec: {} }, 'merge')).statusCode).toBe(404);
    const applied = patchLease(store, NS, 'a', { metadata: { name: 'a' }, spec: { holderIdentity: 'x' } }, 'apply');
    expect([applied.created, applied.lease.spec?.holderIdentity]).toEqual([true, 'x']);
  });

  it('refuses a patch naming a stale resourceVersion with 409 Conflict, and writes one without it', () => {
    const store = new LeaseStore();
    const created = store.create(NS, { metadata: { name: 'a' } });
    patchLease(store, NS, 'a', { spec: { holderIdentity: 'x' } }, 'strategic');
    const stale = apiErrorOf(() => patchLease(store, NS, 'a', { metadata: { resourceVersion: created.metadata?.resourceVersion }, spec: { holderIdentity: 'y' } }, 'merge'));
    expect([stale.statusCode, stale.reason]).toEqual([409, 'Conflict']);
    expect(store.get(NS, 'a').spec?.holderIdentity).toBe('x');
  });
});

describe('patchLease: bodies nested deeper than JSON.stringify can go', () => {
  it('answers a merge patch whose labels nest 9,000 deep with 422 Invalid on the field "patch"', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'a' } });
    const err = apiErrorOf(() => patchLease(store, NS, 'a', { metadata: { annotations: nested(9_000) } }, 'merge'));
    expect(err.statusCode).toBe(422);
    expect(err.reason).toBe('Invalid');
    expect(err.status.details?.causes?.map((c) => [c.field, c.reason])).toEqual([['patch', 'FieldValueInvalid']]);
    expect(err.status.message.startsWith(' "" is invalid: patch: Invalid value: "{')).toBe(true);
    expect(err.status.message.endsWith('": json: cannot unmarshal object into Go struct field ObjectMeta.metadata.annotations of type string')).toBe(true);
    expect(store.get(NS, 'a').metadata?.annotations).toBeUndefined();
  });

  it('stores, compares and returns a field nested 9,000 deep that is not typed (kept as sent)', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'a' } });
    const first = patchLease(store, NS, 'a', { spec: { extra: nested(9_000) } }, 'merge').lease;
    // The same patch again changes nothing: a no-op, found by comparing the deep objects.
    const again = patchLease(store, NS, 'a', { spec: { extra: nested(9_000) } }, 'merge').lease;
    expect(again.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    expect(depthOf((store.get(NS, 'a').spec as Record<string, unknown>).extra)).toBe(9_000);
  });

  it('refuses a JSON patch that nests the result beyond the decoder limit with 422 on "patch"', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'a' } });
    const err = apiErrorOf(() => patchLease(store, NS, 'a', [{ op: 'add', path: '/spec', value: { extra: nested(10_000) } }], 'json'));
    expect(summary(err)).toMatchObject({ code: 422, reason: 'Invalid' });
    expect(err.status.message.endsWith(`": couldn't get version/kind; json parse error: invalid character '{' exceeded max depth`)).toBe(true);
  });

  it('answers labels that are not strings with 422 on "patch" when a merge patch produces them', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'a' } });
    for (const type of ['merge', 'strategic'] as const) {
      const patch = apiErrorOf(() => patchLease(store, NS, 'a', { metadata: { labels: { app: 1 } } }, type));
      expect([patch.statusCode, patch.reason, patch.status.details?.causes?.[0]?.field]).toEqual([422, 'Invalid', 'patch']);
      expect(patch.status.details?.causes?.[0]?.message).toMatch(/^Invalid value: "\{.*\}": json: cannot unmarshal number into Go struct field ObjectMeta\.metadata\.labels of type string$/);
    }
    expect(store.get(NS, 'a').metadata?.labels).toBeUndefined();
  });
});
