/**
 * KubeLeaseClient over real HTTP: client-node talks to a small node:http server that serves the
 * Lease and Event endpoints from a LeaseStore (the one implementation of Lease semantics). This is
 * the only test file of the package that uses real time; every wait is a bounded poll.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { realpathSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { Elector, type LeadershipTerm } from './elector.js';
import { ApiError, NetworkError, RequestTimeoutError, isAlreadyExists, isConflict, isNotFound, makeStatus } from './errors.js';
import { KubeLeaseClient, isKubeConfig, mapClientError } from './lease-lock.js';
import type { Lease, LeaseWatchEvent } from './lease.js';
import { kubeConfigFor } from './__tests__/kube-config.js';
import { silentLogger } from './logger.js';
import { Membership } from './membership.js';
import { isStrictMicroTime } from './record.js';
import { LeaseStore } from './testing/lease-store.js';
import { waitFor } from './__tests__/wait-for.js';

const NS = 'default';
const NAME = 'my-lease';
const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;
const EVENTS = /^\/api\/v1\/namespaces\/([^/]+)\/events$/;

// ---------------------------------------------------------------------------------------------
// The test server: routing and encoding only; every decision is the LeaseStore's.

interface TestServer {
  url: string;
  store: LeaseStore;
  server: Server;
  /** Requests seen, in order. */
  requests: { method: string; path: string; query: URLSearchParams; body: unknown }[];
  /** Sockets currently open on the server side. */
  sockets: Set<Socket>;
  /** Answers a request itself when it returns true (faults the store cannot produce). */
  intercept: ((req: IncomingMessage, res: ServerResponse) => boolean) | undefined;
  close(): Promise<void>;
}

const servers: TestServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  res.writeHead(statusCode, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof ApiError) sendJson(res, err.statusCode, err.status);
  else sendJson(res, 500, makeStatus(500, 'InternalError', err instanceof Error ? err.message : String(err)));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? undefined : (JSON.parse(text) as unknown);
}

function serveWatch(store: LeaseStore, namespace: string, query: URLSearchParams, res: ServerResponse): void {
  const selector = query.get('fieldSelector') ?? '';
  const name = selector.startsWith('metadata.name=') ? selector.slice('metadata.name='.length) : undefined;
  const resourceVersion = query.get('resourceVersion') ?? undefined;
  res.writeHead(200, { 'content-type': 'application/json' });
  res.flushHeaders();
  const write = (event: LeaseWatchEvent): void => void res.write(`${JSON.stringify(event)}\n`);
  try {
    const handle = store.watch(
      { namespace, ...(name !== undefined ? { name } : {}), ...(resourceVersion !== undefined ? { resourceVersion } : {}) },
      write,
      () => res.end(),
    );
    res.on('close', () => handle.stop());
  } catch (err) {
    // Like the real server: a too-old resourceVersion is an ERROR event on an open stream.
    write({ type: 'ERROR', object: err instanceof ApiError ? { ...err.status } : makeStatus(500, 'InternalError', String(err)) });
    res.end();
  }
}

async function route(s: TestServer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = req.method ?? 'GET';
  const body = method === 'GET' ? undefined : await readBody(req);
  s.requests.push({ method, path: url.pathname, query: url.searchParams, body });
  if (s.intercept?.(req, res)) return;

  const lease = LEASES.exec(url.pathname);
  if (lease) {
    const [, namespace = '', name] = lease;
    if (method === 'GET' && name === undefined && url.searchParams.get('watch') === 'true') return serveWatch(s.store, namespace, url.searchParams, res);
    if (method === 'GET' && name === undefined) {
      const labelSelector = url.searchParams.get('labelSelector');
      return sendJson(res, 200, s.store.list(namespace, labelSelector !== null ? { labelSelector } : {}));
    }
    if (method === 'GET') return sendJson(res, 200, s.store.get(namespace, name!));
    if (method === 'POST' && name === undefined) return sendJson(res, 201, s.store.create(namespace, body));
    if (method === 'PUT' && name !== undefined) {
      const result = s.store.update(namespace, name, body);
      return sendJson(res, result.created ? 201 : 200, result.lease);
    }
    if (method === 'DELETE' && name !== undefined) {
      const pre = (body as { preconditions?: { uid?: string; resourceVersion?: string } } | undefined)?.preconditions;
      const deleted = s.store.delete(namespace, name, pre ? { preconditions: pre } : {});
      // The generic registry's answer for an object without finalizers.
      return sendJson(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'leases', uid: deleted.metadata?.uid } });
    }
  }
  const events = EVENTS.exec(url.pathname);
  if (events && method === 'POST') return sendJson(res, 201, s.store.createEvent(events[1]!, body));
  sendJson(res, 404, makeStatus(404, 'NotFound', 'the server could not find the requested resource'));
}

async function startServer(store = new LeaseStore()): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const s: TestServer = {
    url: '',
    store,
    server: createServer((req, res) => {
      route(s, req, res).catch((err: unknown) => sendError(res, err));
    }),
    requests: [],
    sockets,
    intercept: undefined,
    close: () =>
      new Promise<void>((resolve) => {
        s.server.closeAllConnections();
        s.server.close(() => resolve());
      }),
  };
  s.server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  servers.push(s);
  return s;
}

async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the request to fail');
}

const ACQUIRE = '2024-05-01T12:34:56.123456Z';
const RENEW = '2024-05-01T12:35:00.000001Z';

function newLease(holderIdentity = 'pod-a'): Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: NAME, namespace: NS },
    spec: { holderIdentity, leaseDurationSeconds: 15, acquireTime: ACQUIRE, renewTime: ACQUIRE, leaseTransitions: 0 },
  };
}

// ---------------------------------------------------------------------------------------------

describe('KubeLeaseClient over HTTP: reads and writes', () => {
  it('recognises a KubeConfig, and nothing else, as one', async () => {
    const s = await startServer();
    expect(isKubeConfig(kubeConfigFor(s.url))).toBe(true);
    expect(isKubeConfig({ get: () => undefined })).toBe(false);
    expect(isKubeConfig(null)).toBe(false);
  });

  it('sends consecutive requests over one kept-alive connection, and close() lets it go', async () => {
    const s = await startServer();
    let connections = 0;
    s.server.on('connection', () => connections++);
    const client = new KubeLeaseClient(kubeConfigFor(s.url, { token: 'abc' }));
    let lease = await client.create(NS, { metadata: { name: NAME }, spec: { holderIdentity: 'a' } });
    for (let i = 0; i < 5; i++) lease = await client.update(NS, lease);
    await client.get(NS, NAME);
    expect(s.requests).toHaveLength(7);
    expect(connections).toBe(1);
    client.close();
    await waitFor('the client to close its socket', () => s.sockets.size === 0, 200);
    // Still usable after close(): the next request connects again.
    await client.get(NS, NAME);
    expect(connections).toBe(2);
    client.close();
  });

  it('creates, reads and updates a lease, keeping six-digit MicroTime strings intact', async () => {
    const s = await startServer();
    const client = new KubeLeaseClient(kubeConfigFor(s.url));

    const created = await client.create(NS, newLease());
    expect(created.metadata?.resourceVersion).toBeDefined();
    expect(created.metadata?.uid).toBeDefined();
    expect(created.spec).toMatchObject({ holderIdentity: 'pod-a', acquireTime: ACQUIRE, renewTime: ACQUIRE, leaseDurationSeconds: 15 });
    expect(s.requests.at(-1)).toMatchObject({ method: 'POST', path: `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases` });
    expect((s.requests.at(-1)!.body as Lease).spec?.acquireTime).toBe(ACQUIRE);

    const read = await client.get(NS, NAME);
    expect(typeof read.spec?.renewTime).toBe('string');
    expect(isStrictMicroTime(read.spec!.renewTime!)).toBe(true);
    expect(read.spec?.acquireTime).toBe(ACQUIRE);
    expect(JSON.parse(JSON.stringify(read))).toEqual(read); // plain JSON, no Date objects

    const updated = await client.update(NS, { ...read, spec: { ...read.spec, renewTime: RENEW } });
    expect(s.requests.at(-1)).toMatchObject({ method: 'PUT', path: `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases/${NAME}` });
    expect(updated.spec?.renewTime).toBe(RENEW);
    expect(updated.spec?.acquireTime).toBe(ACQUIRE);
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));
    expect(s.store.get(NS, NAME).spec?.renewTime).toBe(RENEW);
  });
});

describe('KubeLeaseClient over HTTP: list and delete', () => {
  function member(name: string, labels: Record<string, string>): Lease {
    return { metadata: { name, labels }, spec: { holderIdentity: name, leaseDurationSeconds: 60, renewTime: ACQUIRE } };
  }

  it('lists the leases of a namespace by label selector, with the list resourceVersion', async () => {
    const s = await startServer();
    s.store.create(NS, member('m-a', { 'leasekit.io/member-of': 'x' }));
    s.store.create(NS, member('m-b', { 'leasekit.io/member-of': 'x' }));
    s.store.create(NS, member('other', { 'leasekit.io/member-of': 'y' }));
    s.store.create('elsewhere', member('m-c', { 'leasekit.io/member-of': 'x' }));
    const client = new KubeLeaseClient(kubeConfigFor(s.url));
    const list = await client.list(NS, { labelSelector: 'leasekit.io/member-of=x' });
    expect(list.items.map((l) => l.metadata?.name)).toEqual(['m-a', 'm-b']);
    expect(list.items[0]?.spec?.renewTime).toBe(ACQUIRE);
    expect(list.resourceVersion).toBe(s.store.resourceVersion);
    expect(s.requests.at(-1)?.query.get('labelSelector')).toBe('leasekit.io/member-of=x');
    expect((await client.list(NS)).items).toHaveLength(3);
  });

  it('maps a label selector the server refuses to an ApiError with reason BadRequest', async () => {
    const s = await startServer();
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).list(NS, { labelSelector: 'a in (' }));
    expect(err).toMatchObject({ statusCode: 400, reason: 'BadRequest' });
  });

  it('deletes a lease, sending its uid precondition, and refuses when the uid differs with Conflict', async () => {
    const s = await startServer();
    const client = new KubeLeaseClient(kubeConfigFor(s.url));
    const created = await client.create(NS, newLease());
    const wrongUid = await failure(client.delete(NS, NAME, { preconditions: { uid: 'not-the-uid' } }));
    expect(wrongUid).toMatchObject({ statusCode: 409, reason: 'Conflict' });
    expect(s.store.peek(NS, NAME)).toBeDefined();
    await client.delete(NS, NAME, { preconditions: { uid: created.metadata!.uid! } });
    expect(s.requests.at(-1)).toMatchObject({ method: 'DELETE', body: { preconditions: { uid: created.metadata!.uid } } });
    expect(s.store.peek(NS, NAME)).toBeUndefined();
  });

  it('rejects deleting a missing lease with an ApiError whose reason is NotFound', async () => {
    const s = await startServer();
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).delete(NS, 'missing'));
    expect(isNotFound(err)).toBe(true);
  });

  it('bounds list and delete by requestTimeoutMs like every other request', async () => {
    const s = await startServer();
    s.intercept = () => true; // never answers
    const client = new KubeLeaseClient(kubeConfigFor(s.url), { requestTimeoutMs: 100 });
    expect(await failure(client.list(NS))).toBeInstanceOf(RequestTimeoutError);
    expect(await failure(client.delete(NS, NAME))).toBeInstanceOf(RequestTimeoutError);
  });
});

describe('Membership over HTTP with a KubeConfig', () => {
  it('joins, is listed as a live member, and deletes its Lease when its signal aborts', async () => {
    const s = await startServer();
    const membership = new Membership({ identity: 'pod-a', leaseName: NAME, leaseNamespace: NS, durationMs: 5_000, renewIntervalMs: 1_000 }, kubeConfigFor(s.url), silentLogger);
    const controller = new AbortController();
    const run = membership.run(controller.signal);
    await waitFor('the membership Lease', () => s.store.peek(NS, membership.memberName) !== undefined);
    expect((await membership.members()).map((m) => m.identity)).toEqual(['pod-a']);
    expect(s.requests.at(-1)?.query.get('labelSelector')).toBe(`leasekit.io/member-of=${NAME}`);
    controller.abort();
    await run;
    expect(s.store.peek(NS, membership.memberName)).toBeUndefined();
    expect(s.requests.at(-1)).toMatchObject({ method: 'DELETE', body: { preconditions: { uid: expect.any(String) } } });
  });
});

describe('KubeLeaseClient over HTTP: errors', () => {
  it('maps 404 to an ApiError with reason NotFound', async () => {
    const s = await startServer();
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).get(NS, 'missing'));
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ code: 'API_ERROR', statusCode: 404, reason: 'NotFound' });
    expect(isNotFound(err)).toBe(true);
    expect((err as ApiError).message).toContain('"missing" not found');
  });

  it('tells AlreadyExists from Conflict by the Status reason, though both are 409', async () => {
    const s = await startServer();
    const client = new KubeLeaseClient(kubeConfigFor(s.url));
    const created = await client.create(NS, newLease());

    const exists = await failure(client.create(NS, newLease('pod-b')));
    expect(exists).toMatchObject({ statusCode: 409, reason: 'AlreadyExists' });
    expect(isAlreadyExists(exists)).toBe(true);
    expect(isConflict(exists)).toBe(false);

    await client.update(NS, { ...created, spec: { ...created.spec, renewTime: RENEW } });
    const stale = await failure(client.update(NS, { ...created, spec: { ...created.spec, holderIdentity: 'pod-b' } }));
    expect(stale).toMatchObject({ statusCode: 409, reason: 'Conflict' });
    expect(isConflict(stale)).toBe(true);
    expect(isAlreadyExists(stale)).toBe(false);
    expect(s.store.get(NS, NAME).spec?.holderIdentity).toBe('pod-a');
  });

  it('reads a 422 body as reason Invalid, with its causes', async () => {
    const s = await startServer();
    const client = new KubeLeaseClient(kubeConfigFor(s.url));
    await client.create(NS, newLease());
    const err = await failure(client.update(NS, newLease())); // no resourceVersion
    expect(err).toMatchObject({ statusCode: 422, reason: 'Invalid' });
    expect((err as ApiError).status.details?.causes?.[0]?.field).toBe('metadata.resourceVersion');
  });

  it.each([
    ['plain text', 503, 'text/plain', 'no healthy upstream', 'ServiceUnavailable'],
    ['HTML', 500, 'text/html', '<html><body>Internal Server Error</body></html>', 'InternalError'],
    ['JSON that is not a Status', 502, 'application/json', '{"error":"bad gateway"}', 'Unknown'],
  ])('turns a %s error body into an ApiError with the right statusCode', async (_label, statusCode, contentType, text, reason) => {
    const s = await startServer();
    s.intercept = (_req, res) => {
      res.writeHead(statusCode, { 'content-type': contentType });
      res.end(text);
      return true;
    };
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).get(NS, NAME));
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ statusCode, reason });
    expect((err as ApiError).message).toContain(text.slice(0, 20));
  });

  it('reads Retry-After on 429 into retryAfterSeconds', async () => {
    const s = await startServer();
    s.intercept = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end(JSON.stringify(makeStatus(429, 'TooManyRequests', 'Too many requests, please try again later.')));
      return true;
    };
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).get(NS, NAME));
    expect(err).toMatchObject({ statusCode: 429, reason: 'TooManyRequests', retryAfterSeconds: 7 });
  });

  it('rejects a hanging request when the caller aborts, and leaves no socket open', async () => {
    const s = await startServer();
    let hung: ServerResponse | undefined;
    let hungClosed = false;
    s.intercept = (_req, res) => {
      hung = res;
      res.on('close', () => (hungClosed = true));
      return true;
    };
    const controller = new AbortController();
    const pending = failure(new KubeLeaseClient(kubeConfigFor(s.url)).get(NS, NAME, { signal: controller.signal }));
    await waitFor('the request to reach the server', () => hung !== undefined);
    controller.abort();
    const err = await pending;
    expect(err).toBeInstanceOf(RequestTimeoutError);
    expect(err).toMatchObject({ code: 'REQUEST_TIMEOUT' });
    await waitFor('the client to close its socket', () => hungClosed && s.sockets.size === 0);
  });

  it('gives up on a hanging request after its own requestTimeoutMs with a RequestTimeoutError', async () => {
    const s = await startServer();
    s.intercept = () => true; // never answers
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url), { requestTimeoutMs: 100 }).get(NS, NAME));
    expect(err).toBeInstanceOf(RequestTimeoutError);
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });

  it('passes a caller-chosen abort reason through unchanged', async () => {
    const s = await startServer();
    s.intercept = () => true;
    const reason = new RequestTimeoutError('renew deadline passed');
    const controller = new AbortController();
    const pending = failure(new KubeLeaseClient(kubeConfigFor(s.url)).get(NS, NAME, { signal: controller.signal }));
    await waitFor('the request to reach the server', () => s.requests.length === 1);
    controller.abort(reason);
    expect(await pending).toBe(reason);
  });

  it('maps connection refused to a NetworkError', async () => {
    const s = await startServer();
    const url = s.url;
    await s.close();
    const err = await failure(new KubeLeaseClient(kubeConfigFor(url)).get(NS, NAME));
    expect(err).toBeInstanceOf(NetworkError);
    expect(err).toMatchObject({ code: 'NETWORK_ERROR' });
    expect(String((err as NetworkError).message)).toContain('ECONNREFUSED');
  });
});

describe('mapClientError', () => {
  // Outside jest, AbortSignal.timeout() leaves a DOMException (an Error named TimeoutError) as the
  // reason; jest's sandbox hides that it is an Error, so the same shape is built here by hand.
  it.each(['TimeoutError', 'AbortError'])('turns a DOMException-like %s abort reason into a RequestTimeoutError', (name) => {
    const reason = new Error('The operation was aborted');
    reason.name = name;
    const controller = new AbortController();
    controller.abort(reason);
    const mapped = mapClientError(new Error('The user aborted a request.'), controller.signal);
    expect(mapped).toBeInstanceOf(RequestTimeoutError);
    expect((mapped as RequestTimeoutError).cause).toBe(reason);
  });

  it('keeps a LeaseKit error used as the abort reason', () => {
    const reason = new RequestTimeoutError('deadline');
    const controller = new AbortController();
    controller.abort(reason);
    expect(mapClientError(new Error('aborted'), controller.signal)).toBe(reason);
  });

  it('maps any other failure without an aborted signal to a NetworkError', () => {
    expect(mapClientError(new Error('socket hang up'))).toBeInstanceOf(NetworkError);
    expect(mapClientError('weird')).toBeInstanceOf(NetworkError);
  });
});

describe('KubeLeaseClient over HTTP: events', () => {
  it('records a leader election Event on the Lease', async () => {
    const s = await startServer();
    const client = new KubeLeaseClient(kubeConfigFor(s.url));
    const timeMs = Date.UTC(2025, 0, 1, 10, 0, 0, 500);
    await client.recordEvent({
      namespace: NS,
      leaseName: NAME,
      leaseUid: 'uid-1',
      type: 'Normal',
      reason: 'LeaderElection',
      message: 'pod-a became leader',
      reportingInstance: 'pod-a',
      timeMs,
    });
    const request = s.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', path: `/api/v1/namespaces/${NS}/events` });
    expect(request.body).toMatchObject({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: NS },
      involvedObject: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', name: NAME, namespace: NS, uid: 'uid-1' },
      reason: 'LeaderElection',
      message: 'pod-a became leader',
      type: 'Normal',
      firstTimestamp: '2025-01-01T10:00:00Z',
    });
    expect(s.store.events).toEqual([
      { namespace: NS, leaseName: NAME, leaseUid: 'uid-1', type: 'Normal', reason: 'LeaderElection', message: 'pod-a became leader', reportingInstance: 'pod-a', timeMs: timeMs - 500 },
    ]);
  });

  it('records two events of the same millisecond under different names, so neither is refused as AlreadyExists', async () => {
    const s = await startServer();
    const client = new KubeLeaseClient(kubeConfigFor(s.url));
    const base = { namespace: NS, leaseName: NAME, type: 'Normal' as const, reason: 'LeaderElection', timeMs: Date.UTC(2025, 0, 1) };
    await client.recordEvent({ ...base, message: 'pod-a stopped leading', reportingInstance: 'pod-a' });
    await client.recordEvent({ ...base, message: 'pod-b became leader', reportingInstance: 'pod-b' });
    expect(s.store.events.map((e) => e.message)).toEqual(['pod-a stopped leading', 'pod-b became leader']);
    const names = s.requests.map((r) => (r.body as { metadata: { name: string } }).metadata.name);
    expect(new Set(names).size).toBe(2);
    for (const name of names) expect(name).toMatch(new RegExp(`^${NAME}\\.[0-9a-f]+$`));
  });
});

describe('KubeLeaseClient over HTTP: watch', () => {
  it('delivers ADDED, MODIFIED and DELETED for its lease and stops on abort', async () => {
    const s = await startServer();
    s.store.create(NS, newLease());
    s.store.create(NS, { metadata: { name: 'other' } });
    const client = new KubeLeaseClient(kubeConfigFor(s.url));
    const events: LeaseWatchEvent[] = [];
    let opened = false;
    let ended = false;
    const controller = new AbortController();
    const watch = client
      .watch(NS, NAME, { signal: controller.signal, onEvent: (e) => events.push(e), onOpen: () => (opened = true) })
      .then(() => (ended = true));

    await waitFor('the watch to open', () => opened && events.length === 1);
    const request = s.requests.find((r) => r.query.get('watch') === 'true')!;
    expect(request.query.get('fieldSelector')).toBe(`metadata.name=${NAME}`);
    const current = s.store.get(NS, NAME);
    s.store.update(NS, NAME, { ...current, spec: { ...current.spec, holderIdentity: 'pod-b' } });
    s.store.delete(NS, NAME);
    await waitFor('three events', () => events.length === 3);
    expect(events.map((e) => [e.type, (e.object as Lease).metadata?.name, (e.object as Lease).spec?.holderIdentity])).toEqual([
      ['ADDED', NAME, 'pod-a'],
      ['MODIFIED', NAME, 'pod-b'],
      ['DELETED', NAME, 'pod-b'],
    ]);
    expect((events[1]!.object as Lease).spec?.acquireTime).toBe(ACQUIRE);
    expect(ended).toBe(false);

    controller.abort();
    await watch;
    expect(ended).toBe(true);
    await waitFor('the server to drop the watch', () => s.store.watcherCount === 0 && s.sockets.size === 0);
  });

  it('sends the resourceVersion it resumes from, and ends with an ERROR event with code 410 when that version was compacted', async () => {
    const s = await startServer();
    const first = s.store.create(NS, newLease());
    s.store.update(NS, NAME, { ...first, spec: { ...first.spec, holderIdentity: 'pod-b' } });
    s.store.compact();
    const events: LeaseWatchEvent[] = [];
    await new KubeLeaseClient(kubeConfigFor(s.url)).watch(NS, NAME, {
      signal: new AbortController().signal,
      resourceVersion: first.metadata!.resourceVersion!,
      onEvent: (e) => events.push(e),
    });
    expect(s.requests.at(-1)!.query.get('resourceVersion')).toBe(first.metadata!.resourceVersion);
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('ERROR');
    expect(events[0]!.object).toMatchObject({ kind: 'Status', code: 410 });
  });

  it('sends the KubeConfig credentials on the watch request', async () => {
    const s = await startServer();
    s.store.create(NS, newLease());
    let headers: IncomingHttpHeaders | undefined;
    s.intercept = (req) => {
      if (req.url?.includes('watch=true')) headers = req.headers;
      return false;
    };
    const controller = new AbortController();
    let opened = false;
    const watch = new KubeLeaseClient(kubeConfigFor(s.url, { token: 'secret-token' })).watch(NS, NAME, {
      signal: controller.signal,
      onEvent: () => undefined,
      onOpen: () => (opened = true),
    });
    await waitFor('the watch to open', () => opened);
    expect(headers?.authorization).toBe('Bearer secret-token');
    controller.abort();
    await watch;
  });

  it('rejects with an ApiError carrying Retry-After when the watch is refused with 429, and closes its socket', async () => {
    const s = await startServer();
    s.intercept = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '4' });
      res.end(JSON.stringify(makeStatus(429, 'TooManyRequests', 'Too many requests, please try again later.')));
      return true;
    };
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).watch(NS, NAME, { signal: new AbortController().signal, onEvent: () => undefined }));
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ statusCode: 429, reason: 'TooManyRequests', retryAfterSeconds: 4 });
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });

  it('resolves and closes its socket when aborted while the server has not answered yet', async () => {
    const s = await startServer();
    let held = false;
    s.intercept = () => (held = true); // never answers
    const controller = new AbortController();
    const watch = new KubeLeaseClient(kubeConfigFor(s.url)).watch(NS, NAME, { signal: controller.signal, onEvent: () => undefined });
    await waitFor('the watch to reach the server', () => held && s.sockets.size === 1);
    controller.abort();
    await expect(watch).resolves.toBeUndefined();
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });

  it('rejects with a NetworkError when the stream is cut off after an event', async () => {
    const s = await startServer();
    s.intercept = (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: newLease() })}\n`, () => req.socket.destroy());
      return true;
    };
    const events: LeaseWatchEvent[] = [];
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).watch(NS, NAME, { signal: new AbortController().signal, onEvent: (e) => events.push(e) }));
    expect(events.map((e) => e.type)).toEqual(['ADDED']);
    expect(err).toBeInstanceOf(NetworkError);
  });

  it('parses events written in awkward pieces: a character split between writes, CRLF ends, a blank keep-alive line, a last event without a newline', async () => {
    const s = await startServer();
    const held = newLease();
    held.spec = { ...held.spec, holderIdentity: 'zoë-日本' };
    const first = Buffer.from(`${JSON.stringify({ type: 'ADDED', object: held })}\r\n\n`, 'utf8');
    const last = Buffer.from(JSON.stringify({ type: 'DELETED', object: held }), 'utf8');
    const cut = first.indexOf(Buffer.from('日', 'utf8')) + 1; // inside the character's 3 bytes
    s.intercept = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const parts = [first.subarray(0, cut), first.subarray(cut), last];
      const next = (): void => {
        const part = parts.shift();
        if (part === undefined) res.end();
        else res.write(part, () => setImmediate(next));
      };
      next();
      return true;
    };
    const events: LeaseWatchEvent[] = [];
    await new KubeLeaseClient(kubeConfigFor(s.url)).watch(NS, NAME, { signal: new AbortController().signal, onEvent: (e) => events.push(e) });
    expect(events.map((e) => [e.type, (e.object as Lease).spec?.holderIdentity])).toEqual([
      ['ADDED', 'zoë-日本'],
      ['DELETED', 'zoë-日本'],
    ]);
  });

  it('rejects with a NetworkError and closes its socket when a line grows past 16 Mi characters (a broken stream, not a reason to hold memory)', async () => {
    const s = await startServer();
    s.intercept = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(`${JSON.stringify({ type: 'ADDED', object: newLease() })}\n`);
      res.write(Buffer.alloc(16 * 1024 * 1024 + 1, 'a')); // no newline, and the server keeps the stream open
      return true;
    };
    const events: LeaseWatchEvent[] = [];
    const err = await failure(new KubeLeaseClient(kubeConfigFor(s.url)).watch(NS, NAME, { signal: new AbortController().signal, onEvent: (e) => events.push(e) }));
    expect(events.map((e) => e.type)).toEqual(['ADDED']);
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).message).toContain('longer than');
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });

  it('rejects with a NetworkError naming the cause when nothing listens', async () => {
    const s = await startServer();
    const url = s.url;
    await s.close();
    const err = await failure(new KubeLeaseClient(kubeConfigFor(url)).watch(NS, NAME, { signal: new AbortController().signal, onEvent: () => undefined }));
    expect(err).toBeInstanceOf(NetworkError);
    expect(String((err as NetworkError).message)).toContain('ECONNREFUSED');
  });

  it('resolves at once, without a request, when the signal has already aborted', async () => {
    const s = await startServer();
    const controller = new AbortController();
    controller.abort();
    await new KubeLeaseClient(kubeConfigFor(s.url)).watch(NS, NAME, { signal: controller.signal, onEvent: () => undefined });
    expect(s.requests).toEqual([]);
  });
});

describe('Elector over HTTP with a KubeConfig', () => {
  it('elects exactly one leader, and hands over when the leader stops and releases', async () => {
    const s = await startServer();
    // Pre-created and free, so nobody waits a lease duration before creating it.
    s.store.create(NS, { metadata: { name: NAME } });
    const kc = kubeConfigFor(s.url);
    const timings = { leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 200, clientGoFollowers: false };
    const started: Record<string, { signal: AbortSignal; term: LeadershipTerm }[]> = { a: [], b: [] };
    const electors = ['a', 'b'].map((id) => ({
      id,
      controller: new AbortController(),
      elector: new Elector(
        { identity: id, leaseName: NAME, leaseNamespace: NS, ...timings },
        kc,
        { onStartedLeading: (signal, term) => void started[id]!.push({ signal, term }) },
        silentLogger,
      ),
    }));
    let overlap = false;
    const leaders = (): string[] => {
      const ids = electors.filter((e) => e.elector.isLeader()).map((e) => e.id);
      if (ids.length > 1) overlap = true;
      return ids;
    };
    const runs = new Map(electors.map((e) => [e.id, e.elector.run(e.controller.signal)]));

    await waitFor('a leader', () => leaders().length === 1);
    const first = electors.find((e) => e.elector.isLeader())!;
    const second = electors.find((e) => e !== first)!;
    expect(s.store.get(NS, NAME).spec?.holderIdentity).toBe(first.id);

    // Let the leader renew a few times; the follower keeps seeing it and never leads.
    const rvBefore = Number(s.store.resourceVersion);
    await waitFor('three renewals', () => (leaders(), Number(s.store.resourceVersion) >= rvBefore + 3));
    expect(leaders()).toEqual([first.id]);
    expect(second.elector.getLeader()).toBe(first.id);
    expect(isStrictMicroTime(s.store.get(NS, NAME).spec!.renewTime!)).toBe(true);
    const tokenBefore = s.store.get(NS, NAME).spec!.leaseTransitions!;

    // The leader shuts down: its work is told to stop, it releases, and the other takes over.
    first.controller.abort();
    await runs.get(first.id);
    expect(first.elector.isLeader()).toBe(false);
    expect(started[first.id]![0]!.signal.aborted).toBe(true);
    await waitFor('the takeover', () => leaders().length === 1 && second.elector.isLeader());
    const taken = s.store.get(NS, NAME).spec!;
    expect(taken.holderIdentity).toBe(second.id);
    expect(taken.leaseTransitions).toBe(tokenBefore + 1);
    expect(started[second.id]![0]!.term.token).toBe(tokenBefore + 1);
    expect(overlap).toBe(false);

    second.controller.abort();
    await runs.get(second.id);
    expect(s.store.get(NS, NAME).spec?.holderIdentity).toBe('');
    // run() closes the connections its client kept open: well before the test server's 5 s
    // keep-alive timeout would close an idle one.
    await waitFor('every watch and socket to close', () => s.store.watcherCount === 0 && s.sockets.size === 0, 200);
  });
});

describe('the client-node these tests run on', () => {
  /** The package directory of the client-node copy a stack frame points into. */
  const packageDirIn = (text: string): string | undefined => /(\/\S*?\/@kubernetes\/client-node)\//.exec(text)?.[1];

  // .ci/client-node-2.sh points LEASEKIT_CLIENT_NODE at a client-node 2.x copy outside the repo
  // (jest.config.js maps the module to it); this proves the mapping took effect.
  it('is the copy LEASEKIT_CLIENT_NODE names, or else the one this package resolves', async () => {
    // Watch throws from its own file when no cluster is configured: the stack names the copy loaded.
    const err = await new Watch(new KubeConfig()).watch('/', {}, () => undefined, () => undefined).then(
      () => undefined,
      (e: unknown) => e,
    );
    const loaded = packageDirIn((err as Error).stack ?? '');
    const configured = process.env.LEASEKIT_CLIENT_NODE ?? packageDirIn(createRequire(import.meta.url).resolve('@kubernetes/client-node'));
    expect(loaded).toBeDefined();
    expect(configured).toBeDefined();
    expect(realpathSync(loaded!)).toBe(realpathSync(configured!));
  });
});
