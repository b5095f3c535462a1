/**
 * Bad input as a new user sends it, over real HTTP: each request class gets the real API server's
 * answer, a Status with its code and reason (and its wording where it is known), and the server
 * keeps serving. Bodies nested as deep as the API server's decoder reads, labels that are not a
 * string map, resourceVersions that do not parse, methods and targets Node's HTTP parser refuses
 * but Go accepts, CONNECT, and an oversized body sent with `Connection: close`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { startLeaseApiServer, type LeaseApiServer, type RequestRecord } from '../index.js';
import { send, waitFor, type RawResponse } from './helpers.js';
import { depthOf } from './values.js';

const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
const EVENTS = '/api/v1/namespaces/default/events';
let server: LeaseApiServer;
const records: RequestRecord[] = [];

beforeAll(async () => {
  // The default body bound (3 MiB), as a real cluster has.
  server = await startLeaseApiServer({ onRequest: (record) => records.push(record) });
  server.store.create('default', { metadata: { name: 'held', labels: { app: 'x' } }, spec: { holderIdentity: 'a', leaseDurationSeconds: 10 } });
});

afterAll(async () => {
  await server.close();
});

/** Code, reason and the Status shape of an answer. */
function statusOf(res: { status: number; json: RawResponse['json'] }): [number, string | undefined, string | undefined] {
  expect(res.json?.kind).toBe('Status');
  expect(res.json?.code).toBe(res.status);
  return [res.status, res.json?.reason, res.json?.status];
}

/** `"a":` repeated: JSON text of objects nested `depth` deep around `leaf`, never built by JSON.stringify. */
function nestedText(depth: number, leaf = '"x"'): string {
  return `${'{"a":'.repeat(depth)}${leaf}${'}'.repeat(depth)}`;
}

/** A raw answer read off a socket: status code, headers, body (parsed as JSON when it is). */
interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: RawResponse['json'];
  /** A socket error (EPIPE, ECONNRESET) seen before the answer was complete. */
  error: string | undefined;
}

/**
 * Writes `head` (and `body` in 64 KiB pieces, one per event-loop turn, the way a busy client
 * sends) on a new connection and reads until the server closes it.
 */
function exchange(head: Buffer | string, body?: Buffer): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let error: string | undefined;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message));
    socket.on('close', () => {
      const all = Buffer.concat(chunks).toString('utf8');
      const split = all.indexOf('\r\n\r\n');
      const [statusLine = '', ...lines] = (split < 0 ? all : all.slice(0, split)).split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      const text = split < 0 ? '' : all.slice(split + 4);
      let json: RawAnswer['json'];
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, text, json, error });
    });
    socket.write(head);
    let at = 0;
    const next = (): void => {
      if (body === undefined || at >= body.length || socket.destroyed) return;
      const piece = body.subarray(at, at + 65536);
      at += piece.length;
      if (socket.write(piece)) setImmediate(next);
      else socket.once('drain', next);
    };
    next();
  });
}

/** A request head in raw bytes (latin1, so `\xff` is the byte 0xFF), closing the connection after. */
function rawHead(method: string, target: string, headers: Record<string, string | number> = {}): Buffer {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
}

describe('bodies nested as deep as a client likes', () => {
  it('answers labels nested 10,000 deep (beyond the decoder limit) with 400 BadRequest, as the real decoder words it', async () => {
    const res = await send(server.url, 'POST', LEASES, { body: `{"metadata":{"name":"deep","labels":${nestedText(10_000)}}}` });
    expect(statusOf(res)).toEqual([400, 'BadRequest', 'Failure']);
    expect(res.json.message).toBe(
      `the object provided is unrecognized (must be of type Lease): couldn't get version/kind; json parse error: invalid character '{' exceeded max depth ({"metadata":{"name":"deep","la ...)`,
    );
  });

  it('answers annotations nested 9,000 deep (within the limit) with 400: not a string', async () => {
    const res = await send(server.url, 'POST', LEASES, { body: `{"metadata":{"name":"deep","annotations":${nestedText(9_000)}}}` });
    expect(statusOf(res)).toEqual([400, 'BadRequest', 'Failure']);
    expect(res.json.message).toBe('Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal object into Go struct field ObjectMeta.metadata.annotations of type string');
    expect(server.store.peek('default', 'deep')).toBeUndefined();
  });

  it('answers a merge patch nested 10,000 deep with 400, as the patch handler words it', async () => {
    const headers = { 'Content-Type': 'application/merge-patch+json' };
    const res = await send(server.url, 'PATCH', `${LEASES}/held`, { body: `{"metadata":{"labels":${nestedText(10_000)}}}`, headers });
    expect(statusOf(res)).toEqual([400, 'BadRequest', 'Failure']);
    expect(res.json.message).toBe("error decoding patch: invalid character '{' exceeded max depth");
    const strategic = await send(server.url, 'PATCH', `${LEASES}/held`, { body: nestedText(10_001), headers: { 'Content-Type': 'application/strategic-merge-patch+json' } });
    expect(statusOf(strategic)).toEqual([400, 'BadRequest', 'Failure']);
    expect(strategic.json.message).toBe("invalid character '{' exceeded max depth");
  });

  it('answers a merge patch whose labels nest 9,000 deep with 422 Invalid on the field "patch", leaving the Lease as it was', async () => {
    const before = server.store.get('default', 'held');
    const res = await send(server.url, 'PATCH', `${LEASES}/held`, { body: `{"metadata":{"labels":{"app":${nestedText(9_000)}}}}`, headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(statusOf(res)).toEqual([422, 'Invalid', 'Failure']);
    expect(res.json.details.causes.map((c: { field: string; reason: string }) => [c.field, c.reason])).toEqual([['patch', 'FieldValueInvalid']]);
    expect(res.json.message).toMatch(/^ "" is invalid: patch: Invalid value: "\{.*": json: cannot unmarshal object into Go struct field ObjectMeta\.metadata\.labels of type string$/s);
    expect(server.store.get('default', 'held')).toEqual(before);
  });

  it('keeps, and answers with, a field nested 9,000 deep that the API does not type (an Event field kept as sent)', async () => {
    const created = await send(server.url, 'POST', EVENTS, { body: `{"metadata":{"name":"deep-event"},"reason":"R","extra":${nestedText(9_000)}}` });
    expect(created.status).toBe(201);
    const got = await send(server.url, 'GET', `${EVENTS}/deep-event`);
    expect(got.status).toBe(200);
    expect(depthOf(got.json.extra)).toBe(9_000);
    expect((await send(server.url, 'GET', `${LEASES}/held`)).status).toBe(200);
  });
});

describe('labels and annotations that are not a string map', () => {
  it('answers a create or update with labels that are not strings with 400 BadRequest, in the decoder words', async () => {
    const create = await send(server.url, 'POST', LEASES, { body: { metadata: { name: 'typed', labels: { version: 5 } } } });
    expect(statusOf(create)).toEqual([400, 'BadRequest', 'Failure']);
    expect(create.json.message).toBe('Lease in version "v1" cannot be handled as a Lease: json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string');
    const list = await send(server.url, 'POST', LEASES, { body: { metadata: { name: 'typed', annotations: ['a'] } } });
    expect(statusOf(list)).toEqual([400, 'BadRequest', 'Failure']);
    expect(list.json.message).toContain('cannot unmarshal array into Go struct field ObjectMeta.metadata.annotations of type map[string]string');
    const held = server.store.get('default', 'held');
    const update = await send(server.url, 'PUT', `${LEASES}/held`, { body: { ...held, metadata: { ...held.metadata, labels: { app: { nested: true } } } } });
    expect(statusOf(update)).toEqual([400, 'BadRequest', 'Failure']);
    expect(server.store.peek('default', 'typed')).toBeUndefined();
  });

  it('answers a merge patch that makes a label a number with 422 Invalid on "patch"', async () => {
    const res = await send(server.url, 'PATCH', `${LEASES}/held`, { body: { metadata: { labels: { app: 1 } } }, headers: { 'Content-Type': 'application/merge-patch+json' } });
    expect(statusOf(res)).toEqual([422, 'Invalid', 'Failure']);
    expect(res.json.details.causes[0].field).toBe('patch');
    expect(server.store.get('default', 'held').metadata?.labels).toEqual({ app: 'x' });
  });

  it('answers an invalid label key or value with 422 Invalid and causes on metadata.labels', async () => {
    const res = await send(server.url, 'POST', LEASES, { body: { metadata: { name: 'typed', labels: { 'not a key': 'x', ok: 'not a value!' } } } });
    expect(statusOf(res)).toEqual([422, 'Invalid', 'Failure']);
    expect(res.json.details.causes.map((c: { field: string; reason: string }) => `${c.field} ${c.reason}`)).toEqual([
      'metadata.labels FieldValueInvalid',
      'metadata.labels FieldValueInvalid',
    ]);
    expect(res.json.details).toMatchObject({ name: 'typed', group: 'coordination.k8s.io', kind: 'Lease' });
    expect(res.json.message).toMatch(/^Lease\.coordination\.k8s\.io "typed" is invalid: \[metadata\.labels: Invalid value: "not a key": name part must consist of /);
  });
});

describe('resourceVersion that does not parse', () => {
  const message = (rv: string) => `invalid resource version: resourceVersion: Invalid value: "${rv}": strconv.ParseUint: parsing "${rv}": invalid syntax`;

  it('answers GET, LIST and WATCH with resourceVersion=abc with 400 BadRequest', async () => {
    for (const path of [`${LEASES}/held?resourceVersion=abc`, `${LEASES}?resourceVersion=abc`, `${LEASES}?resourceVersion=abc&limit=1`, `${LEASES}?watch=true&resourceVersion=abc`]) {
      const res = await send(server.url, 'GET', path);
      expect(statusOf(res)).toEqual([400, 'BadRequest', 'Failure']);
      expect(res.json.message).toBe(message('abc'));
    }
    const negative = await send(server.url, 'GET', `${LEASES}/held?resourceVersion=-1`);
    expect([negative.status, negative.json.message]).toEqual([400, message('-1')]);
    expect(server.openWatchCount).toBe(0);
  });

  it('still answers resourceVersions that parse', async () => {
    for (const rv of ['0', '1', String(Number(server.store.resourceVersion) + 5)]) {
      expect((await send(server.url, 'GET', `${LEASES}/held?resourceVersion=${rv}`)).status).toBe(200);
      expect((await send(server.url, 'GET', `${LEASES}?resourceVersion=${rv}`)).status).toBe(200);
    }
  });
});

describe('methods Node refuses but Go accepts, and CONNECT', () => {
  it('answers an unknown method on a Lease with 405 MethodNotAllowed, and on an unknown path with 404, each a Status', async () => {
    for (const method of ['FOO', 'get', 'BREW']) {
      const res = await exchange(rawHead(method, `${LEASES}/held`));
      expect(statusOf(res)).toEqual([405, 'MethodNotAllowed', 'Failure']);
      expect(res.json.message).toBe('the server does not allow this method on the requested resource');
      expect(res.headers['content-type']).toBe('application/json');
    }
    const unknown = await exchange(rawHead('FOO', '/nothing/here'));
    expect(statusOf(unknown)).toEqual([404, 'NotFound', 'Failure']);
  });

  it('answers an unknown method that carries a body without reading it, and without a reset', async () => {
    const body = Buffer.from(JSON.stringify({ metadata: { name: 'held' } }));
    const res = await exchange(rawHead('FOO', `${LEASES}/held`, { 'Content-Type': 'application/json', 'Content-Length': body.length }), body);
    expect(statusOf(res)).toEqual([405, 'MethodNotAllowed', 'Failure']);
    expect(res.error).toBeUndefined();
  });

  it('answers CONNECT on a Lease with 405 MethodNotAllowed and CONNECT to a host with 404, each a Status', async () => {
    const lease = await exchange(rawHead('CONNECT', `${LEASES}/held`));
    expect(statusOf(lease)).toEqual([405, 'MethodNotAllowed', 'Failure']);
    const host = await exchange(rawHead('CONNECT', 'example.com:443'));
    expect(statusOf(host)).toEqual([404, 'NotFound', 'Failure']);
  });

  it('reports these requests to onRequest like any other, and keeps serving', async () => {
    await exchange(rawHead('FOO', `${LEASES}/held?probe=report`));
    await exchange(rawHead('CONNECT', `${LEASES}/held?probe=report`));
    const reported = () => records.filter((r) => r.url.endsWith('?probe=report')).map((r) => `${r.method} ${r.statusCode}`);
    await waitFor(() => reported().length === 2, 'both requests reported');
    expect(reported().sort()).toEqual(['CONNECT 405', 'FOO 405']);
    expect((await send(server.url, 'GET', `${LEASES}/held`)).status).toBe(200);
  });
});

describe('bytes outside ASCII in the request target', () => {
  it('answers a Lease named with bytes that are not UTF-8 with 404 NotFound, naming it as the real server does', async () => {
    const res = await exchange(rawHead('GET', `${LEASES}/\xff\xfe`));
    expect(statusOf(res)).toEqual([404, 'NotFound', 'Failure']);
    expect(res.json.message).toBe('leases.coordination.k8s.io "\ufffd\ufffd" not found');
    const utf8 = await exchange(Buffer.concat([Buffer.from(`GET ${LEASES}/`), Buffer.from('é', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]));
    expect(statusOf(utf8)).toEqual([404, 'NotFound', 'Failure']);
    expect(utf8.json.message).toBe('leases.coordination.k8s.io "é" not found');
  });

  it('answers an unknown path with such bytes with 404 NotFound, and a list filtered by one with an empty list', async () => {
    const res = await exchange(rawHead('GET', '/apis/\xff'));
    expect(statusOf(res)).toEqual([404, 'NotFound', 'Failure']);
    const list = await exchange(rawHead('GET', `${LEASES}?fieldSelector=metadata.name%3D\xe9`));
    expect([list.status, list.json?.kind, list.json?.items]).toEqual([200, 'LeaseList', []]);
  });

  it('refuses, with a Status, a body it cannot read behind such a target', async () => {
    const body = Buffer.from('{}');
    const res = await exchange(rawHead('PUT', `${LEASES}/\xff`, { 'Content-Type': 'application/json', 'Content-Length': body.length }), body);
    expect(statusOf(res)).toEqual([400, 'BadRequest', 'Failure']);
  });

  it('still answers a bare 400, as Go does, for what no HTTP server accepts (control characters, garbage)', async () => {
    const control = await exchange(rawHead('GET', `${LEASES}/\x01`));
    expect([control.status, control.json]).toEqual([400, undefined]);
    const garbage = await exchange('NOT HTTP AT ALL\r\n\r\n');
    expect([garbage.status, garbage.text]).toEqual([400, '400 Bad Request']);
  });
});

describe('a body over the 3 MiB bound sent with Connection: close', () => {
  const size = 3 * 1024 * 1024 + 512 * 1024;
  const body = Buffer.alloc(size, 0x20);

  it('is answered 413 RequestEntityTooLarge, read in full, never a reset (declared length)', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await exchange(rawHead('POST', LEASES, { 'Content-Type': 'application/json', 'Content-Length': size }), body);
      expect(res.error).toBeUndefined();
      expect(statusOf(res)).toEqual([413, 'RequestEntityTooLarge', 'Failure']);
      expect(res.json.message).toBe('Request entity too large: limit is 3145728');
    }
  });

  it('is answered 413 the same way when sent chunked', async () => {
    const chunked = Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
    const res = await exchange(rawHead('POST', LEASES, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }), chunked);
    expect(res.error).toBeUndefined();
    expect(statusOf(res)).toEqual([413, 'RequestEntityTooLarge', 'Failure']);
  });
});
