import { describe, expect, it } from '@jest/globals';
import { ApiError, RequestTimeoutError, isAlreadyExists, isConflict, isNotFound } from '../errors.js';
import type { Lease, LeaseWatchEvent } from '../lease.js';
import { FakeClock, settle } from './fake-clock.js';
import { LeaseStore } from './lease-store.js';
import { MemoryLeaseClient, type Fault, type MemoryCall } from './memory-lease-client.js';

const NS = 'default';
const NAME = 'my-lease';

function setup(options: { latencyMs?: number | (() => number); fault?: (call: MemoryCall) => Fault | undefined } = {}) {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  const client = new MemoryLeaseClient(store, { clock, ...options });
  return { clock, store, client };
}

function lease(holderIdentity: string, resourceVersion?: string): Lease {
  return { metadata: { name: NAME, ...(resourceVersion ? { resourceVersion } : {}) }, spec: { holderIdentity, leaseDurationSeconds: 15 } };
}

/** Settles `promise` into a value or an error, so a test can assert on either. */
async function outcome<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

describe('MemoryLeaseClient: normal calls go to the store', () => {
  it('creates, reads and updates a lease with compare-and-swap', async () => {
    const { client } = setup();
    const created = await client.create(NS, lease('a'));
    expect(created.metadata?.resourceVersion).toBeDefined();
    expect((await client.get(NS, NAME)).spec?.holderIdentity).toBe('a');
    const updated = await client.update(NS, { ...created, spec: { ...created.spec, holderIdentity: 'b' } });
    expect(updated.spec?.holderIdentity).toBe('b');
    const stale = await outcome(client.update(NS, { ...created, spec: { holderIdentity: 'c' } }));
    expect(isConflict(stale.error)).toBe(true);
  });

  it('rejects with the store errors: NotFound and AlreadyExists', async () => {
    const { client } = setup();
    expect(isNotFound((await outcome(client.get(NS, NAME))).error)).toBe(true);
    await client.create(NS, lease('a'));
    expect(isAlreadyExists((await outcome(client.create(NS, lease('b')))).error)).toBe(true);
  });

  it('records events in the store', async () => {
    const { client, store } = setup();
    await client.recordEvent({ namespace: NS, leaseName: NAME, type: 'Normal', reason: 'LeaderElection', message: 'a became leader', reportingInstance: 'a', timeMs: 1 });
    expect(store.events).toEqual([expect.objectContaining({ message: 'a became leader', reason: 'LeaderElection' })]);
  });
});

describe('MemoryLeaseClient: the call log', () => {
  it('logs every call, failed ones too, with verb, namespace, name and the time it was made', async () => {
    const { client, clock } = setup();
    await outcome(client.get(NS, NAME));
    await clock.advance(1500);
    await client.create(NS, lease('a'));
    await clock.advance(500);
    const current = await client.get(NS, NAME);
    await client.update(NS, current);
    await client.recordEvent({ namespace: NS, leaseName: NAME, type: 'Normal', reason: 'r', message: 'm', reportingInstance: 'a', timeMs: 0 });
    expect(client.calls).toEqual([
      { verb: 'get', namespace: NS, name: NAME, atMs: 0 },
      { verb: 'create', namespace: NS, name: NAME, atMs: 1500 },
      { verb: 'get', namespace: NS, name: NAME, atMs: 2000 },
      { verb: 'update', namespace: NS, name: NAME, atMs: 2000 },
      { verb: 'recordEvent', namespace: NS, name: NAME, atMs: 2000 },
    ]);
    expect(client.verbs()).toEqual(['get', 'create', 'get', 'update', 'recordEvent']);
  });
});

describe('MemoryLeaseClient: faults', () => {
  it('rejects with the given error and does not touch the store', async () => {
    const error = new ApiError({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'nope', reason: 'Forbidden', code: 403 });
    const { client, store } = setup({ fault: (call) => (call.verb === 'create' ? { kind: 'error', error } : undefined) });
    expect((await outcome(client.create(NS, lease('a')))).error).toBe(error);
    expect(store.peek(NS, NAME)).toBeUndefined();
    expect(client.verbs()).toEqual(['create']);
  });

  it('hangs until the signal aborts, then rejects with the abort reason, without writing', async () => {
    const { client, store } = setup({ fault: () => ({ kind: 'hang' }) });
    const controller = new AbortController();
    let settled = false;
    const call = outcome(client.create(NS, lease('a'), { signal: controller.signal })).finally(() => (settled = true));
    await settle();
    expect(settled).toBe(false);
    const reason = new RequestTimeoutError('deadline passed');
    controller.abort(reason);
    expect((await call).error).toBe(reason);
    expect(store.peek(NS, NAME)).toBeUndefined();
  });

  it('rejects a hung call with a RequestTimeoutError when the signal aborts without an Error reason', async () => {
    const { client } = setup({ fault: () => ({ kind: 'hang' }) });
    const controller = new AbortController();
    const call = outcome(client.get(NS, NAME, { signal: controller.signal }));
    await settle();
    controller.abort('stop');
    expect((await call).error).toBeInstanceOf(RequestTimeoutError);
  });

  it('commits the write but loses the response on drop-response: the caller sees a timeout', async () => {
    const { client, store } = setup({ fault: (call) => (call.verb === 'create' ? { kind: 'drop-response' } : undefined) });
    const result = await outcome(client.create(NS, lease('a')));
    expect(result.error).toBeInstanceOf(RequestTimeoutError);
    expect(store.get(NS, NAME).spec?.holderIdentity).toBe('a');
  });

  it('commits an update whose response is dropped, so a retry with the old resourceVersion conflicts', async () => {
    let drop = false;
    const { client, store } = setup({ fault: (call) => (drop && call.verb === 'update' ? { kind: 'drop-response' } : undefined) });
    const created = await client.create(NS, lease('a'));
    drop = true;
    const renewed = { ...created, spec: { ...created.spec, holderIdentity: 'b' } };
    expect((await outcome(client.update(NS, renewed))).error).toBeInstanceOf(RequestTimeoutError);
    expect(store.get(NS, NAME).spec?.holderIdentity).toBe('b');
    drop = false;
    expect(isConflict((await outcome(client.update(NS, { ...renewed, spec: { holderIdentity: 'c' } }))).error)).toBe(true);
  });

  it('decides faults per call, so a test can fail only some of them', async () => {
    let n = 0;
    const { client } = setup({ fault: () => (++n === 2 ? { kind: 'error', error: new Error('flaky') } : undefined) });
    await client.create(NS, lease('a'));
    expect((await outcome(client.get(NS, NAME))).error).toEqual(new Error('flaky'));
    expect((await client.get(NS, NAME)).spec?.holderIdentity).toBe('a');
  });
});

describe('MemoryLeaseClient: latency', () => {
  it('answers only after the latency has passed on the fake clock', async () => {
    const { client, clock, store } = setup({ latencyMs: 300 });
    store.create(NS, lease('a'));
    let answered = false;
    const call = client.get(NS, NAME).then((l) => ((answered = true), l));
    await clock.advance(299);
    expect(answered).toBe(false);
    await clock.advance(1);
    expect(answered).toBe(true);
    expect((await call).spec?.holderIdentity).toBe('a');
  });

  it('applies the write when the request reaches the store, after the latency', async () => {
    const { client, clock, store } = setup({ latencyMs: 100 });
    const call = client.create(NS, lease('a'));
    await clock.advance(50);
    expect(store.peek(NS, NAME)).toBeUndefined();
    await clock.advance(50);
    await call;
    expect(store.peek(NS, NAME)).toBeDefined();
  });

  it('takes latency from a function, per call', async () => {
    const latencies = [10, 500];
    const { client, clock, store } = setup({ latencyMs: () => latencies.shift() ?? 0 });
    store.create(NS, lease('a'));
    const done: string[] = [];
    void client.get(NS, NAME).then(() => done.push('slow-first'));
    void client.get(NS, NAME).then(() => done.push('second'));
    await clock.advance(10);
    expect(done).toEqual(['slow-first']);
    await clock.advance(490);
    expect(done).toEqual(['slow-first', 'second']);
  });

  it('rejects, without writing, when the signal aborts during the latency', async () => {
    const { client, clock, store } = setup({ latencyMs: 1000 });
    const controller = new AbortController();
    const call = outcome(client.create(NS, lease('a'), { signal: controller.signal }));
    await clock.advance(100);
    controller.abort(new RequestTimeoutError('deadline'));
    expect((await call).error).toBeInstanceOf(RequestTimeoutError);
    await clock.advance(2000);
    expect(store.peek(NS, NAME)).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('MemoryLeaseClient: watch', () => {
  function collect() {
    const events: LeaseWatchEvent[] = [];
    return { events, onEvent: (e: LeaseWatchEvent) => void events.push(e) };
  }

  it('delivers ADDED for the current state, then MODIFIED and DELETED, and ends on abort', async () => {
    const { client, store } = setup();
    store.create(NS, lease('a'));
    const controller = new AbortController();
    const { events, onEvent } = collect();
    let opened = false;
    let ended = false;
    const watch = client.watch(NS, NAME, { signal: controller.signal, onEvent, onOpen: () => (opened = true) }).then(() => (ended = true));
    await settle();
    expect(opened).toBe(true);
    const current = store.get(NS, NAME);
    store.update(NS, NAME, { ...current, spec: { ...current.spec, holderIdentity: 'b' } });
    store.delete(NS, NAME);
    await settle();
    expect(events.map((e) => [e.type, (e.object as Lease).spec?.holderIdentity])).toEqual([
      ['ADDED', 'a'],
      ['MODIFIED', 'b'],
      ['DELETED', 'b'],
    ]);
    expect(ended).toBe(false);
    expect(store.watcherCount).toBe(1);
    controller.abort();
    await watch;
    expect(ended).toBe(true);
    expect(store.watcherCount).toBe(0);
  });

  it('watches only its own lease', async () => {
    const { client, store } = setup();
    const controller = new AbortController();
    const { events, onEvent } = collect();
    const watch = client.watch(NS, NAME, { signal: controller.signal, onEvent });
    await settle();
    store.create(NS, { metadata: { name: 'other' } });
    store.create('elsewhere', lease('x'));
    store.create(NS, lease('a'));
    await settle();
    expect(events.map((e) => e.type)).toEqual(['ADDED']);
    expect((events[0]!.object as Lease).metadata?.name).toBe(NAME);
    controller.abort();
    await watch;
  });

  it('resumes after a resourceVersion, delivering only what changed since', async () => {
    const { client, store } = setup();
    const first = store.create(NS, lease('a'));
    store.update(NS, NAME, { ...first, spec: { holderIdentity: 'b' } });
    const controller = new AbortController();
    const { events, onEvent } = collect();
    const watch = client.watch(NS, NAME, { signal: controller.signal, resourceVersion: first.metadata!.resourceVersion!, onEvent });
    await settle();
    expect(events.map((e) => [e.type, (e.object as Lease).spec?.holderIdentity])).toEqual([['MODIFIED', 'b']]);
    controller.abort();
    await watch;
  });

  it('reports a compacted resourceVersion as an ERROR event with a 410 Status, then ends', async () => {
    const { client, store } = setup();
    const first = store.create(NS, lease('a'));
    store.update(NS, NAME, { ...first, spec: { holderIdentity: 'b' } });
    store.compact();
    const { events, onEvent } = collect();
    await client.watch(NS, NAME, { resourceVersion: first.metadata!.resourceVersion!, onEvent });
    expect(events).toHaveLength(1);
    expect(events[0]!.type).toBe('ERROR');
    expect(events[0]!.object).toMatchObject({ kind: 'Status', code: 410 });
    expect(store.watcherCount).toBe(0);
  });

  it('ends when the server closes the stream', async () => {
    const { client, store } = setup();
    const watch = client.watch(NS, NAME, { signal: new AbortController().signal, onEvent: () => undefined });
    await settle();
    expect(store.stopAllWatches()).toBe(1);
    await watch;
    expect(store.watcherCount).toBe(0);
  });

  it('rejects, and stops watching, when its event handler throws', async () => {
    const { client, store } = setup();
    store.create(NS, lease('a'));
    const result = await outcome(
      client.watch(NS, NAME, {
        signal: new AbortController().signal,
        onEvent: () => {
          throw new Error('handler bug');
        },
      }),
    );
    expect(result.error).toEqual(new Error('handler bug'));
    expect(store.watcherCount).toBe(0);
  });

  it('resolves, without a watch, when the signal aborts while the request is still on its way', async () => {
    const { client, clock, store } = setup({ latencyMs: 100 });
    const controller = new AbortController();
    const watch = client.watch(NS, NAME, { signal: controller.signal, onEvent: () => undefined });
    await clock.advance(50);
    controller.abort();
    await expect(watch).resolves.toBeUndefined();
    expect(store.watcherCount).toBe(0);
  });

  it('rejects when the watch cannot be opened', async () => {
    const { client } = setup({ fault: () => ({ kind: 'error', error: new Error('watch refused') }) });
    await expect(client.watch(NS, NAME, { signal: new AbortController().signal, onEvent: () => undefined })).rejects.toThrow('watch refused');
  });

  it('returns at once, without a watch, when the signal has already aborted', async () => {
    const { client, store } = setup();
    const controller = new AbortController();
    controller.abort();
    await client.watch(NS, NAME, { signal: controller.signal, onEvent: () => undefined });
    expect(store.watcherCount).toBe(0);
    expect(client.verbs()).toEqual(['watch']);
  });
});

describe('MemoryLeaseClient: list and delete', () => {
  function member(name: string, of: string): Lease {
    return { metadata: { name, labels: { 'leasekit.io/member-of': of } }, spec: { holderIdentity: name } };
  }

  it('lists a namespace by label selector, with the store resourceVersion, and logs it as list with name ""', async () => {
    const { client, store } = setup();
    store.create(NS, member('b', 'x'));
    store.create(NS, member('a', 'x'));
    store.create(NS, member('c', 'y'));
    store.create('elsewhere', member('d', 'x'));
    const list = await client.list(NS, { labelSelector: 'leasekit.io/member-of=x' });
    expect(list.items.map((l) => l.metadata?.name)).toEqual(['a', 'b']);
    expect(list.resourceVersion).toBe(store.resourceVersion);
    expect((await client.list(NS)).items).toHaveLength(3);
    expect(client.calls.map((c) => [c.verb, c.namespace, c.name])).toEqual([
      ['list', NS, ''],
      ['list', NS, ''],
    ]);
  });

  it('returns copies: changing a listed lease does not change the store', async () => {
    const { client, store } = setup();
    store.create(NS, member('a', 'x'));
    const [listed] = (await client.list(NS)).items;
    listed!.spec!.holderIdentity = 'changed';
    expect(store.get(NS, 'a').spec?.holderIdentity).toBe('a');
  });

  it('deletes with a uid precondition, refusing a wrong uid with Conflict and a missing lease with NotFound', async () => {
    const { client, store } = setup();
    const created = store.create(NS, lease('a'));
    expect(isConflict((await outcome(client.delete(NS, NAME, { preconditions: { uid: 'other' } }))).error)).toBe(true);
    expect(store.peek(NS, NAME)).toBeDefined();
    await expect(client.delete(NS, NAME, { preconditions: { uid: created.metadata!.uid! } })).resolves.toBeUndefined();
    expect(store.peek(NS, NAME)).toBeUndefined();
    expect(isNotFound((await outcome(client.delete(NS, NAME))).error)).toBe(true);
    expect(client.calls.map((c) => [c.verb, c.name])).toEqual([
      ['delete', NAME],
      ['delete', NAME],
      ['delete', NAME],
    ]);
  });

  it('applies faults and latency to list and delete as to every verb', async () => {
    const error = new Error('refused');
    const { client, clock, store } = setup({ latencyMs: 100, fault: (call) => (call.verb === 'list' ? { kind: 'error', error } : undefined) });
    store.create(NS, lease('a'));
    const listed = outcome(client.list(NS));
    await clock.advance(100);
    expect((await listed).error).toBe(error);
    let deleted = false;
    const deletion = client.delete(NS, NAME).then(() => (deleted = true));
    await clock.advance(99);
    expect(deleted).toBe(false);
    expect(store.peek(NS, NAME)).toBeDefined();
    await clock.advance(1);
    await deletion;
    expect(store.peek(NS, NAME)).toBeUndefined();
  });

  it('deletes but loses the response on drop-response: the caller sees a timeout', async () => {
    const { client, store } = setup({ fault: (call) => (call.verb === 'delete' ? { kind: 'drop-response' } : undefined) });
    store.create(NS, lease('a'));
    expect((await outcome(client.delete(NS, NAME))).error).toBeInstanceOf(RequestTimeoutError);
    expect(store.peek(NS, NAME)).toBeUndefined();
  });
});
