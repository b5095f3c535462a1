/**
 * One test per class of malformed request: the status code and the Status `reason` must be the
 * real server's, because clients classify errors by reason. And the server must survive them all.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { seededRandom } from '@leasekit/k8s-leaderelection/testing';
import { startLeaseApiServer, type LeaseApiServer } from './index.js';
import { send, type RawResponse } from './__tests__/helpers.js';

const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
let server: LeaseApiServer;

beforeAll(async () => {
  server = await startLeaseApiServer({ maxBodyBytes: 4096 });
  server.store.create('default', { metadata: { name: 'held' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 10 } });
});

afterAll(async () => {
  await server.close();
});

function expectStatus(res: RawResponse, code: number, reason: string): void {
  expect({ status: res.status, kind: res.json?.kind, status_: res.json?.status, code: res.json?.code, reason: res.json?.reason }).toEqual({
    status: code,
    kind: 'Status',
    status_: 'Failure',
    code,
    reason,
  });
  expect(res.headers['content-type']).toBe('application/json');
}

const post = (body: string | object, headers: Record<string, string> = {}) => send(server.url, 'POST', LEASES, { body, headers });
const lease = (spec: object, name = 'x') => ({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name }, spec });

describe('400 BadRequest', () => {
  it('answers malformed JSON with 400 BadRequest', async () => {
    const res = await post('{"metadata": {"name": "x"');
    expectStatus(res, 400, 'BadRequest');
    expect(res.json.message).toMatch(/^the object provided is unrecognized \(must be of type Lease\): couldn't get version\/kind; json parse error: /);
  });

  it('answers an empty body with 400 BadRequest', async () => {
    expectStatus(await post(''), 400, 'BadRequest');
  });

  it('answers a JSON body that is not an object with 400 BadRequest', async () => {
    expectStatus(await post('[1,2,3]'), 400, 'BadRequest');
    expectStatus(await post('"lease"'), 400, 'BadRequest');
  });

  it('answers a MicroTime without six fractional digits with 400 BadRequest', async () => {
    const res = await post(lease({ renewTime: new Date().toISOString() }));
    expectStatus(res, 400, 'BadRequest');
    expect(res.json.message).toContain('cannot parse as a MicroTime');
  });

  it('answers a field of the wrong type with 400 BadRequest', async () => {
    expectStatus(await post(lease({ leaseDurationSeconds: '15' })), 400, 'BadRequest');
    expectStatus(await post(lease({ leaseDurationSeconds: 1.5 })), 400, 'BadRequest');
    expectStatus(await post(lease({ holderIdentity: 42 })), 400, 'BadRequest');
    expectStatus(await post({ metadata: 'x' }), 400, 'BadRequest');
  });

  it('answers a body for another API version or kind with 400 BadRequest', async () => {
    expectStatus(await post({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }), 400, 'BadRequest');
    expectStatus(await post({ apiVersion: 'coordination.k8s.io/v1', kind: 'ConfigMap', metadata: { name: 'x' } }), 400, 'BadRequest');
  });

  it('answers a name or namespace that contradicts the URL with 400 BadRequest', async () => {
    const held = server.store.get('default', 'held');
    const renamed = await send(server.url, 'PUT', `${LEASES}/held`, { body: { ...held, metadata: { ...held.metadata, name: 'other' } } });
    expectStatus(renamed, 400, 'BadRequest');
    expect(renamed.json.message).toBe('the name of the object (other) does not match the name on the URL (held)');
    expectStatus(await post({ metadata: { name: 'x', namespace: 'kube-system' } }), 400, 'BadRequest');
  });

  it('answers malformed YAML with 400 BadRequest', async () => {
    expectStatus(await post('metadata: [unclosed', { 'Content-Type': 'application/yaml' }), 400, 'BadRequest');
  });

  it('answers unsupported or malformed query parameters with 400 BadRequest', async () => {
    expectStatus(await send(server.url, 'GET', `${LEASES}?fieldSelector=spec.holderIdentity%3Da`), 400, 'BadRequest');
    expectStatus(await send(server.url, 'GET', `${LEASES}?fieldSelector=garbage`), 400, 'BadRequest');
    expectStatus(await send(server.url, 'GET', `${LEASES}?labelSelector=app%20in%20(x`), 400, 'BadRequest');
    expectStatus(await send(server.url, 'GET', `${LEASES}?limit=-1`), 400, 'BadRequest');
    expectStatus(await send(server.url, 'GET', `${LEASES}?continue=bm90LWEtbnVtYmVy`), 400, 'BadRequest');
    expectStatus(await send(server.url, 'GET', `${LEASES}?watch=true&resourceVersion=abc`), 400, 'BadRequest');
    expectStatus(await send(server.url, 'GET', `${LEASES}?watch=true&timeoutSeconds=soon`), 400, 'BadRequest');
    expectStatus(await send(server.url, 'POST', `${LEASES}?dryRun=All`, { body: lease({}) }), 400, 'BadRequest');
    expectStatus(await send(server.url, 'POST', `${LEASES}?fieldValidation=Loose`, { body: lease({}) }), 400, 'BadRequest');
  });

  it('answers an unknown field under fieldValidation=Strict with 400 BadRequest', async () => {
    const res = await send(server.url, 'POST', `${LEASES}?fieldValidation=Strict`, { body: lease({ holderIdentiy: 'typo' }) });
    expectStatus(res, 400, 'BadRequest');
    expect(res.json.message).toBe('Lease in version "v1" cannot be handled as a Lease: strict decoding error: unknown field "spec.holderIdentiy"');
  });

  it('answers garbage instead of HTTP with 400 and keeps serving', async () => {
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
      let text = '';
      socket.on('data', (d) => (text += d.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect((await send(server.url, 'GET', '/healthz')).status).toBe(200);
  });
});

describe('404 NotFound', () => {
  it('answers a missing Lease with 404 NotFound and the real message', async () => {
    const res = await send(server.url, 'GET', `${LEASES}/missing`);
    expectStatus(res, 404, 'NotFound');
    expect(res.json.message).toBe('leases.coordination.k8s.io "missing" not found');
    expect(res.json.details).toEqual({ name: 'missing', group: 'coordination.k8s.io', kind: 'leases' });
  });

  it('answers an unknown path with a 404 Status', async () => {
    for (const path of ['/nope', '/apis/apps/v1/deployments', `${LEASES}/held/status`, '/api/v1/namespaces/default/pods', '//evil.example/apis']) {
      const res = await send(server.url, 'GET', path);
      expectStatus(res, 404, 'NotFound');
      expect(res.json.message).toBe('the server could not find the requested resource');
    }
  });
});

describe('405 MethodNotAllowed', () => {
  it('answers a verb a path does not support with 405 MethodNotAllowed', async () => {
    expectStatus(await send(server.url, 'POST', `${LEASES}/held`, { body: lease({}, 'held') }), 405, 'MethodNotAllowed');
    expectStatus(await send(server.url, 'PUT', LEASES, { body: lease({}) }), 405, 'MethodNotAllowed');
    expectStatus(await send(server.url, 'POST', '/apis/coordination.k8s.io/v1/leases', { body: lease({}) }), 405, 'MethodNotAllowed');
    expectStatus(await send(server.url, 'DELETE', '/version'), 405, 'MethodNotAllowed');
    expectStatus(await send(server.url, 'PUT', '/api/v1/namespaces/default/events/e', { body: {} }), 405, 'MethodNotAllowed');
  });
});

describe('409 Conflict and AlreadyExists', () => {
  it('answers a stale resourceVersion with 409 Conflict', async () => {
    const held = server.store.get('default', 'held');
    const res = await send(server.url, 'PUT', `${LEASES}/held`, { body: { ...held, metadata: { ...held.metadata, resourceVersion: '0' } } });
    expectStatus(res, 409, 'Conflict');
    expect(res.json.message).toBe(
      'Operation cannot be fulfilled on leases.coordination.k8s.io "held": the object has been modified; please apply your changes to the latest version and try again',
    );
  });

  it('answers a uid that is not the stored object\'s with 409 Conflict (precondition failed)', async () => {
    const held = server.store.get('default', 'held');
    const res = await send(server.url, 'PUT', `${LEASES}/held`, { body: { ...held, metadata: { ...held.metadata, uid: 'another-uid' } } });
    expectStatus(res, 409, 'Conflict');
    expect(res.json.message).toContain('Precondition failed: UID in precondition: another-uid');
  });

  it('answers a create of an existing name with 409 AlreadyExists, not Conflict', async () => {
    const res = await post(lease({}, 'held'));
    expectStatus(res, 409, 'AlreadyExists');
    expect(res.json.message).toBe('leases.coordination.k8s.io "held" already exists');
  });
});

describe('422 Invalid', () => {
  const causeOf = (res: RawResponse) => res.json.details.causes.map((c: { field: string; reason: string }) => `${c.field} ${c.reason}`);

  it('answers leaseDurationSeconds <= 0 with 422 Invalid and a cause', async () => {
    const res = await post(lease({ leaseDurationSeconds: 0 }));
    expectStatus(res, 422, 'Invalid');
    expect(causeOf(res)).toEqual(['spec.leaseDurationSeconds FieldValueInvalid']);
    expect(res.json.message).toBe('Lease.coordination.k8s.io "x" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0');
  });

  it('answers leaseTransitions < 0 with 422 Invalid and a cause', async () => {
    const res = await post(lease({ leaseTransitions: -1 }));
    expectStatus(res, 422, 'Invalid');
    expect(causeOf(res)).toEqual(['spec.leaseTransitions FieldValueInvalid']);
  });

  it('answers preferredHolder without strategy with 422 Invalid and a cause', async () => {
    const res = await post(lease({ preferredHolder: 'b' }));
    expectStatus(res, 422, 'Invalid');
    expect(causeOf(res)).toEqual(['spec.preferredHolder FieldValueForbidden']);
  });

  it('answers a bad or missing name with 422 Invalid and a cause', async () => {
    const bad = await post(lease({}, 'Not_A_DNS_Name'));
    expectStatus(bad, 422, 'Invalid');
    expect(causeOf(bad)).toEqual(['metadata.name FieldValueInvalid']);
    const missing = await post({ metadata: {}, spec: {} });
    expectStatus(missing, 422, 'Invalid');
    expect(causeOf(missing)).toEqual(['metadata.name FieldValueRequired']);
  });

  it('answers an update without resourceVersion with 422 Invalid', async () => {
    const res = await send(server.url, 'PUT', `${LEASES}/held`, { body: lease({ holderIdentity: 'b' }, 'held') });
    expectStatus(res, 422, 'Invalid');
    expect(res.json.message).toBe('leases.coordination.k8s.io "held" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
  });

  it('answers server-side apply without a fieldManager with 422 Invalid', async () => {
    const res = await send(server.url, 'PATCH', `${LEASES}/held`, { body: lease({}, 'held'), headers: { 'Content-Type': 'application/apply-patch+yaml' } });
    expectStatus(res, 422, 'Invalid');
  });
});

describe('413, 415 and 500', () => {
  it('answers a body beyond the bound with 413 RequestEntityTooLarge, declared or streamed', async () => {
    const big = JSON.stringify(lease({ holderIdentity: 'x'.repeat(10_000) }));
    const declared = await post(big);
    expectStatus(declared, 413, 'RequestEntityTooLarge');
    expect(declared.json.message).toBe('Request entity too large: limit is 4096');
    const chunked = await send(server.url, 'POST', LEASES, { body: big, chunked: true });
    expectStatus(chunked, 413, 'RequestEntityTooLarge');
    expect((await send(server.url, 'GET', '/readyz')).status).toBe(200);
  });

  it('answers a patch in an unknown format with 415 UnsupportedMediaType', async () => {
    const res = await send(server.url, 'PATCH', `${LEASES}/held`, { body: { spec: {} }, headers: { 'Content-Type': 'application/json' } });
    expectStatus(res, 415, 'UnsupportedMediaType');
    expect(res.json.message).toContain('application/merge-patch+json');
  });

  it('answers a create body in an unknown format with 415 UnsupportedMediaType', async () => {
    expectStatus(await post('\x00\x01', { 'Content-Type': 'application/vnd.kubernetes.protobuf' }), 415, 'UnsupportedMediaType');
  });

  it('answers a create carrying a resourceVersion with 500 InternalError, as the real server does', async () => {
    const res = await post({ metadata: { name: 'x', resourceVersion: '5' } });
    expectStatus(res, 500, 'InternalError');
    expect(res.json.message).toBe('resourceVersion should not be set on objects to be created');
  });
});

describe('arbitrary input', () => {
  it('survives a client that leaves in the middle of its body', async () => {
    await new Promise<void>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => {
        socket.write(`POST ${LEASES} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"metadata":`);
        setImmediate(() => socket.destroy());
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    expect((await send(server.url, 'GET', '/healthz')).status).toBe(200);
    expect(server.store.peek('default', 'x')).toBeUndefined();
  });

  it('answers every request with a status, never crashes, and keeps serving', async () => {
    const random = seededRandom(2024);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];
    // Watches are left out: they stream until a timeout, and have tests of their own.
    const paths = [LEASES, `${LEASES}/held`, `${LEASES}/x%ZZ`, '/apis/coordination.k8s.io/v1/leases', '/api/v1/namespaces/default/events', '/api/v1/namespaces/default/events/e', '/apis', '/api/v1', '/openapi/v3', '/', `${LEASES}?fieldSelector=metadata.name%3Dheld`];
    const types = ['application/json', 'application/yaml', 'application/merge-patch+json', 'application/json-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml', 'text/plain'];
    const bodies = ['', '{}', 'null', '[]', '{"metadata":{"name":"fz"},"spec":{"leaseDurationSeconds":-1}}', '{"spec":{"renewTime":"yesterday"}}', '[{"op":"remove","path":"/nope"}]', '\u0000\u0001garbage', '{"metadata":{"name":"fz2"}}', ': : :', '{"metadata":null,"spec":[]}'];
    for (let i = 0; i < 150; i++) {
      const method = pick(methods);
      const res = await send(server.url, method, `${pick(paths)}${random() < 0.3 ? `${'?&'[Number(random() < 0.5)]}limit=${Math.floor(random() * 5)}` : ''}`, {
        ...(method === 'GET' || method === 'HEAD' ? {} : { body: pick(bodies), headers: { 'Content-Type': pick(types) } }),
      });
      expect(res.status).toBeGreaterThanOrEqual(200);
      expect(res.status).toBeLessThan(500 + (res.json?.reason === 'InternalError' && /resourceVersion should not be set/.test(res.json.message) ? 1 : 0));
      if (res.status >= 400 && method !== 'HEAD') expect(res.json?.kind).toBe('Status');
    }
    expect((await send(server.url, 'GET', '/healthz')).status).toBe(200);
    expect(server.openWatchCount).toBe(0);
  });
});
