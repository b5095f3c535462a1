import { describe, expect, it } from '@jest/globals';
import { apiErrorOf } from '../__tests__/thrown.js';
import { FakeClock } from './fake-clock.js';
import { LeaseStore } from './lease-store.js';

const NS = 'default';

describe('LeaseStore: error wording', () => {
  it('prints one invalid field without brackets and several in brackets, like the API server', () => {
    const store = new LeaseStore();
    const one = apiErrorOf(() => store.create(NS, { metadata: { name: 'x' }, spec: { leaseDurationSeconds: 0 } }));
    expect(one.status.message).toBe('Lease.coordination.k8s.io "x" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0');
    const two = apiErrorOf(() => store.create(NS, { metadata: { name: 'x' }, spec: { leaseDurationSeconds: 0, leaseTransitions: -1 } }));
    expect(two.status.message).toBe(
      'Lease.coordination.k8s.io "x" is invalid: [spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0, spec.leaseTransitions: Invalid value: -1: must be greater than or equal to 0]',
    );
    expect(two.status.details?.causes).toHaveLength(2);
  });

  it('names the resource, not the kind, when an update lacks a resourceVersion', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'x' } });
    const err = apiErrorOf(() => store.update(NS, 'x', { metadata: { name: 'x' }, spec: {} }));
    expect(err.statusCode).toBe(422);
    expect(err.reason).toBe('Invalid');
    expect(err.status.message).toBe('leases.coordination.k8s.io "x" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
    expect(err.status.details).toMatchObject({ name: 'x', group: 'coordination.k8s.io', kind: 'leases' });
  });

  it('explains the DNS subdomain rule with an example and the regex', () => {
    const err = apiErrorOf(() => new LeaseStore().create(NS, { metadata: { name: 'Bad_Name' } }));
    expect(err.status.details?.causes?.[0]?.message).toBe(
      `Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    );
  });
});

describe('LeaseStore: decoding', () => {
  it('accepts a body without apiVersion and kind, or with the right ones', () => {
    const store = new LeaseStore();
    expect(() => store.create(NS, { metadata: { name: 'a' } })).not.toThrow();
    expect(() => store.create(NS, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'b' } })).not.toThrow();
  });

  it('refuses a body whose apiVersion or kind contradicts the URL with 400', () => {
    const store = new LeaseStore();
    const version = apiErrorOf(() => store.create(NS, { apiVersion: 'coordination.k8s.io/v1beta1', metadata: { name: 'a' } }));
    expect(version.statusCode).toBe(400);
    expect(version.status.message).toBe('the API version in the data (coordination.k8s.io/v1beta1) does not match the expected API version (coordination.k8s.io/v1)');
    const kind = apiErrorOf(() => store.create(NS, { apiVersion: 'coordination.k8s.io/v1', kind: 'Pod', metadata: { name: 'a' } }));
    expect(kind.reason).toBe('BadRequest');
    expect(kind.status.message).toContain('no kind "Pod" is registered for version "coordination.k8s.io/v1"');
  });

  it('refuses MicroTimes for dates that do not exist, which Date.parse would roll over', () => {
    const store = new LeaseStore();
    for (const renewTime of ['2024-02-30T10:00:00.000000Z', '2024-05-01T24:00:00.000000Z', '2023-02-29T00:00:00.000000Z']) {
      const err = apiErrorOf(() => store.create(NS, { metadata: { name: 'a' }, spec: { renewTime } }));
      expect(err.statusCode).toBe(400);
      expect(err.status.message).toContain('cannot parse as a MicroTime');
    }
    expect(() => store.create(NS, { metadata: { name: 'leap' }, spec: { renewTime: '2024-02-29T23:59:59.999999Z' } })).not.toThrow();
    expect(() => store.create(NS, { metadata: { name: 'offset' }, spec: { renewTime: '2024-05-01T12:00:00.000000+02:00' } })).not.toThrow();
  });
});

describe('LeaseStore: creating', () => {
  it('names a Lease from generateName and keeps generateName, like the API server', () => {
    const store = new LeaseStore();
    const created = store.create(NS, { metadata: { generateName: 'lock-' } });
    expect(created.metadata?.name).toMatch(/^lock-[0-9a-z]{5}$/);
    expect(created.metadata?.generateName).toBe('lock-');
    expect(store.get(NS, created.metadata!.name!).metadata?.uid).toBe(created.metadata?.uid);
    const second = store.create(NS, { metadata: { generateName: 'lock-' } });
    expect(second.metadata?.name).not.toBe(created.metadata?.name);
  });

  it('still requires a name when there is no generateName', () => {
    const err = apiErrorOf(() => new LeaseStore().create(NS, { metadata: {} }));
    expect([err.statusCode, err.status.details?.causes?.[0]?.field]).toEqual([422, 'metadata.name']);
  });
});

describe('LeaseStore: updating', () => {
  it('treats an update that differs only in key order or null fields as a no-op', () => {
    const store = new LeaseStore();
    const created = store.create(NS, { metadata: { name: 'a', labels: { x: '1', y: '2' } }, spec: { holderIdentity: 'h', leaseDurationSeconds: 5 } });
    const meta = created.metadata!;
    const reordered = {
      spec: { leaseDurationSeconds: 5, holderIdentity: 'h', renewTime: null },
      metadata: { uid: meta.uid, resourceVersion: meta.resourceVersion, namespace: NS, name: 'a', labels: { y: '2', x: '1' }, creationTimestamp: meta.creationTimestamp },
      kind: 'Lease',
      apiVersion: 'coordination.k8s.io/v1',
    };
    const result = store.update(NS, 'a', reordered);
    expect(result.lease.metadata?.resourceVersion).toBe(meta.resourceVersion);
    expect(store.resourceVersion).toBe(meta.resourceVersion);
    const changed = store.update(NS, 'a', { ...reordered, spec: { ...reordered.spec, holderIdentity: 'other' } });
    expect(Number(changed.lease.metadata?.resourceVersion)).toBe(Number(meta.resourceVersion) + 1);
  });

  it('writes a new version for every change inside nested lists and maps, and none for null members or key order there', () => {
    /** Whether replacing `before` metadata fields with `after` writes a new version. */
    const writesNewVersion = (before: Record<string, unknown>, after: Record<string, unknown>): boolean => {
      const store = new LeaseStore();
      const created = store.create(NS, { metadata: { name: 'a', ...before }, spec: { holderIdentity: 'h' } });
      const meta = created.metadata!;
      const written = store.update(NS, 'a', { metadata: { name: 'a', uid: meta.uid, resourceVersion: meta.resourceVersion, creationTimestamp: meta.creationTimestamp, ...after }, spec: { holderIdentity: 'h' } });
      return written.lease.metadata?.resourceVersion !== meta.resourceVersion;
    };
    const owner = { apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u1' };
    expect(writesNewVersion({ finalizers: ['x', 'y'] }, { finalizers: ['y', 'x'] })).toBe(true);
    expect(writesNewVersion({ finalizers: ['x'] }, { finalizers: [] })).toBe(true);
    expect(writesNewVersion({ annotations: { a: '1' } }, { annotations: { a: '1', b: '' } })).toBe(true);
    expect(writesNewVersion({ ownerReferences: [owner] }, { ownerReferences: [{ ...owner, controller: true }] })).toBe(true);
    expect(writesNewVersion({ ownerReferences: [owner] }, { ownerReferences: [{ ...owner, uid: 'u2' }] })).toBe(true);
    expect(writesNewVersion({ ownerReferences: [owner] }, { ownerReferences: [owner, owner] })).toBe(true);
    expect(writesNewVersion({ ownerReferences: [{ ...owner, blockOwnerDeletion: false }] }, { ownerReferences: [owner] })).toBe(true);
    expect(writesNewVersion({ ownerReferences: [owner] }, { ownerReferences: [{ uid: 'u1', name: 'p', controller: null, kind: 'Pod', apiVersion: 'v1' }] })).toBe(false);
    expect(writesNewVersion({ annotations: { a: '1', b: '2' } }, { annotations: { b: '2', a: '1' }, labels: null })).toBe(false);
  });
});

describe('LeaseStore: listing', () => {
  it('lists every matching Lease, sorted by namespace and name (paging is the embedded server\'s)', () => {
    const store = new LeaseStore();
    for (const name of ['c', 'a', 'b']) store.create(NS, { metadata: { name } });
    store.create('kube-system', { metadata: { name: 'z' } });
    expect(store.list(NS).items.map((l) => l.metadata?.name)).toEqual(['a', 'b', 'c']);
    expect(store.list(undefined).items.map((l) => `${l.metadata?.namespace}/${l.metadata?.name}`)).toEqual(['default/a', 'default/b', 'default/c', 'kube-system/z']);
    expect(store.list(NS).metadata).toEqual({ resourceVersion: store.resourceVersion });
  });
});

describe('LeaseStore: writing a patch result (update via patch or apply)', () => {
  it('writes over the current version when the result names no resourceVersion, and refuses a stale one with 409', () => {
    const store = new LeaseStore();
    const created = store.create(NS, { metadata: { name: 'a' }, spec: { holderIdentity: 'x' } });
    const written = store.update(NS, 'a', { metadata: { name: 'a' }, spec: { holderIdentity: 'y' } }, { via: 'patch' });
    expect(written.lease.spec?.holderIdentity).toBe('y');
    expect(Number(written.lease.metadata?.resourceVersion)).toBe(Number(created.metadata?.resourceVersion) + 1);
    const stale = apiErrorOf(() => store.update(NS, 'a', { metadata: { name: 'a', resourceVersion: created.metadata!.resourceVersion! }, spec: {} }, { via: 'patch' }));
    expect([stale.statusCode, stale.reason]).toEqual([409, 'Conflict']);
    // The same body as a PUT must name the version it replaces.
    expect(apiErrorOf(() => store.update(NS, 'a', { metadata: { name: 'a' }, spec: {} })).statusCode).toBe(422);
  });

  it('answers a patch result that does not decode with 422 on "patch", a PUT body with 400', () => {
    const store = new LeaseStore();
    store.create(NS, { metadata: { name: 'a' } });
    const body = { metadata: { name: 'a', labels: { app: 1 } } };
    const patched = apiErrorOf(() => store.update(NS, 'a', body, { via: 'patch' }));
    expect([patched.statusCode, patched.status.details?.causes?.[0]?.field]).toEqual([422, 'patch']);
    expect(apiErrorOf(() => store.update(NS, 'a', body, { via: 'apply' })).statusCode).toBe(400);
  });

  it('creates a missing Lease for apply only', () => {
    const store = new LeaseStore();
    expect(apiErrorOf(() => store.update(NS, 'a', { metadata: { name: 'a' } }, { via: 'patch' })).statusCode).toBe(404);
    const applied = store.update(NS, 'a', { metadata: { name: 'a', resourceVersion: '42' } }, { via: 'apply' });
    expect(applied.created).toBe(true);
    expect(applied.lease.metadata?.resourceVersion).toBe(store.resourceVersion);
  });
});

describe('LeaseStore: event records', () => {
  it('keeps every recordEvent call as a record, without touching Lease versions', () => {
    const store = new LeaseStore({ clock: new FakeClock() });
    store.create(NS, { metadata: { name: 'lock' } });
    const before = store.resourceVersion;
    store.recordEvent({ namespace: NS, leaseName: 'lock', leaseUid: 'u1', type: 'Normal', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: Date.UTC(2025, 0, 1, 0, 0, 1) });
    expect(store.resourceVersion).toBe(before);
    expect(store.events).toEqual([{ namespace: NS, leaseName: 'lock', leaseUid: 'u1', type: 'Normal', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: Date.UTC(2025, 0, 1, 0, 0, 1) }]);
  });

  it('reads a created Event object about a Lease into the events array, and ignores Events about anything else', () => {
    const store = new LeaseStore();
    store.createEvent(NS, {
      metadata: { name: 'lock.17a' },
      involvedObject: { kind: 'Lease', name: 'lock', uid: 'u1' },
      reason: 'LeaderElection',
      message: 'a became leader',
      type: 'Warning',
      reportingInstance: 'a',
      eventTime: '2025-01-01T00:00:05.000000Z',
    });
    expect(store.events).toEqual([
      { namespace: NS, leaseName: 'lock', leaseUid: 'u1', type: 'Warning', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: Date.UTC(2025, 0, 1, 0, 0, 5) },
    ]);
    store.createEvent(NS, { metadata: { name: 'pod-event' }, involvedObject: { kind: 'Pod', name: 'p' }, reason: 'X' });
    store.createEvent(NS, 'text');
    expect(store.events).toHaveLength(1);
  });

  it('keeps at most eventLimit records, dropping the oldest', () => {
    const store = new LeaseStore({ eventLimit: 2 });
    for (const message of ['e1', 'e2', 'e3']) store.recordEvent({ namespace: NS, leaseName: 'lock', type: 'Normal', reason: 'R', message, reportingInstance: 'a', timeMs: 0 });
    expect(store.events.map((e) => e.message)).toEqual(['e2', 'e3']);
  });
});
