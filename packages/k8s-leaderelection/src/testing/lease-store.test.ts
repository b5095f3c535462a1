import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.js';
import { FakeClock } from './fake-clock.js';
import { LeaseStore } from './lease-store.js';

const NS = 'default';

/** Runs `fn` and returns the ApiError it throws. */
function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

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
});

describe('LeaseStore: listing', () => {
  it('pages with limit and continue, reporting the remaining count', () => {
    const store = new LeaseStore();
    for (const name of ['c', 'a', 'b']) store.create(NS, { metadata: { name } });
    const first = store.list(NS, { limit: 2 });
    expect(first.items.map((l) => l.metadata?.name)).toEqual(['a', 'b']);
    expect(first.metadata.remainingItemCount).toBe(1);
    const second = store.list(NS, { limit: 2, continue: first.metadata.continue! });
    expect(second.items.map((l) => l.metadata?.name)).toEqual(['c']);
    expect(second.metadata.continue).toBeUndefined();
    expect(() => store.list(NS, { continue: Buffer.from('-4').toString('base64') })).toThrow(ApiError);
  });
});

describe('LeaseStore: Events', () => {
  const leaseEvent = (overrides: object = {}) => ({
    metadata: { name: 'lock.17a' },
    involvedObject: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: 'lock', namespace: NS },
    reason: 'LeaderElection',
    message: 'a became leader',
    type: 'Normal',
    source: { component: 'a' },
    lastTimestamp: '2025-01-01T00:00:05Z',
    count: 1,
    ...overrides,
  });

  it('keeps an Event object for every recordEvent call, without touching Lease versions or the events array shape', () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    store.create(NS, { metadata: { name: 'lock' } });
    const before = store.resourceVersion;
    store.recordEvent({ namespace: NS, leaseName: 'lock', leaseUid: 'u1', type: 'Normal', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: Date.UTC(2025, 0, 1, 0, 0, 1) });
    expect(store.resourceVersion).toBe(before);
    expect(store.events).toEqual([{ namespace: NS, leaseName: 'lock', leaseUid: 'u1', type: 'Normal', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: Date.UTC(2025, 0, 1, 0, 0, 1) }]);
    const [event] = store.listEvents(NS).items;
    expect(event).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      involvedObject: { kind: 'Lease', name: 'lock', namespace: NS, uid: 'u1' },
      reason: 'LeaderElection',
      message: 'a became leader',
      type: 'Normal',
      source: { component: 'a' },
      lastTimestamp: '2025-01-01T00:00:01Z',
      count: 1,
    });
    expect(event?.metadata?.name).toMatch(/^lock\.[0-9a-f]+$/);
    expect(event?.metadata?.resourceVersion).toBe('1');
  });

  it('gives two events recorded in the same millisecond distinct names', () => {
    const store = new LeaseStore();
    const record = { namespace: NS, leaseName: 'lock', type: 'Normal' as const, reason: 'LeaderElection', message: 'm', reportingInstance: 'a', timeMs: 1000 };
    store.recordEvent(record);
    store.recordEvent(record);
    const names = store.listEvents(NS).items.map((e) => e.metadata?.name);
    expect(new Set(names).size).toBe(2);
  });

  it('creates an Event from a POST body and reports it in the events array when it is about a Lease', () => {
    const store = new LeaseStore();
    const created = store.createEvent(NS, leaseEvent());
    expect(created.metadata).toMatchObject({ name: 'lock.17a', namespace: NS, resourceVersion: '1' });
    expect(created.metadata?.uid).toBeDefined();
    expect(store.getEvent(NS, 'lock.17a').message).toBe('a became leader');
    expect(store.events).toEqual([
      { namespace: NS, leaseName: 'lock', type: 'Normal', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: Date.UTC(2025, 0, 1, 0, 0, 5) },
    ]);
    store.createEvent(NS, { metadata: { name: 'pod-event' }, involvedObject: { kind: 'Pod', name: 'p' }, reason: 'X' });
    expect(store.events).toHaveLength(1);
  });

  it('validates an Event like the API server', () => {
    const store = new LeaseStore();
    store.createEvent(NS, leaseEvent());
    const exists = apiErrorOf(() => store.createEvent(NS, leaseEvent()));
    expect([exists.statusCode, exists.reason, exists.status.message]).toEqual([409, 'AlreadyExists', 'events "lock.17a" already exists']);
    const noName = apiErrorOf(() => store.createEvent(NS, leaseEvent({ metadata: {} })));
    expect([noName.statusCode, noName.status.details?.causes?.[0]?.field]).toEqual([422, 'metadata.name']);
    const otherNs = apiErrorOf(() => store.createEvent(NS, leaseEvent({ metadata: { name: 'e', namespace: 'other' } })));
    expect(otherNs.statusCode).toBe(400);
    const involved = apiErrorOf(() => store.createEvent(NS, leaseEvent({ metadata: { name: 'e2' }, involvedObject: { kind: 'Lease', name: 'l', namespace: 'other' } })));
    expect(involved.status.message).toBe('Event "e2" is invalid: involvedObject.namespace: Invalid value: "other": does not match event.namespace');
    const wrongKind = apiErrorOf(() => store.createEvent(NS, leaseEvent({ kind: 'Lease', metadata: { name: 'e3' } })));
    expect(wrongKind.statusCode).toBe(400);
    expect(apiErrorOf(() => store.createEvent(NS, 'text')).statusCode).toBe(400);
    expect(apiErrorOf(() => store.createEvent(NS, leaseEvent({ metadata: { name: 'e4', resourceVersion: '3' } }))).statusCode).toBe(500);
  });

  it('names an Event from generateName', () => {
    const store = new LeaseStore();
    const created = store.createEvent(NS, leaseEvent({ metadata: { generateName: 'lock.' } }));
    expect(created.metadata?.name).toMatch(/^lock\.[0-9a-z]{5}$/);
    expect(created.metadata?.generateName).toBeUndefined();
  });

  it('answers NotFound for a missing Event with the core group wording', () => {
    const err = apiErrorOf(() => new LeaseStore().getEvent(NS, 'nope'));
    expect([err.statusCode, err.reason, err.status.message]).toEqual([404, 'NotFound', 'events "nope" not found']);
    expect(err.status.details).toEqual({ name: 'nope', kind: 'events' });
  });

  it('patches an Event, bumping its resourceVersion, and refuses a stale one', () => {
    const store = new LeaseStore();
    store.createEvent(NS, leaseEvent());
    const patched = store.patchEvent(NS, 'lock.17a', { count: 2, lastTimestamp: '2025-01-01T00:01:00Z' }, 'merge');
    expect(patched.count).toBe(2);
    expect(patched.metadata?.resourceVersion).toBe('2');
    const stale = apiErrorOf(() => store.patchEvent(NS, 'lock.17a', { metadata: { resourceVersion: '1' }, count: 3 }, 'strategic'));
    expect([stale.statusCode, stale.reason]).toEqual([409, 'Conflict']);
    expect(apiErrorOf(() => store.patchEvent(NS, 'nope', {}, 'merge')).statusCode).toBe(404);
  });

  it('deletes an Event', () => {
    const store = new LeaseStore();
    store.createEvent(NS, leaseEvent());
    expect(store.deleteEvent(NS, 'lock.17a').metadata?.name).toBe('lock.17a');
    expect(apiErrorOf(() => store.getEvent(NS, 'lock.17a')).statusCode).toBe(404);
    expect(apiErrorOf(() => store.deleteEvent(NS, 'lock.17a')).statusCode).toBe(404);
  });

  it('lists Events by namespace with paging', () => {
    const store = new LeaseStore();
    for (const name of ['e1', 'e2', 'e3']) store.createEvent(NS, leaseEvent({ metadata: { name } }));
    store.createEvent('kube-system', leaseEvent({ metadata: { name: 'e0' }, involvedObject: { kind: 'Lease', name: 'l', namespace: 'kube-system' } }));
    expect(store.listEvents(NS).items).toHaveLength(3);
    expect(store.listEvents(undefined).items).toHaveLength(4);
    const page = store.listEvents(NS, { limit: 2 });
    expect(page.items.map((e) => e.metadata?.name)).toEqual(['e1', 'e2']);
    expect(store.listEvents(NS, { continue: page.metadata.continue! }).items.map((e) => e.metadata?.name)).toEqual(['e3']);
    expect(page.kind).toBe('EventList');
  });

  it('keeps at most eventLimit Event objects, dropping the oldest', () => {
    const store = new LeaseStore({ eventLimit: 2 });
    for (const name of ['e1', 'e2', 'e3']) store.createEvent(NS, leaseEvent({ metadata: { name } }));
    expect(store.listEvents(NS).items.map((e) => e.metadata?.name)).toEqual(['e2', 'e3']);
    expect(store.events).toHaveLength(2); // the records are bounded the same way
  });
});
