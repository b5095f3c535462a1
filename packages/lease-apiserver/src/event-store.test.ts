/**
 * Event objects: created, validated and named like the API server does, read, listed by
 * namespace and labels, patched, deleted and bounded; Events about a Lease reach the LeaseStore's
 * `events`.
 */
import { describe, expect, it } from '@jest/globals';
import { LeaseStore } from '@leasekit/k8s-leaderelection/testing';
import { apiErrorOf } from './__tests__/values.js';
import { EventStore } from './event-store.js';
import { pageOf } from './paging.js';

const NS = 'default';

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

function stores(limit?: number): { leases: LeaseStore; events: EventStore } {
  const leases = new LeaseStore();
  return { leases, events: new EventStore({ leases, ...(limit !== undefined ? { limit } : {}) }) };
}

describe('EventStore', () => {
  it('creates an Event from a POST body and reports it in the LeaseStore events when it is about a Lease', () => {
    const { leases, events } = stores();
    const before = leases.resourceVersion;
    const created = events.create(NS, leaseEvent());
    expect(created.metadata).toMatchObject({ name: 'lock.17a', namespace: NS, resourceVersion: '1' });
    expect(created.metadata?.uid).toBeDefined();
    expect(events.get(NS, 'lock.17a').message).toBe('a became leader');
    expect(leases.resourceVersion).toBe(before);
    expect(leases.events).toEqual([
      { namespace: NS, leaseName: 'lock', type: 'Normal', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: Date.UTC(2025, 0, 1, 0, 0, 5) },
    ]);
    events.create(NS, { metadata: { name: 'pod-event' }, involvedObject: { kind: 'Pod', name: 'p' }, reason: 'X' });
    expect(leases.events).toHaveLength(1);
  });

  it('validates an Event like the API server', () => {
    const { events } = stores();
    events.create(NS, leaseEvent());
    const exists = apiErrorOf(() => events.create(NS, leaseEvent()));
    expect([exists.statusCode, exists.reason, exists.status.message]).toEqual([409, 'AlreadyExists', 'events "lock.17a" already exists']);
    const noName = apiErrorOf(() => events.create(NS, leaseEvent({ metadata: {} })));
    expect([noName.statusCode, noName.status.details?.causes?.[0]?.field]).toEqual([422, 'metadata.name']);
    const otherNs = apiErrorOf(() => events.create(NS, leaseEvent({ metadata: { name: 'e', namespace: 'other' } })));
    expect(otherNs.statusCode).toBe(400);
    const involved = apiErrorOf(() => events.create(NS, leaseEvent({ metadata: { name: 'e2' }, involvedObject: { kind: 'Lease', name: 'l', namespace: 'other' } })));
    expect(involved.status.message).toBe('Event "e2" is invalid: involvedObject.namespace: Invalid value: "other": does not match event.namespace');
    const wrongKind = apiErrorOf(() => events.create(NS, leaseEvent({ kind: 'Lease', metadata: { name: 'e3' } })));
    expect(wrongKind.statusCode).toBe(400);
    expect(apiErrorOf(() => events.create(NS, 'text')).statusCode).toBe(400);
    expect(apiErrorOf(() => events.create(NS, leaseEvent({ metadata: { name: 'e4', resourceVersion: '3' } }))).statusCode).toBe(500);
  });

  it('checks labels like the LeaseStore: 400 for a label that is not a string, 422 when a patch makes one', () => {
    const { events } = stores();
    const bad = apiErrorOf(() => events.create(NS, { metadata: { name: 'e', labels: { n: 1 } } }));
    expect([bad.statusCode, bad.status.message]).toEqual([400, 'Event in version "v1" cannot be handled as a Event: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string']);
    events.create(NS, { metadata: { name: 'e' } });
    const patch = apiErrorOf(() => events.patch(NS, 'e', { metadata: { labels: { n: 1 } } }, 'merge'));
    expect([patch.statusCode, patch.reason, patch.status.details?.causes?.[0]?.field]).toEqual([422, 'Invalid', 'patch']);
    const invalid = apiErrorOf(() => events.create(NS, { metadata: { name: 'f', labels: { 'no way': 'x' } } }));
    expect([invalid.statusCode, invalid.status.details?.causes?.[0]?.field]).toEqual([422, 'metadata.labels']);
  });

  it('names an Event from generateName', () => {
    const { events } = stores();
    const created = events.create(NS, leaseEvent({ metadata: { generateName: 'lock.' } }));
    expect(created.metadata?.name).toMatch(/^lock\.[0-9a-z]{5}$/);
    expect(created.metadata?.generateName).toBeUndefined();
  });

  it('answers NotFound for a missing Event with the core group wording', () => {
    const err = apiErrorOf(() => stores().events.get(NS, 'nope'));
    expect([err.statusCode, err.reason, err.status.message]).toEqual([404, 'NotFound', 'events "nope" not found']);
    expect(err.status.details).toEqual({ name: 'nope', kind: 'events' });
  });

  it('patches an Event, bumping its resourceVersion, and refuses a stale one', () => {
    const { events } = stores();
    events.create(NS, leaseEvent());
    const patched = events.patch(NS, 'lock.17a', { count: 2, lastTimestamp: '2025-01-01T00:01:00Z' }, 'merge');
    expect(patched.count).toBe(2);
    expect(patched.metadata?.resourceVersion).toBe('2');
    const stale = apiErrorOf(() => events.patch(NS, 'lock.17a', { metadata: { resourceVersion: '1' }, count: 3 }, 'strategic'));
    expect([stale.statusCode, stale.reason]).toEqual([409, 'Conflict']);
    expect(apiErrorOf(() => events.patch(NS, 'nope', {}, 'merge')).statusCode).toBe(404);
  });

  it('deletes an Event', () => {
    const { events } = stores();
    events.create(NS, leaseEvent());
    expect(events.delete(NS, 'lock.17a').metadata?.name).toBe('lock.17a');
    expect(apiErrorOf(() => events.get(NS, 'lock.17a')).statusCode).toBe(404);
    expect(apiErrorOf(() => events.delete(NS, 'lock.17a')).statusCode).toBe(404);
  });

  it('lists Events by namespace, in pages', () => {
    const { events } = stores();
    for (const name of ['e1', 'e2', 'e3']) events.create(NS, leaseEvent({ metadata: { name } }));
    events.create('kube-system', leaseEvent({ metadata: { name: 'e0' }, involvedObject: { kind: 'Lease', name: 'l', namespace: 'kube-system' } }));
    expect(events.list(NS).items).toHaveLength(3);
    expect(events.list(undefined).items).toHaveLength(4);
    const page = pageOf(events.list(NS), { limit: 2 });
    expect(page.items.map((e) => e.metadata?.name)).toEqual(['e1', 'e2']);
    expect(pageOf(events.list(NS), { continue: page.metadata.continue! }).items.map((e) => e.metadata?.name)).toEqual(['e3']);
    expect(page.kind).toBe('EventList');
  });

  it('filters Events by their labels', () => {
    const { events } = stores();
    const event = (name: string, labels?: Record<string, string>) => ({
      metadata: { name, ...(labels ? { labels } : {}) },
      involvedObject: { kind: 'Lease', name: 'lock', namespace: NS },
      reason: 'LeaderElection',
      message: 'm',
    });
    events.create(NS, event('a', { source: 'x' }));
    events.create(NS, event('b'));
    expect(events.list(NS, { labelSelector: 'source=x' }).items.map((e) => e.metadata?.name)).toEqual(['a']);
    expect(events.list(NS, { labelSelector: '!source' }).items.map((e) => e.metadata?.name)).toEqual(['b']);
    expect(apiErrorOf(() => events.list(NS, { labelSelector: 'source=-' })).statusCode).toBe(400);
  });

  it('keeps at most limit Event objects, dropping the oldest', () => {
    const { events } = stores(2);
    for (const name of ['e1', 'e2', 'e3']) events.create(NS, leaseEvent({ metadata: { name } }));
    expect(events.list(NS).items.map((e) => e.metadata?.name)).toEqual(['e2', 'e3']);
  });
});
