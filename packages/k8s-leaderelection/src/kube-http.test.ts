/**
 * KubeHttp over real loopback HTTP: a small node:http server on 127.0.0.1 answers as told and
 * counts the TCP connections it accepts. Real time, every wait bounded.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ApiError, NetworkError, RequestTimeoutError, makeStatus } from './errors.js';
import { KubeHttp } from './kube-http.js';
import { FakeClock } from './testing/fake-clock.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

interface TestServer {
  url: string;
  seen: Seen[];
  connections: number;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(answer: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const seen: Seen[] = [];
  const state = { connections: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      answer(req, res, body);
    });
  });
  server.on('connection', (socket: Socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const test: TestServer = {
    url: `http://127.0.0.1:${port}`,
    seen,
    get connections() {
      return state.connections;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  cleanups.push(() => test.close());
  return test;
}

function json(res: ServerResponse, statusCode: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(statusCode, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** Waits, bounded, until `condition` holds (a request has reached the test server). */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 5000 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  if (!condition()) throw new Error('condition not met within the bound');
}

function client(url: string, timeoutMs = 5000, headers: Record<string, string> = { authorization: 'Bearer t0ken' }): KubeHttp {
  const http = new KubeHttp(() => Promise.resolve({ url, requestOptions: { headers } }), timeoutMs);
  cleanups.push(() => http.close());
  return http;
}

describe('KubeHttp', () => {
  it('sends JSON with the endpoint credentials and reads the JSON answer', async () => {
    const server = await serve((_req, res, body) => json(res, 200, { echoed: JSON.parse(body) as unknown }));
    const http = client(server.url);
    const answer = await http.request<{ echoed: unknown }>('PUT', '/apis/x/leases/a', { spec: { holderIdentity: 'me' } });
    expect(answer).toEqual({ echoed: { spec: { holderIdentity: 'me' } } });
    expect(server.seen[0]).toMatchObject({ method: 'PUT', url: '/apis/x/leases/a' });
    expect(server.seen[0]!.headers).toMatchObject({ authorization: 'Bearer t0ken', 'content-type': 'application/json', accept: 'application/json' });
  });

  it('keeps one connection open for consecutive requests instead of connecting for each', async () => {
    const server = await serve((_req, res) => json(res, 200, {}));
    const http = client(server.url);
    for (let i = 0; i < 5; i++) await http.request('GET', '/x', undefined);
    expect(server.seen).toHaveLength(5);
    expect(server.connections).toBe(1);
  });

  it('maps an error answer to an ApiError by its Status body, with Retry-After', async () => {
    const status = makeStatus(409, 'AlreadyExists', 'leases.coordination.k8s.io "a" already exists');
    const server = await serve((_req, res) => json(res, 409, status, { 'retry-after': '3' }));
    const failure = await client(server.url).request('POST', '/x', {}).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ statusCode: 409, reason: 'AlreadyExists', retryAfterSeconds: 3, message: status.message });
  });

  it('classifies an error answer without a Status body by its code', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html>proxy down</html>');
    });
    const failure = await client(server.url).request('GET', '/x', undefined).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ statusCode: 503, reason: 'ServiceUnavailable' });
    expect((failure as ApiError).message).toContain('proxy down');
  });

  it('gives up after its timeout with a RequestTimeoutError and leaves no request open', async () => {
    const server = await serve(() => undefined); // never answers
    const failure = await client(server.url, 100).request('GET', '/x', undefined).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RequestTimeoutError);
    expect((failure as Error).message).toBe('request timed out');
  });

  it("passes the caller's own abort reason through unchanged", async () => {
    const server = await serve(() => undefined);
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const pending = client(server.url).request('GET', '/x', undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
  });

  it('sends nothing when the signal has already aborted', async () => {
    const server = await serve((_req, res) => json(res, 200, {}));
    const controller = new AbortController();
    controller.abort();
    await expect(client(server.url).request('GET', '/x', undefined, { signal: controller.signal })).rejects.toBeInstanceOf(RequestTimeoutError);
    expect(server.seen).toHaveLength(0);
  });

  it('sends to a server URL with a path prefix and a trailing slash, each path and query as given', async () => {
    const server = await serve((req, res) => json(res, 200, { url: req.url }));
    const http = client(`${server.url}/prefix/`);
    await http.request('GET', '/apis/x/leases/a', undefined);
    await http.request('GET', '/apis/x/leases?labelSelector=app%3Dweb', undefined);
    await http.request('PUT', '/apis/x/leases/a', {});
    expect(server.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /prefix/apis/x/leases/a',
      'GET /prefix/apis/x/leases?labelSelector=app%3Dweb',
      'PUT /prefix/apis/x/leases/a',
    ]);
  });

  it('times out on its clock and leaves no timer behind once an answer is in or the caller aborted', async () => {
    const clock = new FakeClock();
    const answering = await serve((_req, res) => json(res, 200, {}));
    const silent = await serve(() => undefined);
    const http = new KubeHttp(() => Promise.resolve({ url: answering.url, requestOptions: {} }), 1000, clock);
    const hanging = new KubeHttp(() => Promise.resolve({ url: silent.url, requestOptions: {} }), 1000, clock);
    cleanups.push(() => http.close(), () => hanging.close());
    await http.request('GET', '/x', undefined);
    expect(clock.pendingTimers).toBe(0);
    const controller = new AbortController();
    const aborted = hanging.request('GET', '/x', undefined, { signal: controller.signal });
    const timedOut = hanging.request('GET', '/x', undefined);
    await until(() => silent.seen.length === 2);
    expect(clock.pendingTimers).toBe(2);
    controller.abort();
    await expect(aborted).rejects.toMatchObject({ name: 'RequestTimeoutError', message: 'request aborted' });
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(999);
    expect(await Promise.race([timedOut.then(() => 'answered', () => 'failed'), Promise.resolve('pending')])).toBe('pending');
    await clock.advance(1);
    await expect(timedOut).rejects.toMatchObject({ name: 'RequestTimeoutError', message: 'request timed out' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('takes a timeout that is not a whole number of milliseconds (a renew deadline of 1500.5 ms)', async () => {
    const server = await serve((_req, res) => json(res, 200, { ok: true }));
    await expect(client(server.url, 1500.5).request('GET', '/x', undefined)).resolves.toEqual({ ok: true });
  });

  it('maps a refused connection to a NetworkError naming the cause', async () => {
    const server = await serve((_req, res) => json(res, 200, {}));
    const url = server.url;
    await server.close();
    const failure = await client(url).request('GET', '/x', undefined).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(NetworkError);
    expect((failure as Error).message).toContain('ECONNREFUSED');
  });

  it('maps a failure to prepare the request (credentials) to a NetworkError', async () => {
    const http = new KubeHttp(() => Promise.reject(new Error('exec plugin failed')), 1000);
    cleanups.push(() => http.close());
    const failure = await http.request('GET', '/x', undefined).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(NetworkError);
    expect((failure as Error).message).toContain('exec plugin failed');
  });
});
