/**
 * The server as a whole: binding rules, discovery and health for kubectl, client configuration,
 * counters, and a clean close with nothing left behind.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '@leasekit/k8s-leaderelection';
import { LeaseStore } from '@leasekit/k8s-leaderelection/testing';
import { isLoopbackHost, startLeaseApiServer, type LeaseApiServer } from './index.js';
import { openWatch, send, waitFor } from './__tests__/helpers.js';

let server: LeaseApiServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('binding', () => {
  it('binds 127.0.0.1 on a free port by default', async () => {
    server = await startLeaseApiServer();
    expect(server.host).toBe('127.0.0.1');
    expect(server.port).toBeGreaterThan(0);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);
  });

  it('refuses a non-loopback host unless allowNonLoopback says so', async () => {
    const err = await startLeaseApiServer({ host: '0.0.0.0' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).field).toBe('host');
    expect((err as ConfigError).message).toContain('allowNonLoopback');
  });

  it('recognises loopback hosts', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '::', '10.0.0.1', '192.168.1.1', 'example.com', '128.0.0.1'].some(isLoopbackHost)).toBe(false);
  });

  it('rejects when the port is taken', async () => {
    server = await startLeaseApiServer();
    await expect(startLeaseApiServer({ port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('discovery and health', () => {
  it('serves the discovery documents kubectl reads', async () => {
    server = await startLeaseApiServer();
    const get = async (path: string) => (await send(server!.url, 'GET', path)).json;
    expect(await get('/version')).toMatchObject({ major: '1', minor: '32', gitVersion: 'v1.32.0' });
    expect(await get('/api')).toEqual({ kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: `127.0.0.1:${server.port}` }] });
    expect((await get('/api/v1')).resources.map((r: { name: string }) => r.name)).toEqual(['events']);
    const groups = await get('/apis');
    expect(groups.kind).toBe('APIGroupList');
    expect(groups.groups[0].preferredVersion).toEqual({ groupVersion: 'coordination.k8s.io/v1', version: 'v1' });
    expect((await get('/apis/coordination.k8s.io')).kind).toBe('APIGroup');
    expect((await get('/apis/coordination.k8s.io/v1')).resources).toEqual([
      { name: 'leases', singularName: 'lease', namespaced: true, kind: 'Lease', verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'] },
    ]);
  });

  it('reports another minor version when asked to', async () => {
    server = await startLeaseApiServer({ kubernetesVersion: { major: '1', minor: '31' } });
    expect((await send(server.url, 'GET', '/version')).json.gitVersion).toBe('v1.31.0');
  });

  it('serves an OpenAPI v3 document that advertises server-side field validation', async () => {
    server = await startLeaseApiServer();
    const index = (await send(server.url, 'GET', '/openapi/v3')).json;
    const url = index.paths['apis/coordination.k8s.io/v1'].serverRelativeURL as string;
    const doc = await send(server.url, 'GET', url);
    expect(doc.headers.etag).toBeDefined();
    const patch = doc.json.paths['/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}'].patch;
    expect(patch['x-kubernetes-group-version-kind']).toEqual({ group: 'coordination.k8s.io', version: 'v1', kind: 'Lease' });
    expect(patch.parameters.map((p: { name: string }) => p.name)).toContain('fieldValidation');
  });

  it('answers health checks with ok', async () => {
    server = await startLeaseApiServer();
    for (const path of ['/healthz', '/readyz', '/livez']) {
      const res = await send(server.url, 'GET', path);
      expect([res.status, res.text]).toEqual([200, 'ok']);
    }
  });
});

describe('clients', () => {
  it('hands out a KubeConfig that client-node can use over plain http', async () => {
    server = await startLeaseApiServer();
    server.store.create('default', { metadata: { name: 'a' } });
    const kubeConfig = server.kubeConfig({ namespace: 'kube-system', token: 't' });
    expect(kubeConfig.getCurrentCluster()).toMatchObject({ server: server.url, skipTLSVerify: true });
    expect(kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace).toBe('kube-system');
    const lease = await kubeConfig.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'a', namespace: 'default' });
    expect(lease.metadata?.name).toBe('a');
  });

  it('writes a kubeconfig file (mode 0600) that client-node loads', async () => {
    server = await startLeaseApiServer();
    const dir = await mkdtemp(join(tmpdir(), 'lease-apiserver-test-'));
    try {
      const path = await server.writeKubeconfig(join(dir, 'nested', 'kubeconfig'), { token: 'secret' });
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect(await readFile(path, 'utf8')).toContain('insecure-skip-tls-verify: true');
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(path);
      expect(kubeConfig.getCurrentCluster()).toMatchObject({ server: server.url, skipTLSVerify: true });
      expect(kubeConfig.getCurrentUser()?.token).toBe('secret');
      const list = await kubeConfig.makeApiClient(CoordinationV1Api).listNamespacedLease({ namespace: 'default' });
      expect(list.items).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serves a store it is given, shared with in-process users', async () => {
    const store = new LeaseStore();
    store.create('default', { metadata: { name: 'shared' } });
    server = await startLeaseApiServer({ store });
    expect(server.store).toBe(store);
    expect((await send(server.url, 'GET', '/apis/coordination.k8s.io/v1/namespaces/default/leases/shared')).status).toBe(200);
  });
});

describe('counters and records', () => {
  it('counts requests by verb per resource, and resets', async () => {
    const verbs: string[] = [];
    server = await startLeaseApiServer({ onRequest: (r) => verbs.push(`${r.verb ?? '-'} ${r.statusCode}`) });
    const base = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    await send(server.url, 'POST', base, { body: { metadata: { name: 'a' } } });
    await send(server.url, 'GET', `${base}/a`);
    await send(server.url, 'GET', `${base}/missing`);
    await send(server.url, 'GET', base);
    await send(server.url, 'GET', '/version');
    await send(server.url, 'POST', '/api/v1/namespaces/default/events', { body: { metadata: { name: 'e' }, involvedObject: { kind: 'Lease', name: 'a' } } });
    expect(server.counters.snapshot()).toEqual({ get: 2, list: 1, watch: 0, create: 1, update: 0, patch: 0, delete: 0, deletecollection: 0, total: 4 });
    expect(server.counters.snapshot('events').create).toBe(1);
    await waitFor(() => verbs.length === 6, 'every request to be reported');
    expect(verbs).toEqual(['create 201', 'get 200', 'get 404', 'list 200', '- 200', 'create 201']);
    server.counters.reset();
    expect(server.counters.snapshot().total).toBe(0);
  });

  it('survives an onRequest hook that throws', async () => {
    server = await startLeaseApiServer({
      onRequest: () => {
        throw new Error('observer bug');
      },
    });
    expect((await send(server.url, 'GET', '/healthz')).status).toBe(200);
    expect((await send(server.url, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('close', () => {
  it('closes with watches open and requests waiting, and refuses new connections', async () => {
    server = await startLeaseApiServer();
    server.faults.addLatency({ ms: 60_000, verbs: ['get'] });
    const watch = await openWatch(server.url, '/apis/coordination.k8s.io/v1/leases?watch=true');
    const slow = send(server.url, 'GET', '/apis/coordination.k8s.io/v1/namespaces/default/leases/a').catch((e: Error & { code?: string }) => e.code);
    await waitFor(() => server!.counters.get('get') === 1, 'the slow request to arrive');
    await server.close();
    await watch.ended;
    expect(await slow).toBe('ECONNRESET');
    expect(server.store.watcherCount).toBe(0);
    await expect(send(server.url, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    await server.close(); // idempotent
  });

  it('clears partition timers on close', async () => {
    server = await startLeaseApiServer();
    server.faults.partition({ client: { token: 'x' }, durationMs: 60_000 });
    await server.close();
    expect(server.faults.describe()).toEqual([]);
  });
});
