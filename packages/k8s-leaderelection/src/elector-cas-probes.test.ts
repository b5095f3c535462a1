/**
 * Adversarial probes of the compare-and-swap handover: a watching follower taking a watched
 * released or expired record with one write (stale, delayed, reordered and duplicated watch
 * events; an ancient renewTime seen just now; racing followers), a leader releasing over its own
 * last write, and the request pace of a watching follower whose writes all fail. Fake clock,
 * in-memory store.
 */
import { describe, expect, it } from '@jest/globals';
import { LEASE, NS, runChecked, world, type Replica, type World } from './__tests__/harness.js';
import { PassThroughClient } from './__tests__/pass-through-client.js';
import { ApiError, makeStatus } from './errors.js';
import type { Lease, LeaseWatchEvent, WatchOptions } from './lease.js';
import { formatMicroTime } from './record.js';
import { MemoryLeaseClient, type Fault, type MemoryCall } from './testing/memory-lease-client.js';

/**
 * A LeaseClient over the store whose watch events the test can hold back, then deliver late, out
 * of order or twice (what a slow or replaying watch cache may do).
 */
class ScriptedWatchClient extends PassThroughClient<MemoryLeaseClient> {
  /** Events held back while `holding`, in arrival order. */
  readonly held: LeaseWatchEvent[] = [];
  holding = false;
  private deliver: ((event: LeaseWatchEvent) => void) | undefined;

  constructor(w: World, fault?: (call: MemoryCall) => Fault | undefined) {
    super(new MemoryLeaseClient(w.store, { clock: w.clock, ...(fault ? { fault } : {}) }));
  }

  async watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    const onEvent = (event: LeaseWatchEvent): void => {
      if (this.holding) this.held.push(structuredClone(event));
      else options.onEvent(event);
    };
    this.deliver = options.onEvent;
    try {
      await this.inner.watch(namespace, name, { ...options, onEvent });
    } finally {
      if (this.deliver === options.onEvent) this.deliver = undefined;
    }
  }

  /** Delivers `event` on the open watch now (a late, reordered or repeated event). */
  inject(event: LeaseWatchEvent): void {
    if (!this.deliver) throw new Error('no open watch');
    this.deliver(structuredClone(event));
  }

  /** The verbs sent from call index `from` on, watches left out. */
  requestsSince(from: number): string[] {
    return this.inner.calls.slice(from).map((c) => c.verb).filter((v) => v !== 'watch');
  }

  /** Monotonic times of the update calls. */
  updateTimes(): number[] {
    return this.inner.calls.filter((c) => c.verb === 'update').map((c) => c.atMs);
  }
}

const leaders = (rs: Replica[]): string[] => rs.filter((r) => r.elector.isLeader()).map((r) => r.id);
const storeSpec = (w: World) => w.store.get(NS, LEASE).spec!;
const holderOf = (e: LeaseWatchEvent): string | undefined => (e.object as Lease).spec?.holderIdentity ?? undefined;

/** A watching follower over a ScriptedWatchClient. */
function scripted(w: World, id: string, fault?: (call: MemoryCall) => Fault | undefined): { replica: Replica; client: ScriptedWatchClient } {
  const client = new ScriptedWatchClient(w, fault);
  return { replica: w.replica(id, { config: { followerStrategy: 'watch' }, leaseClient: client }), client };
}

/** Writes `spec` over the stored Lease as an outside actor would (kubectl, another tool). */
function overwrite(w: World, spec: NonNullable<Lease['spec']>): void {
  const current = w.store.get(NS, LEASE);
  w.store.update(NS, LEASE, { ...current, spec: { ...current.spec, ...spec } });
}

/** a leads (polling); the others start once it does and follow for a few seconds. */
async function ledBy(w: World, a: Replica, followers: Replica[]): Promise<void> {
  w.store.create(NS, { metadata: { name: LEASE } });
  a.start();
  await w.clock.advance(0);
  expect(a.elector.isLeader()).toBe(true);
  for (const f of followers) f.start();
  await runChecked(w.clock, [a, ...followers], 5_000, 10);
}

/** a leads, b (scripted) and c (watching) follow; b's watch events are held from then on, a resigns and c takes over. */
async function resignedToC(seed: number) {
  const w = world(seed);
  const a = w.replica('a');
  const { replica: b, client: bc } = scripted(w, 'b');
  const c = w.replica('c', { config: { followerStrategy: 'watch' } });
  await ledBy(w, a, [b, c]);
  bc.holding = true;
  void a.elector.resign();
  expect(await w.clock.advanceUntil(() => c.elector.isLeader(), 1_000, 1)).toBe(true);
  return { w, a, b, bc, c, token: c.elector.getTerm()!.token };
}

describe('CAS handover probes: stale and delayed watch events', () => {
  it('a released record delivered after another follower took the lease costs one refused write and takes nothing', async () => {
    const { w, a, b, bc, c, token } = await resignedToC(91);
    expect(storeSpec(w).holderIdentity).toBe('c');

    const released = bc.held.find((e) => holderOf(e) === undefined || holderOf(e) === '');
    expect(released).toBeDefined();
    const mark = bc.inner.calls.length;
    bc.holding = false;
    bc.inject(released!);
    await runChecked(w.clock, [a, b, c], 100, 1);
    // The stale take was refused: c still holds the lease with the same token, b does not lead.
    expect(bc.requestsSince(mark)).toEqual(['update']);
    expect(storeSpec(w).holderIdentity).toBe('c');
    expect(storeSpec(w).leaseTransitions).toBe(token);
    expect(b.elector.isLeader()).toBe(false);
    for (const e of bc.held.splice(0)) bc.inject(e);
    await runChecked(w.clock, [a, b, c], 20_000, 10);
    expect(leaders([a, b, c])).toEqual(['c']);
    expect(c.elector.getTerm()!.token).toBe(token);
    expect(bc.requestsSince(mark).filter((v) => v === 'update')).toEqual(['update']);
    await a.stop();
    await b.stop();
    await c.stop();
  });

  it('a released record delivered late (twice) after the new leader renewed never displaces it and is written at most once', async () => {
    const { w, a, b, bc, c, token } = await resignedToC(92);
    await runChecked(w.clock, [a, b, c], 6_500, 10); // c renews three times meanwhile
    const released = bc.held.find((e) => (holderOf(e) ?? '') === '')!;
    const mark = bc.inner.calls.length;
    bc.holding = false;
    bc.inject(released);
    bc.inject(released);
    await runChecked(w.clock, [a, b, c], 1_000, 1);
    expect(bc.requestsSince(mark).filter((v) => v === 'update')).toEqual(['update']);
    expect(storeSpec(w).holderIdentity).toBe('c');
    expect(storeSpec(w).leaseTransitions).toBe(token);
    expect(c.elector.isLeader()).toBe(true);
    await runChecked(w.clock, [a, b, c], 20_000, 10);
    expect(leaders([a, b, c])).toEqual(['c']);
    expect(b.elector.getLeader()).toBe('c'); // c's renewals on the watch replaced the stale record
    expect(storeSpec(w).leaseTransitions).toBe(token);
    await a.stop();
    await b.stop();
    await c.stop();
  });
});

describe('CAS handover probes: reordered watch events and a dead leader', () => {
  it('after renewals delivered newest-first, the follower waits a full lease duration from the last change it saw, and its token is one above the dead leader token', async () => {
    const w = world(93);
    let dead = false;
    const a = w.replica('a', { client: { fault: () => (dead ? { kind: 'hang' } : undefined) } });
    const { replica: b, client: bc } = scripted(w, 'b');
    await ledBy(w, a, [b]);
    const aToken = a.elector.getTerm()!.token;
    bc.holding = true;
    await runChecked(w.clock, [a, b], 6_500, 10); // three renewals held back
    expect(bc.held.length).toBeGreaterThanOrEqual(3);
    dead = true; // a's process hangs: nothing it sends arrives any more
    expect(await w.clock.advanceUntil(() => !a.elector.isLeader(), 20_000, 10)).toBe(true);
    const aStoppedAt = w.clock.now();
    const mark = bc.inner.calls.length;
    bc.holding = false;
    for (const e of [...bc.held].reverse()) bc.inject(e);
    for (const e of bc.held.splice(0)) bc.inject(e); // and all again, in order
    const lastChangeAt = w.clock.now();
    await runChecked(w.clock, [a, b], 14_990, 10);
    expect(bc.requestsSince(mark)).toEqual([]);
    expect(b.elector.isLeader()).toBe(false);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 40_000, 10)).toBe(true);
    expect(bc.updateTimes().at(-1)!).toBeGreaterThanOrEqual(lastChangeAt + 15_000);
    expect(w.clock.now()).toBeGreaterThan(aStoppedAt);
    expect(b.elector.getTerm()!.token).toBe(aToken + 1);
    expect(storeSpec(w).holderIdentity).toBe('b');
    dead = false;
    await b.stop();
    await a.stop();
  });
});

describe('CAS handover probes: an expired-looking record seen just now', () => {
  it('a record with an hour-old renewTime arriving on the watch is not written to before it stood a lease duration', async () => {
    const w = world(94);
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'x', leaseDurationSeconds: 15, leaseTransitions: 7 } });
    const { replica: b, client: bc } = scripted(w, 'b');
    b.start();
    // An outside holder keeps the lease fresh for a while.
    for (let i = 0; i < 5; i++) {
      await w.clock.advance(2_000);
      overwrite(w, { renewTime: formatMicroTime(w.clock.wallNow()) });
    }
    expect(b.elector.isLeader()).toBe(false);
    const ancient = formatMicroTime(w.clock.wallNow() - 3_600_000);
    const mark = bc.inner.calls.length;
    overwrite(w, { holderIdentity: 'gone', acquireTime: ancient, renewTime: ancient, leaseTransitions: 9 });
    const seenAt = w.clock.now();
    await w.clock.advance(14_990);
    expect(bc.requestsSince(mark)).toEqual([]);
    expect(b.elector.isLeader()).toBe(false);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 1_000, 1)).toBe(true);
    expect(bc.updateTimes().at(-1)!).toBeGreaterThanOrEqual(seenAt + 15_000);
    expect(bc.requestsSince(mark)).toEqual(['update']);
    expect(b.elector.getTerm()!.token).toBe(10);
    expect(storeSpec(w).holderIdentity).toBe('b');
    await b.stop();
  });
});

describe('CAS handover probes: release', () => {
  it('a release over its own last write, after an outside actor handed the lease to another holder, writes nothing', async () => {
    const w = world(95);
    const a = w.replica('a');
    w.store.create(NS, { metadata: { name: LEASE } });
    a.start();
    await w.clock.advance(0);
    await runChecked(w.clock, [a], 3_000, 10);
    overwrite(w, { holderIdentity: 'z', renewTime: formatMicroTime(w.clock.wallNow()), leaseTransitions: 50 });
    const before = w.store.get(NS, LEASE);
    const mark = a.client.calls.length;
    await Promise.all([a.elector.resign(), w.clock.advance(1_000)]);
    expect(a.elector.isLeader()).toBe(false);
    // One compare-and-swap refused (409), one read showing z, and no write over z's record.
    expect(a.client.calls.slice(mark).map((c) => c.verb).filter((v) => v !== 'recordEvent')).toEqual(['update', 'get']);
    const after = w.store.get(NS, LEASE);
    expect(after.spec).toEqual(before.spec);
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    await a.stop();
  });

  it('a release whose own renewal landed without an answer still releases (its re-read names it), and a watcher takes it with one write', async () => {
    const w = world(96);
    let drop = false;
    const a = w.replica('a', { client: { fault: (call) => (drop && call.verb === 'update' ? ((drop = false), { kind: 'drop-response' }) : undefined) } });
    const { replica: b, client: bc } = scripted(w, 'b');
    await ledBy(w, a, [b]);
    drop = true;
    expect(await w.clock.advanceUntil(() => !drop, 3_000, 10)).toBe(true); // a renewal committed, its answer lost
    await w.clock.advance(10);
    const mark = bc.inner.calls.length;
    const transitions = storeSpec(w).leaseTransitions!;
    void a.elector.resign();
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 12_000, 1)).toBe(true);
    expect(leaders([a, b])).toEqual(['b']);
    expect(bc.requestsSince(mark).filter((v) => v === 'update')).toEqual(['update']);
    expect(storeSpec(w).holderIdentity).toBe('b');
    expect(storeSpec(w).leaseTransitions).toBe(transitions + 1);
    await runChecked(w.clock, [a, b], 5_000, 10);
    await a.stop();
    await b.stop();
  });
});

describe('CAS handover probes: three followers racing for a release', () => {
  it('exactly one takes it with a token one above, and each loser sends exactly one write', async () => {
    const w = world(97);
    const a = w.replica('a');
    const fs = ['b', 'c', 'd'].map((id, i) => w.replica(id, { config: { followerStrategy: 'watch' }, client: { latencyMs: 3 + i } }));
    await ledBy(w, a, fs);
    const transitions = storeSpec(w).leaseTransitions!;
    const marks = fs.map((f) => f.client.calls.length);
    void a.elector.resign();
    await runChecked(w.clock, [a, ...fs], 1_500, 1);
    const won = leaders([a, ...fs]);
    expect(won.length).toBe(1);
    const winner = fs.find((f) => f.id === won[0])!;
    expect(winner.elector.getTerm()!.token).toBe(transitions + 1);
    expect(storeSpec(w).holderIdentity).toBe(winner.id);
    fs.forEach((f, i) => expect(f.client.calls.slice(marks[i]).filter((c) => c.verb === 'update').length).toBe(1));
    for (const f of fs) expect(f.elector.getLeader()).toBe(winner.id);
    await runChecked(w.clock, [a, ...fs], 10_000, 10);
    expect(leaders([a, ...fs])).toEqual([winner.id]);
    for (const r of [a, ...fs]) await r.stop();
  });
});

describe('CAS handover probes: request pace while every write fails', () => {
  it.each([
    [500, 'InternalError'],
    [409, 'Conflict'],
    [403, 'Forbidden'],
  ])('a watching follower facing %i on every write of a free lease tries at most once per retry period', async (code, reason) => {
    const w = world(98);
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 } });
    const { replica: b, client: bc } = scripted(w, 'b', (call) =>
      call.verb === 'update' ? { kind: 'error', error: new ApiError(makeStatus(code, reason, 'refused')) } : undefined,
    );
    b.start();
    await w.clock.advance(60_000);
    expect(b.elector.isLeader()).toBe(false);
    const times = bc.updateTimes();
    expect(times.length).toBeGreaterThanOrEqual(2);
    // client-go: one try per [R, 2.2R) after a failure; never two writes closer than R.
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(2_000);
    expect(times.length).toBeLessThanOrEqual(1 + 60_000 / 2_000);
    // No read storm either: at most one read per write.
    expect(bc.inner.verbs().filter((v) => v === 'get').length).toBeLessThanOrEqual(times.length + 1);
    expect(storeSpec(w).holderIdentity).toBe('');
    await b.stop();
  });
});

describe('CAS handover probes: someone keeps rewriting a free record', () => {
  it('keeps client-go’s pace: a 409 followed by another free record is no winner, so it backs off', async () => {
    const w = world(99);
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 3 } });
    const b = w.replica('b', { config: { followerStrategy: 'watch' }, client: { latencyMs: 10 } });
    b.start();
    // An outsider rewrites the free record every 5 ms for 10 s: every write b sends loses with a 409.
    for (let i = 0; i < 2000; i++) {
      await w.clock.advance(5);
      const current = w.store.get(NS, LEASE);
      if (current.spec?.holderIdentity !== '') break;
      w.store.update(NS, LEASE, { ...current, spec: { ...current.spec, renewTime: formatMicroTime(w.clock.wallNow()) } });
    }
    const writes = b.client.calls.filter((c) => c.verb === 'update' || c.verb === 'create').map((c) => c.atMs);
    const gaps = writes.slice(1).map((t, i) => t - writes[i]!);
    // client-go: one try per [R, 2.2R) after a failure (R = 2 s): at most 1 + 10 s / 2 s tries.
    expect(writes.length).toBeGreaterThanOrEqual(2);
    expect(writes.length).toBeLessThanOrEqual(6);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(2_000);
    expect(b.elector.isLeader()).toBe(false);
    await b.stop();
  });
});
