/**
 * Bad-input matrix, part 4: API failures over real HTTP. A tiny node:http server on 127.0.0.1
 * answers each failure class; KubeLeaseClient (the client-node path every production elector
 * uses) must turn each into the typed error the elector classifies: ApiError with the Status
 * reason (and Retry-After), RequestTimeoutError, or NetworkError.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { ApiError, LeaseKitError, NetworkError, RequestTimeoutError, isForbidden, type Lease } from '@leasekit/k8s-leaderelection';
import { KubeLeaseClient, makeStatus } from '@leasekit/k8s-leaderelection/internal';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

let handler: Handler = (_req, res) => res.end();
let server: http.Server;
let port = 0;

function kubeConfig(serverPort: number): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'test', server: `http://127.0.0.1:${serverPort}`, skipTLSVerify: true }],
    users: [{ name: 'test' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kc;
}

beforeAll(async () => {
  server = http.createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const statusAnswer =
  (code: number, reason: string, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(code, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(makeStatus(code, reason, `${reason} from the test server`)));
  };

const LEASE: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'default', resourceVersion: '7' }, spec: {} };

interface HttpCase {
  label: string;
  handler: Handler;
  verb: 'get' | 'update' | 'create';
  expected: { type: 'ApiError'; reason: string; statusCode: number; retryAfterSeconds?: number } | { type: 'RequestTimeoutError' } | { type: 'NetworkError' };
}

const CASES: HttpCase[] = [
  { label: '401 Unauthorized', verb: 'get', handler: statusAnswer(401, 'Unauthorized'), expected: { type: 'ApiError', reason: 'Unauthorized', statusCode: 401 } },
  { label: '403 Forbidden', verb: 'get', handler: statusAnswer(403, 'Forbidden'), expected: { type: 'ApiError', reason: 'Forbidden', statusCode: 403 } },
  { label: '404 NotFound', verb: 'get', handler: statusAnswer(404, 'NotFound'), expected: { type: 'ApiError', reason: 'NotFound', statusCode: 404 } },
  { label: '409 Conflict on update', verb: 'update', handler: statusAnswer(409, 'Conflict'), expected: { type: 'ApiError', reason: 'Conflict', statusCode: 409 } },
  { label: '409 AlreadyExists on create', verb: 'create', handler: statusAnswer(409, 'AlreadyExists'), expected: { type: 'ApiError', reason: 'AlreadyExists', statusCode: 409 } },
  { label: '410 Gone', verb: 'get', handler: statusAnswer(410, 'Gone'), expected: { type: 'ApiError', reason: 'Gone', statusCode: 410 } },
  { label: '422 Invalid on update', verb: 'update', handler: statusAnswer(422, 'Invalid'), expected: { type: 'ApiError', reason: 'Invalid', statusCode: 422 } },
  {
    label: '429 TooManyRequests with a Retry-After header',
    verb: 'get',
    handler: statusAnswer(429, 'TooManyRequests', { 'Retry-After': '7' }),
    expected: { type: 'ApiError', reason: 'TooManyRequests', statusCode: 429, retryAfterSeconds: 7 },
  },
  { label: '500 InternalError', verb: 'update', handler: statusAnswer(500, 'InternalError'), expected: { type: 'ApiError', reason: 'InternalError', statusCode: 500 } },
  {
    label: '503 ServiceUnavailable with a Retry-After header',
    verb: 'get',
    handler: statusAnswer(503, 'ServiceUnavailable', { 'retry-after': '3' }),
    expected: { type: 'ApiError', reason: 'ServiceUnavailable', statusCode: 503, retryAfterSeconds: 3 },
  },
  {
    label: '502 with an HTML body from a proxy',
    verb: 'get',
    handler: (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
    },
    expected: { type: 'ApiError', reason: 'Unknown', statusCode: 502 },
  },
  { label: 'timeout (the server never answers)', verb: 'get', handler: () => {}, expected: { type: 'RequestTimeoutError' } },
  { label: 'connection reset mid-request', verb: 'update', handler: (req) => req.socket.destroy(), expected: { type: 'NetworkError' } },
  {
    label: 'invalid JSON in a 200 answer',
    verb: 'get',
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"kind": "Lease", ');
    },
    expected: { type: 'NetworkError' },
  },
  {
    label: 'an empty 200 answer',
    verb: 'get',
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('');
    },
    expected: { type: 'NetworkError' },
  },
];

async function send(client: KubeLeaseClient, verb: HttpCase['verb']): Promise<Lease> {
  if (verb === 'get') return client.get('default', 'l');
  if (verb === 'update') return client.update('default', LEASE);
  return client.create('default', { ...LEASE, metadata: { name: 'l' } });
}

describe('bad input: API failure classes over real HTTP (KubeLeaseClient)', () => {
  it.each(CASES)('$label: rejects with a typed $expected.type', async ({ handler: answer, verb, expected }) => {
    handler = answer;
    // Short only where the timeout is the case under test: a loaded machine must not turn an
    // answered request into a timeout.
    const client = new KubeLeaseClient(kubeConfig(port), { requestTimeoutMs: expected.type === 'RequestTimeoutError' ? 300 : 10_000 });
    const err = await send(client, verb).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LeaseKitError);
    switch (expected.type) {
      case 'ApiError':
        expect(err).toBeInstanceOf(ApiError);
        expect(err).toMatchObject({ reason: expected.reason, statusCode: expected.statusCode });
        expect((err as ApiError).retryAfterSeconds).toBe(expected.retryAfterSeconds);
        expect(isForbidden(err)).toBe(expected.statusCode === 401 || expected.statusCode === 403);
        break;
      case 'RequestTimeoutError':
        expect(err).toBeInstanceOf(RequestTimeoutError);
        break;
      case 'NetworkError':
        expect(err).toBeInstanceOf(NetworkError);
        break;
    }
  });

  it('connection refused: rejects with a NetworkError', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new KubeLeaseClient(kubeConfig(closedPort), { requestTimeoutMs: 1_000 });
    const err = await client.get('default', 'l').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NetworkError);
    expect(String((err as Error).message)).toContain('ECONNREFUSED');
  });

  it('a literal null 200 answer: passes null through to the elector (which must cope with it)', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('null');
    };
    const client = new KubeLeaseClient(kubeConfig(port), { requestTimeoutMs: 10_000 });
    await expect(client.get('default', 'l')).resolves.toBeNull();
  });
});
