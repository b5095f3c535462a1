/**
 * `labelSelector` over real HTTP: list (raw and through client-node), watch (raw and through
 * client-node's Watch), deletecollection and Events, and the real server's 400 for a selector
 * that does not parse. The selection rules themselves are the store's (its own tests).
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiException, CoordinationV1Api, Watch } from '@kubernetes/client-node';
import { startLeaseApiServer, type LeaseApiServer } from './index.js';
import { openWatch, send, waitFor, type RawWatch } from './__tests__/helpers.js';

const NS = 'default';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
const ALL_LEASES = '/apis/coordination.k8s.io/v1/leases';
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

let server: LeaseApiServer;
const open: RawWatch[] = [];

beforeEach(async () => {
  server = await startLeaseApiServer();
  const seed: [string, string, Record<string, string> | undefined][] = [
    [NS, 'web-1', { app: 'web' }],
    [NS, 'web-2', { app: 'web', tier: 'front' }],
    [NS, 'db', { app: 'db' }],
    [NS, 'bare', undefined],
    ['prod', 'web-3', { app: 'web' }],
  ];
  for (const [namespace, name, labels] of seed) server.store.create(namespace, { metadata: { name, ...(labels ? { labels } : {}) } });
});

afterEach(async () => {
  for (const w of open.splice(0)) w.close();
  await server.close();
});

const query = (selector: string): string => `labelSelector=${encodeURIComponent(selector)}`;
const itemNames = (body: { items: { metadata: { namespace: string; name: string } }[] }): string[] => body.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`);

function relabel(namespace: string, name: string, labels: Record<string, string>): void {
  const current = server.store.get(namespace, name);
  server.store.update(namespace, name, { ...current, metadata: { ...current.metadata, labels } });
}

describe('list with labelSelector', () => {
  it('lists only matching Leases in a namespace and across namespaces', async () => {
    const namespaced = await send(server.url, 'GET', `${LEASES}?${query('app=web')}`);
    expect(namespaced.status).toBe(200);
    expect(itemNames(namespaced.json)).toEqual(['default/web-1', 'default/web-2']);
    const all = await send(server.url, 'GET', `${ALL_LEASES}?${query('app in (web, db),tier notin (front)')}`);
    expect(itemNames(all.json)).toEqual(['default/db', 'default/web-1', 'prod/web-3']);
    const without = await send(server.url, 'GET', `${LEASES}?${query('!app')}`);
    expect(itemNames(without.json)).toEqual(['default/bare']);
  });

  it('combines with fieldSelector, and pages matching Leases without remainingItemCount', async () => {
    const named = await send(server.url, 'GET', `${ALL_LEASES}?${query('app=web')}&fieldSelector=metadata.namespace%3Dprod`);
    expect(itemNames(named.json)).toEqual(['prod/web-3']);
    const page = await send(server.url, 'GET', `${ALL_LEASES}?${query('app=web')}&limit=2`);
    expect(itemNames(page.json)).toEqual(['default/web-1', 'default/web-2']);
    expect(page.json.metadata.continue).toEqual(expect.any(String));
    expect(page.json.metadata.remainingItemCount).toBeUndefined();
    const rest = await send(server.url, 'GET', `${ALL_LEASES}?${query('app=web')}&limit=2&continue=${encodeURIComponent(page.json.metadata.continue)}`);
    expect(itemNames(rest.json)).toEqual(['prod/web-3']);
  });

  it('filters the Table kubectl asks for', async () => {
    const table = await send(server.url, 'GET', `${LEASES}?${query('tier=front')}`, { headers: { Accept: TABLE } });
    expect(table.json.kind).toBe('Table');
    expect(table.json.rows.map((r: { cells: unknown[] }) => r.cells[0])).toEqual(['web-2']);
  });

  it('lists through client-node listNamespacedLease and listLeaseForAllNamespaces', async () => {
    const api = server.kubeConfig().makeApiClient(CoordinationV1Api);
    const namespaced = await api.listNamespacedLease({ namespace: NS, labelSelector: 'app=web,tier' });
    expect(namespaced.items.map((l) => l.metadata?.name)).toEqual(['web-2']);
    const all = await api.listLeaseForAllNamespaces({ labelSelector: 'app==web' });
    expect(all.items.map((l) => `${l.metadata?.namespace}/${l.metadata?.name}`)).toEqual(['default/web-1', 'default/web-2', 'prod/web-3']);
  });

  it('filters Events by their labels', async () => {
    for (const [name, labels] of [['e1', { origin: 'x' }], ['e2', undefined]] as const) {
      server.events.create(NS, { metadata: { name, ...(labels ? { labels } : {}) }, involvedObject: { kind: 'Lease', name: 'web-1', namespace: NS }, reason: 'R', message: 'm' });
    }
    const res = await send(server.url, 'GET', `/api/v1/namespaces/${NS}/events?${query('origin=x')}`);
    expect(res.status).toBe(200);
    expect(res.json.items.map((e: { metadata: { name: string } }) => e.metadata.name)).toEqual(['e1']);
  });
});

describe('a labelSelector that does not parse', () => {
  const bad = 'app in (web';
  const message = "unable to parse requirement: found '', expected: ',' or ')'";

  it('gets 400 BadRequest with the parser message on list, watch and deletecollection, and deletes nothing', async () => {
    for (const [method, path] of [
      ['GET', `${LEASES}?${query(bad)}`],
      ['GET', `${ALL_LEASES}?${query(bad)}`],
      ['GET', `${LEASES}?watch=true&${query(bad)}`],
      ['DELETE', `${LEASES}?${query(bad)}`],
      ['GET', `/api/v1/namespaces/${NS}/events?${query(bad)}`],
    ] as const) {
      const res = await send(server.url, method, path);
      expect([method, path, res.status, res.json]).toEqual([method, path, 400, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'BadRequest', code: 400 }]);
    }
    expect(server.store.list(undefined).items).toHaveLength(5);
    expect(server.openWatchCount).toBe(0);
  });

  it('is refused before the fieldSelector is looked at, as the API server decodes it first', async () => {
    const res = await send(server.url, 'GET', `${LEASES}?${query(bad)}&fieldSelector=spec.holderIdentity%3Dx`);
    expect(res.json.message).toBe(message);
  });

  it('reaches client-node as an ApiException with code 400', async () => {
    const api = server.kubeConfig().makeApiClient(CoordinationV1Api);
    const err = await api.listNamespacedLease({ namespace: NS, labelSelector: '-app' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiException);
    expect((err as ApiException<string>).code).toBe(400);
    expect(JSON.parse((err as ApiException<string>).body).message).toMatch(/^unable to parse requirement: <nil>: Invalid value: "-app": name part must consist of /);
  });

  it('does not matter on a get of one Lease, which has no selector (the real server ignores it too)', async () => {
    const res = await send(server.url, 'GET', `${LEASES}/web-1?${query(bad)}`);
    expect(res.status).toBe(200);
    expect(res.json.metadata.name).toBe('web-1');
  });
});

describe('watch with labelSelector', () => {
  it('streams the matching Leases, ADDED when one starts matching and DELETED when one stops', async () => {
    const w = await openWatch(server.url, `${LEASES}?watch=true&${query('app=web')}`);
    open.push(w);
    expect(w.status).toBe(200);
    await waitFor(() => w.events.length === 2, 'the initial ADDED events');
    relabel(NS, 'db', { app: 'web' });
    relabel(NS, 'web-1', { app: 'db' });
    relabel(NS, 'bare', { other: 'x' });
    relabel(NS, 'web-2', { app: 'web', tier: 'back' });
    await waitFor(() => w.events.length === 5, 'three more events');
    const seen = w.events.map((e) => `${e.type} ${e.object.metadata.name} app=${e.object.metadata.labels?.app}`);
    expect(seen).toEqual(['ADDED web-1 app=web', 'ADDED web-2 app=web', 'ADDED db app=web', 'DELETED web-1 app=web', 'MODIFIED web-2 app=web']);
    expect(w.events[3].object.metadata.resourceVersion).toBe(server.store.get(NS, 'web-1').metadata?.resourceVersion);
  });

  it('resumes from a resourceVersion with the same rule, across namespaces', async () => {
    const from = server.store.resourceVersion;
    relabel('prod', 'web-3', { app: 'gone' });
    relabel(NS, 'db', { app: 'web' });
    const w = await openWatch(server.url, `${ALL_LEASES}?watch=true&resourceVersion=${from}&${query('app=web')}`);
    open.push(w);
    await waitFor(() => w.events.length === 2, 'the replayed events');
    expect(w.events.map((e) => `${e.type} ${e.object.metadata.namespace}/${e.object.metadata.name}`)).toEqual(['DELETED prod/web-3', 'ADDED default/db']);
  });

  it("works through client-node's Watch, so a client can follow a labelled set of Leases", async () => {
    const seen: string[] = [];
    const controller = await new Watch(server.kubeConfig()).watch(
      ALL_LEASES,
      { labelSelector: 'app=web' },
      (type, object: { metadata?: { name?: string } }) => seen.push(`${type} ${object.metadata?.name}`),
      () => {},
    );
    try {
      await waitFor(() => seen.length === 3, 'the initial ADDED events');
      server.store.create(NS, { metadata: { name: 'web-4', labels: { app: 'web' } } });
      server.store.create(NS, { metadata: { name: 'db-2', labels: { app: 'db' } } });
      server.store.delete(NS, 'web-4');
      await waitFor(() => seen.length === 5, 'the new Lease arriving and going');
      expect(seen.slice(3)).toEqual(['ADDED web-4', 'DELETED web-4']);
    } finally {
      controller.abort();
    }
    await waitFor(() => server.openWatchCount === 0, 'the server to see the abort');
  });
});

describe('deletecollection with labelSelector', () => {
  it('deletes only the matching Leases of the namespace', async () => {
    const res = await send(server.url, 'DELETE', `${LEASES}?${query('app=web')}`);
    expect(res.status).toBe(200);
    expect(itemNames(res.json)).toEqual(['default/web-1', 'default/web-2']);
    expect(server.store.list(undefined).items.map((l) => `${l.metadata?.namespace}/${l.metadata?.name}`)).toEqual(['default/bare', 'default/db', 'prod/web-3']);
  });
});
