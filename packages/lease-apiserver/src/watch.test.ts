/**
 * Watch over HTTP: the streaming format, selection by namespace and name, resuming from a
 * resourceVersion, 410 for a compacted one, timeouts, Tables for `kubectl get -w`, client-node's
 * Watch, and cleanup when either side goes away.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Watch } from '@kubernetes/client-node';
import { startLeaseApiServer, type LeaseApiServer } from './index.js';
import { openWatch, send, waitFor, type RawWatch } from './__tests__/helpers.js';

const NS = 'default';
const LEASES = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;
let server: LeaseApiServer;
const open: RawWatch[] = [];

beforeEach(async () => {
  server = await startLeaseApiServer({ historyLimit: 5 });
});

afterEach(async () => {
  for (const w of open.splice(0)) w.close();
  await server.close();
});

async function watch(path: string, headers: Record<string, string> = {}): Promise<RawWatch> {
  const w = await openWatch(server.url, path, headers);
  open.push(w);
  return w;
}

const summary = (w: RawWatch) => w.events.map((e) => `${e.type} ${e.object.metadata?.name ?? e.object.reason}`);
const touch = (name: string, holder: string) => {
  const lease = server.store.get(NS, name);
  server.store.update(NS, name, { ...lease, spec: { ...lease.spec, holderIdentity: holder } });
};

describe('watch', () => {
  it('streams ADDED for existing Leases, then MODIFIED and DELETED as they happen', async () => {
    server.store.create(NS, { metadata: { name: 'a' } });
    const w = await watch(`${LEASES}?watch=true`);
    expect(w.status).toBe(200);
    await waitFor(() => w.events.length === 1, 'the initial ADDED');
    server.store.create(NS, { metadata: { name: 'b' } });
    touch('a', 'x');
    server.store.delete(NS, 'b');
    await waitFor(() => w.events.length === 4, 'three more events');
    expect(summary(w)).toEqual(['ADDED a', 'ADDED b', 'MODIFIED a', 'DELETED b']);
    expect(w.events[2].object.spec.holderIdentity).toBe('x');
    expect(server.counters.get('watch')).toBe(1);
  });

  it('watches one Lease by field selector, by name in the path, and through the /watch/ prefix', async () => {
    server.store.create(NS, { metadata: { name: 'a' } });
    server.store.create(NS, { metadata: { name: 'b' } });
    const bySelector = await watch(`${LEASES}?watch=1&fieldSelector=metadata.name%3Db`);
    const byPath = await watch(`${LEASES}/b?watch=true`);
    const byPrefix = await watch(`/apis/coordination.k8s.io/v1/watch/namespaces/${NS}/leases/b`);
    touch('a', 'x');
    touch('b', 'y');
    for (const w of [bySelector, byPath, byPrefix]) {
      await waitFor(() => w.events.length === 2, 'two events about b');
      expect(summary(w)).toEqual(['ADDED b', 'MODIFIED b']);
    }
  });

  it('watches every namespace on the cluster-wide path', async () => {
    const w = await watch('/apis/coordination.k8s.io/v1/leases?watch=true');
    server.store.create('kube-system', { metadata: { name: 'k' } });
    server.store.create(NS, { metadata: { name: 'd' } });
    await waitFor(() => w.events.length === 2, 'events from two namespaces');
    expect(w.events.map((e) => e.object.metadata.namespace)).toEqual(['kube-system', NS]);
  });

  it('resumes after a resourceVersion with only the later events', async () => {
    const created = server.store.create(NS, { metadata: { name: 'a' } });
    touch('a', 'x');
    touch('a', 'y');
    const w = await watch(`${LEASES}?watch=true&resourceVersion=${created.metadata?.resourceVersion}`);
    await waitFor(() => w.events.length === 2, 'the two later events');
    expect(w.events.map((e) => e.object.spec.holderIdentity)).toEqual(['x', 'y']);
  });

  it('sends the current state and then an initial-events-end bookmark for a watch-list request', async () => {
    server.store.create(NS, { metadata: { name: 'a' } });
    server.store.create(NS, { metadata: { name: 'b' } });
    const w = await watch(`${LEASES}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
    await waitFor(() => w.events.length === 3, 'two ADDED and a BOOKMARK');
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'ADDED', 'BOOKMARK']);
    expect(w.events[2].object.metadata).toEqual({ resourceVersion: server.store.resourceVersion, annotations: { 'k8s.io/initial-events-end': 'true' } });
  });

  it('reports a compacted resourceVersion as an ERROR event with 410 and ends the stream', async () => {
    server.store.create(NS, { metadata: { name: 'a' } });
    for (let i = 0; i < 8; i++) touch('a', `h${i}`);
    const w = await watch(`${LEASES}?watch=true&resourceVersion=1`);
    expect(w.status).toBe(200);
    expect(await w.ended).toEqual({ reset: false });
    expect(w.events).toHaveLength(1);
    expect(w.events[0]).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', status: 'Failure' } });
    expect(w.events[0].object.message).toMatch(/^too old resource version: 1 \(\d+\)$/);
  });

  it('ends the stream cleanly after timeoutSeconds', async () => {
    const w = await watch(`${LEASES}?watch=true&timeoutSeconds=1`);
    expect(await w.ended).toEqual({ reset: false });
    expect(server.openWatchCount).toBe(0);
    expect(server.store.watcherCount).toBe(0);
  });

  it('sends Table rows when kubectl asks for them', async () => {
    server.store.create(NS, { metadata: { name: 'a' }, spec: { holderIdentity: 'h' } });
    const w = await watch(`${LEASES}?watch=true`, { Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
    await waitFor(() => w.events.length === 1, 'the initial row');
    expect(w.events[0].type).toBe('ADDED');
    expect(w.events[0].object.kind).toBe('Table');
    expect(w.events[0].object.rows[0].cells.slice(0, 2)).toEqual(['a', 'h']);
  });

  it('cleans up when the client disconnects mid-watch', async () => {
    const w = await watch(`${LEASES}?watch=true`);
    await waitFor(() => server.openWatchCount === 1, 'the stream to register');
    expect(server.store.watcherCount).toBe(1);
    w.close();
    await waitFor(() => server.openWatchCount === 0 && server.store.watcherCount === 0, 'the server to drop the stream');
    server.store.create(NS, { metadata: { name: 'after' } }); // nothing left to deliver to
  });

  it('ends open streams when the server closes', async () => {
    const w = await watch(`${LEASES}?watch=true`);
    await waitFor(() => server.openWatchCount === 1, 'the stream to register');
    await server.close();
    await w.ended;
    expect(server.openWatchCount).toBe(0);
    expect(server.store.watcherCount).toBe(0);
  });

  it('works with client-node Watch', async () => {
    server.store.create(NS, { metadata: { name: 'a' } });
    const seen: string[] = [];
    let done: unknown = 'open';
    const controller = await new Watch(server.kubeConfig()).watch(
      LEASES,
      { fieldSelector: 'metadata.name=a', allowWatchBookmarks: true },
      (type, object: { spec?: { holderIdentity?: string } }) => seen.push(`${type} ${object.spec?.holderIdentity ?? ''}`),
      (err) => {
        done = err ?? null;
      },
    );
    await waitFor(() => seen.length === 1, 'the ADDED event');
    touch('a', 'z');
    await waitFor(() => seen.length === 2, 'the MODIFIED event');
    expect(seen).toEqual(['ADDED ', 'MODIFIED z']);
    controller.abort();
    await waitFor(() => server.openWatchCount === 0, 'the server to see the abort');
    expect(done).not.toBe('open');
  });

  it('answers a watch of a missing namespace path with the normal empty stream', async () => {
    const res = await send(server.url, 'GET', `/apis/coordination.k8s.io/v1/namespaces/empty/leases?watch=true&timeoutSeconds=1`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
  });
});
