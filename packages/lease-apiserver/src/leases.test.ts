/**
 * The Lease verbs over HTTP, driven by @kubernetes/client-node where it has a call for them (so
 * the real client's serialization and error handling are exercised) and by raw requests where
 * the wire format itself is the point.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiException, CoordinationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Lease } from '@kubernetes/client-node';
import { startLeaseApiServer, type LeaseApiServer } from './index.js';
import { microNow, send } from './__tests__/helpers.js';

const NS = 'default';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json';

let server: LeaseApiServer;
let api: CoordinationV1Api;

beforeEach(async () => {
  server = await startLeaseApiServer();
  api = server.kubeConfig().makeApiClient(CoordinationV1Api);
});

afterEach(async () => {
  await server.close();
});

/** The Status reason of a rejected client-node call. */
async function reasonOf(call: Promise<unknown>): Promise<[number, string]> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiException) return [err.code, (JSON.parse(err.body as string) as { reason: string }).reason];
    throw err;
  }
  throw new Error('expected the call to fail');
}

const body = (name: string, spec: V1Lease['spec'] = {}): V1Lease => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec });

describe('create, get and update with client-node', () => {
  it('creates a Lease and reads it back with server-set metadata', async () => {
    const renewTime = microNow();
    const created = await api.createNamespacedLease({ namespace: NS, body: body('a', { holderIdentity: 'x', leaseDurationSeconds: 15, renewTime: renewTime as unknown as Date }) });
    expect(created.metadata?.resourceVersion).toBeDefined();
    expect(created.metadata?.uid).toBeDefined();
    expect(created.metadata?.creationTimestamp).toBeDefined();
    const read = await api.readNamespacedLease({ name: 'a', namespace: NS });
    expect(read.spec?.holderIdentity).toBe('x');
    expect(String(read.spec?.renewTime)).toBe(renewTime);
    expect(server.counters.snapshot()).toMatchObject({ create: 1, get: 1, total: 2 });
  });

  it('replaces with compare-and-swap on resourceVersion, and a stale write gets 409 Conflict', async () => {
    const created = await api.createNamespacedLease({ namespace: NS, body: body('a', { holderIdentity: 'x' }) });
    const updated = await api.replaceNamespacedLease({ name: 'a', namespace: NS, body: { ...created, spec: { holderIdentity: 'y' } } });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
    expect(await reasonOf(api.replaceNamespacedLease({ name: 'a', namespace: NS, body: { ...created, spec: { holderIdentity: 'z' } } }))).toEqual([409, 'Conflict']);
    expect(server.store.get(NS, 'a').spec?.holderIdentity).toBe('y');
  });

  it('does not bump the resourceVersion for an identical update', async () => {
    const created = await api.createNamespacedLease({ namespace: NS, body: body('a', { holderIdentity: 'x' }) });
    const same = await api.replaceNamespacedLease({ name: 'a', namespace: NS, body: created });
    expect(same.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
  });

  it('creates with PUT when the name is missing (201), like a real server for Leases', async () => {
    const res = await send(server.url, 'PUT', `${LEASES}/fresh`, { body: body('fresh', { holderIdentity: 'x' }) });
    expect(res.status).toBe(201);
    expect(res.json.metadata.resourceVersion).toBeDefined();
  });

  it('classifies AlreadyExists and NotFound by reason', async () => {
    await api.createNamespacedLease({ namespace: NS, body: body('a') });
    expect(await reasonOf(api.createNamespacedLease({ namespace: NS, body: body('a') }))).toEqual([409, 'AlreadyExists']);
    expect(await reasonOf(api.readNamespacedLease({ name: 'b', namespace: NS }))).toEqual([404, 'NotFound']);
  });

  it('names a Lease from generateName', async () => {
    const created = await api.createNamespacedLease({ namespace: NS, body: { metadata: { generateName: 'lock-' } } });
    expect(created.metadata?.name).toMatch(/^lock-[0-9a-z]{5}$/);
  });
});

describe('list', () => {
  beforeEach(() => {
    for (const name of ['c', 'a', 'b']) server.store.create(NS, { metadata: { name } });
    server.store.create('kube-system', { metadata: { name: 'k' } });
  });

  it('lists a namespace in name order, paged by limit and continue', async () => {
    const first = await api.listNamespacedLease({ namespace: NS, limit: 2 });
    expect(first.items.map((l) => l.metadata?.name)).toEqual(['a', 'b']);
    expect(first.metadata?.remainingItemCount).toBe(1);
    const rest = await api.listNamespacedLease({ namespace: NS, limit: 2, _continue: first.metadata!._continue! });
    expect(rest.items.map((l) => l.metadata?.name)).toEqual(['c']);
    expect(rest.metadata?._continue).toBeUndefined();
  });

  it('lists every namespace, and selects by metadata.name and metadata.namespace', async () => {
    const all = await api.listLeaseForAllNamespaces();
    expect(all.items.map((l) => `${l.metadata?.namespace}/${l.metadata?.name}`)).toEqual(['default/a', 'default/b', 'default/c', 'kube-system/k']);
    const one = await api.listNamespacedLease({ namespace: NS, fieldSelector: 'metadata.name=b' });
    expect(one.items.map((l) => l.metadata?.name)).toEqual(['b']);
    const system = await api.listLeaseForAllNamespaces({ fieldSelector: 'metadata.namespace==kube-system' });
    expect(system.items.map((l) => l.metadata?.name)).toEqual(['k']);
    const none = await api.listNamespacedLease({ namespace: NS, fieldSelector: 'metadata.namespace=kube-system' });
    expect(none.items).toEqual([]);
  });
});

describe('patch', () => {
  beforeEach(() => {
    server.store.create(NS, { metadata: { name: 'a', labels: { keep: 'yes' } }, spec: { holderIdentity: 'x', leaseDurationSeconds: 10 } });
  });

  it('applies a merge patch', async () => {
    const patched = await api.patchNamespacedLease({ name: 'a', namespace: NS, body: { spec: { holderIdentity: 'y', leaseDurationSeconds: null } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(patched.spec?.holderIdentity).toBe('y');
    expect(patched.spec?.leaseDurationSeconds).toBeUndefined();
    expect(patched.metadata?.labels).toEqual({ keep: 'yes' });
  });

  it('applies a strategic merge patch (the same as a merge patch for a Lease)', async () => {
    const patched = await api.patchNamespacedLease({ name: 'a', namespace: NS, body: { metadata: { labels: { added: 'too' } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    expect(patched.metadata?.labels).toEqual({ keep: 'yes', added: 'too' });
  });

  it('applies a JSON patch, including a test operation', async () => {
    const patched = await api.patchNamespacedLease(
      { name: 'a', namespace: NS, body: [{ op: 'test', path: '/spec/holderIdentity', value: 'x' }, { op: 'replace', path: '/spec/holderIdentity', value: 'z' }] },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
    expect(patched.spec?.holderIdentity).toBe('z');
  });

  it('refuses a patch carrying a stale resourceVersion with 409 Conflict', async () => {
    const res = await send(server.url, 'PATCH', `${LEASES}/a`, { body: { metadata: { resourceVersion: '0' }, spec: { holderIdentity: 'q' } }, headers: { 'Content-Type': PatchStrategy.MergePatch } });
    expect([res.status, res.json.reason]).toEqual([409, 'Conflict']);
  });

  it('creates and updates with server-side apply, YAML or JSON', async () => {
    const yaml = 'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: applied\nspec:\n  holderIdentity: ssa\n';
    const created = await send(server.url, 'PATCH', `${LEASES}/applied?fieldManager=test`, { body: yaml, headers: { 'Content-Type': PatchStrategy.ServerSideApply } });
    expect(created.status).toBe(201);
    expect(created.json.spec.holderIdentity).toBe('ssa');
    const updated = await api.patchNamespacedLease(
      { name: 'applied', namespace: NS, fieldManager: 'test', body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'applied' }, spec: { holderIdentity: 'ssa2' } } },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    );
    expect(updated.spec?.holderIdentity).toBe('ssa2');
  });

  it('answers a patch of a missing Lease with 404 NotFound', async () => {
    expect(await reasonOf(api.patchNamespacedLease({ name: 'nope', namespace: NS, body: { spec: {} } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)))).toEqual([404, 'NotFound']);
  });
});

describe('delete', () => {
  it('deletes a Lease and answers with a Success Status naming it', async () => {
    const created = server.store.create(NS, { metadata: { name: 'a' } });
    const res = await send(server.url, 'DELETE', `${LEASES}/a`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: 'a', group: 'coordination.k8s.io', kind: 'leases', uid: created.metadata?.uid } });
    expect(server.store.peek(NS, 'a')).toBeUndefined();
    expect(await reasonOf(api.deleteNamespacedLease({ name: 'a', namespace: NS }))).toEqual([404, 'NotFound']);
  });

  it('honours a uid precondition in DeleteOptions', async () => {
    server.store.create(NS, { metadata: { name: 'a' } });
    const res = await send(server.url, 'DELETE', `${LEASES}/a`, { body: { preconditions: { uid: 'not-this-one' } } });
    expect([res.status, res.json.reason]).toEqual([409, 'Conflict']);
    expect(server.store.peek(NS, 'a')).toBeDefined();
  });

  it('deletes a collection, or only the Lease a field selector names', async () => {
    for (const name of ['a', 'b', 'c']) server.store.create(NS, { metadata: { name } });
    server.store.create('kube-system', { metadata: { name: 'k' } });
    await api.deleteCollectionNamespacedLease({ namespace: NS, fieldSelector: 'metadata.name=b' });
    expect(server.store.list(NS).items.map((l) => l.metadata?.name)).toEqual(['a', 'c']);
    const res = await send(server.url, 'DELETE', LEASES);
    expect(res.json.items.map((l: V1Lease) => l.metadata?.name)).toEqual(['a', 'c']);
    expect(server.store.list(undefined).items.map((l) => l.metadata?.name)).toEqual(['k']);
    expect(server.counters.get('deletecollection')).toBe(2);
  });
});

describe('unknown fields', () => {
  it('drops unknown fields with a Warning header by default, like a real server', async () => {
    const res = await send(server.url, 'POST', LEASES, { body: { metadata: { name: 'a', bogus: 1 }, spec: { holderIdentiy: 'typo' }, status: {} } });
    expect(res.status).toBe(201);
    expect(res.json.spec).toEqual({});
    expect(res.json.status).toBeUndefined();
    expect(res.json.metadata.bogus).toBeUndefined();
    expect(res.headers.warning).toBe('299 - "unknown field \\"status\\"", 299 - "unknown field \\"metadata.bogus\\"", 299 - "unknown field \\"spec.holderIdentiy\\""');
  });

  it('drops them silently under fieldValidation=Ignore', async () => {
    const res = await send(server.url, 'POST', `${LEASES}?fieldValidation=Ignore`, { body: { metadata: { name: 'a' }, spec: { extra: 1 } } });
    expect(res.status).toBe(201);
    expect(res.headers.warning).toBeUndefined();
  });
});

describe('Table responses for kubectl', () => {
  beforeEach(() => {
    server.store.create(NS, { metadata: { name: 'held' }, spec: { holderIdentity: 'replica-a' } });
    server.store.create(NS, { metadata: { name: 'free' } });
  });

  it('answers a list with NAME, HOLDER and AGE columns and PartialObjectMetadata rows', async () => {
    const res = await send(server.url, 'GET', `${LEASES}?limit=500`, { headers: { Accept: TABLE } });
    expect(res.status).toBe(200);
    expect(res.json.kind).toBe('Table');
    expect(res.json.apiVersion).toBe('meta.k8s.io/v1');
    expect(res.json.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(['Name', 'Holder', 'Age']);
    expect(res.json.columnDefinitions[0].format).toBe('name');
    expect(res.json.rows.map((r: { cells: string[] }) => r.cells.slice(0, 2))).toEqual([['free', ''], ['held', 'replica-a']]);
    expect(res.json.rows[0].cells[2]).toMatch(/^\d+s$/);
    expect(res.json.rows[1].object).toMatchObject({ kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: { name: 'held', namespace: NS } });
    expect(res.json.metadata.resourceVersion).toBe(server.store.resourceVersion);
  });

  it('answers a get with a one-row Table, and includes the object or nothing when asked', async () => {
    const full = await send(server.url, 'GET', `${LEASES}/held?includeObject=Object`, { headers: { Accept: TABLE } });
    expect(full.json.rows).toHaveLength(1);
    expect(full.json.rows[0].object.spec.holderIdentity).toBe('replica-a');
    const bare = await send(server.url, 'GET', `${LEASES}/held?includeObject=None`, { headers: { Accept: TABLE } });
    expect(bare.json.rows[0].object).toBeUndefined();
  });

  it('answers plain JSON when the client prefers it', async () => {
    const res = await send(server.url, 'GET', LEASES, { headers: { Accept: 'application/json, application/json;as=Table;v=v1;g=meta.k8s.io' } });
    expect(res.json.kind).toBe('LeaseList');
  });
});

describe('Events', () => {
  const EVENTS = `/api/v1/namespaces/${NS}/events`;

  it('records an Event with client-node and lists it, as JSON and as a Table', async () => {
    const core = server.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedEvent({
      namespace: NS,
      body: {
        metadata: { name: 'lock.1' },
        involvedObject: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: 'lock', namespace: NS },
        reason: 'LeaderElection',
        message: 'a became leader',
        type: 'Normal',
        source: { component: 'a' },
        count: 1,
      },
    });
    const list = await core.listNamespacedEvent({ namespace: NS });
    expect(list.items.map((e) => e.message)).toEqual(['a became leader']);
    expect(server.store.events.map((e) => e.message)).toEqual(['a became leader']);
    const table = await send(server.url, 'GET', EVENTS, { headers: { Accept: TABLE } });
    expect(table.json.columnDefinitions.filter((c: { priority: number }) => c.priority === 0).map((c: { name: string }) => c.name)).toEqual([
      'Last Seen',
      'Type',
      'Reason',
      'Object',
      'Message',
    ]);
    expect(table.json.rows[0].cells.slice(1, 4)).toEqual(['Normal', 'LeaderElection', 'lease/lock']);
    expect(server.counters.snapshot('events')).toMatchObject({ create: 1, list: 2 });
  });

  it('lists in every namespace, gets, patches and deletes an Event', async () => {
    server.events.create(NS, { metadata: { generateName: 'lock.' }, involvedObject: { kind: 'Lease', name: 'lock', namespace: NS }, reason: 'LeaderElection', message: 'm', type: 'Normal' });
    const all = await send(server.url, 'GET', '/api/v1/events');
    expect(all.json.items).toHaveLength(1);
    const name = all.json.items[0].metadata.name as string;
    expect((await send(server.url, 'GET', `${EVENTS}/${name}`)).json.message).toBe('m');
    const patched = await send(server.url, 'PATCH', `${EVENTS}/${name}`, { body: { count: 2 }, headers: { 'Content-Type': 'application/strategic-merge-patch+json' } });
    expect(patched.json.count).toBe(2);
    expect((await send(server.url, 'DELETE', `${EVENTS}/${name}`)).json.status).toBe('Success');
    expect((await send(server.url, 'GET', `${EVENTS}/${name}`)).json.reason).toBe('NotFound');
  });

  it('refuses Event verbs it does not implement with 405', async () => {
    expect((await send(server.url, 'GET', `${EVENTS}?watch=true`)).status).toBe(405);
    expect((await send(server.url, 'DELETE', EVENTS)).status).toBe(405);
  });
});
