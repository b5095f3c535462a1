/**
 * LeaseCandidates (coordination.k8s.io/v1beta1) over HTTP: the verbs through client-node's
 * CoordinationV1beta1Api, watch, discovery, the kubectl Table and OpenAPI through raw requests,
 * and the coordinator on short real timings.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ApiException, CoordinationV1beta1Api, PatchStrategy, setHeaderOptions, type V1beta1LeaseCandidate } from '@kubernetes/client-node';
import { ConfigError } from '@leasekit/k8s-leaderelection';
import { CandidateStore } from '@leasekit/k8s-leaderelection/testing';
import { startLeaseApiServer, type LeaseApiServer } from './index.js';
import { microNow, openWatch, send, waitFor } from './__tests__/helpers.js';

const NS = 'default';
const BASE = '/apis/coordination.k8s.io/v1beta1';
const CANDIDATES = `${BASE}/namespaces/${NS}/leasecandidates`;
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json';

let server: LeaseApiServer | undefined;

afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Parameters<typeof startLeaseApiServer>[0] = {}): Promise<{ s: LeaseApiServer; api: CoordinationV1beta1Api }> {
  const s = (server = await startLeaseApiServer(options));
  return { s, api: s.kubeConfig().makeApiClient(CoordinationV1beta1Api) };
}

const candidate = (name: string, emulationVersion = '1.33.0', renewTime = microNow()): V1beta1LeaseCandidate => ({
  apiVersion: 'coordination.k8s.io/v1beta1',
  kind: 'LeaseCandidate',
  metadata: { name },
  spec: { leaseName: 'ctrl', binaryVersion: '1.33.0', emulationVersion, strategy: 'OldestEmulationVersion', renewTime: renewTime as unknown as Date },
});

async function failure(call: Promise<unknown>): Promise<{ code: number; reason: string; message: string }> {
  try {
    await call;
  } catch (err) {
    if (err instanceof ApiException) {
      const status = JSON.parse(err.body as string) as { reason: string; message: string };
      return { code: err.code, reason: status.reason, message: status.message };
    }
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('LeaseCandidate verbs with client-node', () => {
  it('creates, reads, replaces with compare-and-swap, patches and deletes a candidate', async () => {
    const { s, api } = await start();
    const created = await api.createNamespacedLeaseCandidate({ namespace: NS, body: candidate('a') });
    expect(created.metadata?.uid).toBeDefined();
    expect(created.spec?.leaseName).toBe('ctrl');
    const read = await api.readNamespacedLeaseCandidate({ namespace: NS, name: 'a' });
    expect(read.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);

    const pinged = await api.replaceNamespacedLeaseCandidate({ namespace: NS, name: 'a', body: { ...read, spec: { ...read.spec!, pingTime: microNow() as unknown as Date } } });
    expect(pinged.metadata?.resourceVersion).not.toBe(read.metadata?.resourceVersion);
    const stale = await failure(api.replaceNamespacedLeaseCandidate({ namespace: NS, name: 'a', body: read }));
    expect(stale).toMatchObject({ code: 409, reason: 'Conflict' });
    expect(stale.message).toContain('leasecandidates.coordination.k8s.io "a"');

    const patched = await api.patchNamespacedLeaseCandidate(
      { namespace: NS, name: 'a', body: { spec: { binaryVersion: '1.34.0' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(patched.spec?.binaryVersion).toBe('1.34.0');

    await api.deleteNamespacedLeaseCandidate({ namespace: NS, name: 'a' });
    expect(await failure(api.readNamespacedLeaseCandidate({ namespace: NS, name: 'a' }))).toEqual({
      code: 404,
      reason: 'NotFound',
      message: 'leasecandidates.coordination.k8s.io "a" not found',
    });
    expect(s.counters.snapshot('leasecandidates')).toMatchObject({ create: 1, get: 2, update: 2, patch: 1, delete: 1 });
    expect(s.counters.get('create')).toBe(0);
  });

  it('answers an invalid candidate with 422 and the API server causes', async () => {
    const { api } = await start();
    const bad = await failure(api.createNamespacedLeaseCandidate({ namespace: NS, body: { ...candidate('a'), spec: { leaseName: '', binaryVersion: '1.33', strategy: 'OldestEmulationVersion' } } }));
    expect(bad.code).toBe(422);
    expect(bad.message).toBe(
      'LeaseCandidate.coordination.k8s.io "a" is invalid: [spec.leaseName: Required value, spec.binaryVersion: Invalid value: "1.33": must be a valid semantic version, spec.emulationVersion: Required value: must be specified when `strategy` is \'OldestEmulationVersion\']',
    );
  });

  it('lists across namespaces and by label, and deletes a collection', async () => {
    const { api } = await start();
    await api.createNamespacedLeaseCandidate({ namespace: NS, body: { ...candidate('a'), metadata: { name: 'a', labels: { app: 'x' } } } });
    await api.createNamespacedLeaseCandidate({ namespace: 'other', body: candidate('b') });
    const all = await api.listLeaseCandidateForAllNamespaces();
    expect(all.items.map((c) => c.metadata?.name)).toEqual(['a', 'b']);
    const labelled = await api.listNamespacedLeaseCandidate({ namespace: NS, labelSelector: 'app=x' });
    expect(labelled.items).toHaveLength(1);
    await api.deleteCollectionNamespacedLeaseCandidate({ namespace: 'other' });
    expect((await api.listLeaseCandidateForAllNamespaces()).items.map((c) => c.metadata?.name)).toEqual(['a']);
  });
});

describe('LeaseCandidates for kubectl and watchers', () => {
  it('streams ADDED and MODIFIED events of a watch', async () => {
    const { s } = await start();
    const watch = await openWatch(s.url, `${CANDIDATES}?watch=true`);
    try {
      expect(watch.status).toBe(200);
      const created = await send(s.url, 'POST', CANDIDATES, { body: candidate('a') });
      expect(created.status).toBe(201);
      await send(s.url, 'PUT', `${CANDIDATES}/a`, { body: { ...created.json, spec: { ...created.json.spec, renewTime: microNow() } } });
      await waitFor(() => watch.events.length >= 2, 'two watch events');
      expect(watch.events.map((e: { type: string; object: { kind: string } }) => [e.type, e.object.kind])).toEqual([
        ['ADDED', 'LeaseCandidate'],
        ['MODIFIED', 'LeaseCandidate'],
      ]);
    } finally {
      watch.close();
    }
  });

  it('lists v1beta1 in discovery, with v1 still preferred', async () => {
    const { s } = await start();
    const group = (await send(s.url, 'GET', '/apis/coordination.k8s.io')).json;
    expect(group.versions.map((v: { version: string }) => v.version)).toEqual(['v1', 'v1beta1']);
    expect(group.preferredVersion.version).toBe('v1');
    const resources = (await send(s.url, 'GET', BASE)).json;
    expect(resources).toMatchObject({ kind: 'APIResourceList', groupVersion: 'coordination.k8s.io/v1beta1' });
    expect(resources.resources[0]).toMatchObject({ name: 'leasecandidates', kind: 'LeaseCandidate', namespaced: true });
    const index = (await send(s.url, 'GET', '/openapi/v3')).json;
    const url: string = index.paths['apis/coordination.k8s.io/v1beta1'].serverRelativeURL;
    const document = (await send(s.url, 'GET', url)).json;
    expect(Object.keys(document.components.schemas)).toContain('io.k8s.api.coordination.v1beta1.LeaseCandidate');
  });

  it('answers kubectl with the real Table columns', async () => {
    const { s } = await start();
    await send(s.url, 'POST', CANDIDATES, { body: candidate('apiserver-1', '1.31.0') });
    const table = (await send(s.url, 'GET', CANDIDATES, { headers: { Accept: TABLE } })).json;
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c: { name: string }) => c.name)).toEqual(['Name', 'LeaseName', 'BinaryVersion', 'EmulationVersion', 'Age']);
    expect(table.rows[0].cells.slice(0, 4)).toEqual(['apiserver-1', 'ctrl', '1.33.0', '1.31.0']);
  });

  it('lets a fault rule single out leasecandidates', async () => {
    const { s } = await start();
    s.faults.addError({ resources: ['leasecandidates'], verbs: ['create'], code: 503 });
    expect((await send(s.url, 'POST', CANDIDATES, { body: candidate('a') })).status).toBe(503);
    expect((await send(s.url, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', { body: { metadata: { name: 'a' } } })).status).toBe(201);
  });
});

describe('the coordinator over HTTP', () => {
  it('elects the oldest emulation version among candidates present at start', async () => {
    const candidates = new CandidateStore();
    for (const [name, version] of [['c-133', '1.33.0'], ['c-131', '1.31.0'], ['c-132', '1.32.0']] as const) candidates.create(NS, candidate(name, version));
    const { s } = await start({ candidates, coordinator: { electionDurationMs: 300, requeueIntervalMs: 300 } });
    await waitFor(() => s.store.peek(NS, 'ctrl') !== undefined, 'the coordinator writes the Lease');
    expect(s.store.peek(NS, 'ctrl')?.spec).toMatchObject({ holderIdentity: 'c-131', strategy: 'OldestEmulationVersion', leaseDurationSeconds: 5 });
    expect(s.coordinator?.counts.leaseCreates).toBe(1);
  });

  it('names an older candidate that arrives later preferredHolder, without taking the Lease from the live holder', async () => {
    // Candidates count as fresh for 3 s: nobody here answers pings.
    const { s, api } = await start({ coordinator: { electionDurationMs: 3000, requeueIntervalMs: 300 } });
    await api.createNamespacedLeaseCandidate({ namespace: NS, body: candidate('c-133', '1.33.0') });
    await waitFor(() => s.store.peek(NS, 'ctrl')?.spec?.holderIdentity === 'c-133', 'the only candidate is elected');
    await api.createNamespacedLeaseCandidate({ namespace: NS, body: candidate('c-131', '1.31.0') });
    await waitFor(() => s.store.peek(NS, 'ctrl')?.spec?.preferredHolder === 'c-131', 'the older candidate is preferred');
    // The Lease was written 5 s ago at most and nobody renews it: it is still live, so the holder stays.
    expect(s.store.peek(NS, 'ctrl')?.spec?.holderIdentity).toBe('c-133');
    expect(s.coordinator?.counts).toMatchObject({ leaseCreates: 1, holderWrites: 0, preferredHolderWrites: 1 });
  });

  it('refuses invalid timings before binding', async () => {
    await expect(startLeaseApiServer({ coordinator: { electionDurationMs: 0 } })).rejects.toThrow(ConfigError);
  });

  it('stops with the server', async () => {
    const { s } = await start({ coordinator: true });
    expect(s.coordinator).toBeDefined();
    await s.close();
    expect(s.candidates.watcherCount).toBe(0);
    expect(s.store.watcherCount).toBe(0);
  });
});
