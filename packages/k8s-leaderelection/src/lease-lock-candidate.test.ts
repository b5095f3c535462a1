/**
 * KubeLeaseClient's LeaseCandidate methods over real HTTP: client-node talks to a small node:http
 * server that serves coordination.k8s.io/v1beta1 leasecandidates from a CandidateStore (the one
 * implementation of their semantics). Real time; every wait is a bounded poll.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { kubeConfigFor } from './__tests__/kube-config.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApiError, isConflict, isNotFound, makeStatus } from './errors.js';
import { KubeLeaseClient } from './lease-lock.js';
import type { LeaseCandidate, LeaseCandidateWatchEvent } from './lease.js';
import { formatMicroTime } from './record.js';
import { CandidateStore } from './testing/candidate-store.js';
import { waitFor } from './__tests__/wait-for.js';

const NS = 'default';
const PATH = /^\/apis\/coordination\.k8s\.io\/v1beta1\/namespaces\/([^/]+)\/leasecandidates(?:\/([^/]+))?$/;

interface TestServer {
  url: string;
  store: CandidateStore;
  server: Server;
  sockets: Set<Socket>;
  requests: string[];
}

const servers: TestServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.store.stopAllWatches();
    for (const socket of s.sockets) socket.destroy();
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
  }
});

function send(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
}

async function handle(s: TestServer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  s.requests.push(`${req.method} ${url.pathname}${url.searchParams.get('watch') ? '?watch' : ''}`);
  const match = PATH.exec(url.pathname);
  if (!match) return send(res, 404, makeStatus(404, 'NotFound', 'no route'));
  const [, namespace, name] = match as unknown as [string, string, string | undefined];
  try {
    if (req.method === 'GET' && name === undefined && url.searchParams.get('watch') === 'true') {
      const selector = url.searchParams.get('fieldSelector') ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const watch = s.store.watch(
        { namespace, name: selector.replace('metadata.name=', '') },
        (event) => void res.write(`${JSON.stringify(event)}\n`),
        () => res.end(),
      );
      res.on('close', () => watch.stop());
      return;
    }
    if (req.method === 'GET' && name !== undefined) return send(res, 200, s.store.get(namespace, name));
    if (req.method === 'POST' && name === undefined) return send(res, 201, s.store.create(namespace, await readBody(req)));
    if (req.method === 'PUT' && name !== undefined) return send(res, 200, s.store.update(namespace, name, await readBody(req)).candidate);
    return send(res, 405, makeStatus(405, 'MethodNotAllowed', 'not supported here'));
  } catch (err) {
    if (err instanceof ApiError) return send(res, err.statusCode, err.status);
    return send(res, 500, makeStatus(500, 'InternalError', String(err)));
  }
}

async function startServer(): Promise<TestServer> {
  const s: TestServer = { url: '', store: new CandidateStore(), server: createServer(), sockets: new Set(), requests: [] };
  s.server.on('request', (req: IncomingMessage, res: ServerResponse) => void handle(s, req, res));
  s.server.on('connection', (socket: Socket) => {
    s.sockets.add(socket);
    socket.on('close', () => s.sockets.delete(socket));
  });
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  s.url = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  servers.push(s);
  return s;
}

function clientFor(url: string): KubeLeaseClient {
  return new KubeLeaseClient(kubeConfigFor(url, { token: 't' }), { requestTimeoutMs: 5000 });
}

const candidate = (renewTime: string): LeaseCandidate => ({
  apiVersion: 'coordination.k8s.io/v1beta1',
  kind: 'LeaseCandidate',
  metadata: { name: 'pod-a', namespace: NS },
  spec: { leaseName: 'my-lease', binaryVersion: '1.33.0', emulationVersion: '1.33.0', strategy: 'OldestEmulationVersion', renewTime },
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('KubeLeaseClient LeaseCandidate methods (coordination.k8s.io/v1beta1 over HTTP)', () => {
  it('creates, reads and replaces a candidate with plain JSON times, compare-and-swap on resourceVersion', async () => {
    const s = await startServer();
    const client = clientFor(s.url);
    expect(isNotFound(await rejection(client.getCandidate(NS, 'pod-a')))).toBe(true);
    const renewTime = formatMicroTime(Date.UTC(2025, 0, 1, 0, 0, 0, 123.456));
    const created = await client.createCandidate(NS, candidate(renewTime));
    expect(created.spec?.renewTime).toBe(renewTime);
    expect(typeof created.metadata?.resourceVersion).toBe('string');
    const read = await client.getCandidate(NS, 'pod-a');
    expect(read).toEqual(created);
    const later = formatMicroTime(Date.UTC(2025, 0, 1, 0, 5));
    const updated = await client.updateCandidate(NS, { ...read, spec: { ...read.spec, renewTime: later } });
    expect(updated.spec?.renewTime).toBe(later);
    // The stale object loses.
    expect(isConflict(await rejection(client.updateCandidate(NS, read)))).toBe(true);
    expect(s.requests).toEqual([
      'GET /apis/coordination.k8s.io/v1beta1/namespaces/default/leasecandidates/pod-a',
      'POST /apis/coordination.k8s.io/v1beta1/namespaces/default/leasecandidates',
      'GET /apis/coordination.k8s.io/v1beta1/namespaces/default/leasecandidates/pod-a',
      'PUT /apis/coordination.k8s.io/v1beta1/namespaces/default/leasecandidates/pod-a',
      'PUT /apis/coordination.k8s.io/v1beta1/namespaces/default/leasecandidates/pod-a',
    ]);
  });

  it('watches one candidate by name: its current state, then a ping; resolves when aborted', async () => {
    const s = await startServer();
    const client = clientFor(s.url);
    s.store.create(NS, candidate(formatMicroTime(Date.UTC(2025, 0, 1))));
    s.store.create(NS, { ...candidate(formatMicroTime(Date.UTC(2025, 0, 1))), metadata: { name: 'pod-b' } });
    const events: LeaseCandidateWatchEvent[] = [];
    let opened = false;
    const controller = new AbortController();
    const watching = client.watchCandidate(NS, 'pod-a', {
      signal: controller.signal,
      onOpen: () => (opened = true),
      onEvent: (event) => events.push(event),
    });
    await waitFor('the current state', () => opened && events.length === 1);
    const pingTime = formatMicroTime(Date.UTC(2025, 0, 1, 0, 1));
    const current = s.store.get(NS, 'pod-a');
    s.store.update(NS, 'pod-a', { ...current, spec: { ...current.spec, pingTime } });
    await waitFor('the ping', () => events.length === 2);
    expect(events.map((e) => [e.type, (e.object as LeaseCandidate).metadata?.name])).toEqual([
      ['ADDED', 'pod-a'],
      ['MODIFIED', 'pod-a'],
    ]);
    expect((events[1]!.object as LeaseCandidate).spec?.pingTime).toBe(pingTime);
    controller.abort();
    await watching;
    expect(s.requests.at(-1)).toBe('GET /apis/coordination.k8s.io/v1beta1/namespaces/default/leasecandidates?watch');
  });
});
