/**
 * KubeLeaseClient (client-node) against the embedded server over real HTTP: how watch failures
 * are classified, that a throwing watch hook ends the watch with its error, and that aborting a
 * request that waits for its response headers leaves no socket or timer behind. (That nothing
 * escapes as an unhandled rejection, and that the process can exit, is proved in a child process
 * by client-process-exit.test.ts: jest's sandbox does not report unhandled rejections.)
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ApiError, isApiError, type Lease } from '@leasekit/k8s-leaderelection';
import { KubeLeaseClient } from '@leasekit/k8s-leaderelection/internal';
import { startLeaseApiServer, type LeaseApiServer } from '../index.js';
import { waitFor } from './helpers.js';

const NS = 'default';
const NAME = 'my-lease';

let server: LeaseApiServer;

beforeEach(async () => {
  server = await startLeaseApiServer();
  server.store.create(NS, { metadata: { name: NAME }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } });
});

afterEach(async () => {
  await server.close();
});

/** Open handles of one kind (sockets: TCPSocketWrap; ref'd timers: Timeout). */
function handles(kind: string): number {
  return process.getActiveResourcesInfo().filter((k) => k === kind).length;
}

/** Settles like `promise`, recording the outcome so a test can wait for it. */
function track<T>(promise: Promise<T>): { settled: () => boolean; outcome: Promise<{ value?: T; error?: unknown }> } {
  let done = false;
  const outcome = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  void outcome.then(() => (done = true));
  return { settled: () => done, outcome };
}

describe('KubeLeaseClient.watch: HTTP errors are ApiErrors', () => {
  it.each([
    [401, 'Unauthorized', undefined],
    [403, 'Forbidden', undefined],
    [410, undefined, undefined],
    [429, 'TooManyRequests', 7],
    [500, 'InternalError', undefined],
    [503, 'ServiceUnavailable', 3],
  ])('maps HTTP %i to an ApiError (reason %s, Retry-After %s)', async (code, reason, retryAfterSeconds) => {
    server.faults.addError({ code, verbs: ['watch'], ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });
    const sockets = handles('TCPSocketWrap');
    const client = new KubeLeaseClient(server.kubeConfig());
    const { error } = await track(client.watch(NS, NAME, { signal: new AbortController().signal, onEvent: () => undefined })).outcome;
    expect(error).toBeInstanceOf(ApiError);
    expect(isApiError(error)).toBe(true);
    expect(error).toMatchObject({ code: 'API_ERROR', statusCode: code, ...(reason !== undefined ? { reason } : {}) });
    expect((error as ApiError).retryAfterSeconds).toBe(retryAfterSeconds);
    expect((error as ApiError).status).toMatchObject({ kind: 'Status', code });
    await waitFor(() => handles('TCPSocketWrap') <= sockets, 'the failed watch to close its socket');
  });
});

describe('KubeLeaseClient.watch: throwing hooks', () => {
  it('rejects with the error an onOpen hook throws and closes the stream', async () => {
    const client = new KubeLeaseClient(server.kubeConfig());
    const boom = new Error('onOpen broke');
    const watch = track(
      client.watch(NS, NAME, {
        signal: new AbortController().signal,
        onEvent: () => undefined,
        onOpen: () => {
          throw boom;
        },
      }),
    );
    await waitFor(watch.settled, 'the watch to end');
    expect((await watch.outcome).error).toBe(boom);
    await waitFor(() => server.openWatchCount === 0 && server.store.watcherCount === 0, 'the server to see the stream closed');
  });

  it('rejects with the error an onEvent hook throws and closes the stream', async () => {
    const client = new KubeLeaseClient(server.kubeConfig());
    const boom = new Error('onEvent broke');
    let events = 0;
    const watch = track(
      client.watch(NS, NAME, {
        signal: new AbortController().signal,
        onEvent: () => {
          events++;
          throw boom;
        },
      }),
    );
    await waitFor(watch.settled, 'the watch to end');
    expect((await watch.outcome).error).toBe(boom);
    expect(events).toBe(1);
    await waitFor(() => server.openWatchCount === 0 && server.store.watcherCount === 0, 'the server to see the stream closed');
  });
});

describe('KubeLeaseClient: abort while waiting for response headers', () => {
  const lease = (): Lease => ({ metadata: { name: NAME, resourceVersion: server.store.resourceVersion }, spec: { holderIdentity: 'b', leaseDurationSeconds: 15 } });
  const requests: [string, 'get' | 'create' | 'update' | 'watch', (client: KubeLeaseClient, signal: AbortSignal) => Promise<unknown>][] = [
    ['get', 'get', (client, signal) => client.get(NS, NAME, { signal })],
    ['create', 'create', (client, signal) => client.create(NS, { metadata: { name: 'new-lease' } }, { signal })],
    ['update', 'update', (client, signal) => client.update(NS, lease(), { signal })],
    ['watch', 'watch', (client, signal) => client.watch(NS, NAME, { signal, onEvent: () => undefined })],
  ];

  it.each(requests)('leaves no socket or timer that keeps the process alive after aborting a hung %s', async (_label, verb, call) => {
    server.faults.addHang({ verbs: [verb] });
    const sockets = handles('TCPSocketWrap');
    const timers = handles('Timeout');
    // A long request timeout, so only the abort can end the request.
    const client = new KubeLeaseClient(server.kubeConfig(), { requestTimeoutMs: 600_000 });
    const controller = new AbortController();
    const request = track(call(client, controller.signal));
    await waitFor(() => server.counters.get(verb) === 1, 'the request to reach the server');
    expect(handles('TCPSocketWrap')).toBeGreaterThan(sockets);
    controller.abort();
    // The server is still up and still hanging the request: only the client can let go of it.
    await waitFor(request.settled, `the aborted ${verb} to settle`);
    await waitFor(() => handles('TCPSocketWrap') <= sockets, 'both ends of the connection to close');
    // The server side (in this process) may clear its own timers a moment later under load; a
    // leaked client timer (the 600 s request timeout) would never go away and fail this wait.
    await waitFor(() => handles('Timeout') <= timers, 'no timer left behind');
    const { error } = await request.outcome;
    if (verb !== 'watch') expect(error).toMatchObject({ code: 'REQUEST_TIMEOUT' });
    else expect(error).toBeUndefined(); // an aborted watch resolves
  });

  it('sends nothing and leaves nothing behind when the watch is aborted before its request goes out', async () => {
    const sockets = handles('TCPSocketWrap');
    const client = new KubeLeaseClient(server.kubeConfig());
    const controller = new AbortController();
    const watch = track(client.watch(NS, NAME, { signal: controller.signal, onEvent: () => undefined }));
    controller.abort(); // synchronously: client-node is still preparing the request
    await waitFor(watch.settled, 'the aborted watch to settle');
    expect((await watch.outcome).error).toBeUndefined();
    await waitFor(() => handles('TCPSocketWrap') <= sockets, 'no socket to remain');
    expect(server.counters.get('watch')).toBe(0);
  });
});
