/**
 * Fresh-eyes probes of the handover annotation (`leasekit.io/handover-from`, records.ts
 * withoutStaleHandover, commit 02ecedc): a write over a record that names another replica drops
 * it; the handover target's own take and renewals keep it; so it is present only while the record
 * names the target of the handover it names, and a set view reads a change of holder as a
 * handover exactly when it is one. Every write path: the slow path (GET + PUT), the watch fast
 * path, release, resign without `to`, a preferredHolder yield, a handover whose answer was lost,
 * a target whose writes fail, a client-go replica that keeps annotations. Each probe checks the
 * stored records (every write the store published) and what a SetView fed from the store reads.
 */
import { describe, expect, it } from '@jest/globals';
import { freeLease, LEASE, ledBy, NS, runChecked, world, type Replica } from './__tests__/harness.js';
import { ApiError, makeStatus } from './errors.js';
import type { Lease } from './lease.js';
import { MEMBER_OF_LABEL, membershipLeaseName } from './membership.js';
import { formatMicroTime } from './record.js';
import { HANDOVER_ANNOTATION } from './records.js';
import { SetView } from './sharding/set-view.js';
import type { Fault, MemoryCall } from './testing/memory-lease-client.js';

const D = 15_000;
const SET = 'work';
type World = ReturnType<typeof world>;

const internalError = (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(500, 'InternalError', 'Internal error occurred: etcd leader changed')) });
const leaders = (rs: Replica[]): string[] => rs.filter((r) => r.elector.isLeader()).map((r) => r.id);
const annotation = (w: World): string | undefined => w.store.get(NS, LEASE).metadata?.annotations?.[HANDOVER_ANNOTATION];
const holder = (w: World): string | undefined => w.store.get(NS, LEASE).spec?.holderIdentity ?? undefined;
/** The stored record's holder and handover annotation. */
const record = (w: World): { holder: string | undefined; from: string | undefined } => ({ holder: holder(w), from: annotation(w) });
/** What `tap(...).flags()` reads after a clean handover: nothing. */
const NOTHING_FLAGGED = { stale: [], suspected: [], backedOff: [] };

/** One published write of the Lease: its holder and handover annotation. */
interface Write {
  holder: string;
  from: string | undefined;
}

/**
 * Taps the store: every write of the Lease, and a SetView of the one-shard set [LEASE] fed from
 * the same events, with `members` as members (membership Leases fed once, so a failed handover
 * to one of them backs it off).
 */
function tap(w: World, members: string[]) {
  const writes: Write[] = [];
  const view = new SetView(SET, [LEASE], 'observer', D);
  for (const id of members) {
    const renewTime = formatMicroTime(w.clock.wallNow());
    const lease: Lease = { metadata: { name: membershipLeaseName(SET, id), uid: `${id}-1`, annotations: { [MEMBER_OF_LABEL]: SET } }, spec: { holderIdentity: id, leaseDurationSeconds: 3_600, renewTime } };
    view.observe(membershipLeaseName(SET, id), lease, w.clock.now(), w.clock.wallNow());
  }
  const handle = w.store.watch({ namespace: NS }, (e) => {
    const lease = e.object as Lease;
    if (lease.metadata?.name !== LEASE) return;
    const deleted = e.type === 'DELETED';
    writes.push({ holder: deleted ? '(deleted)' : (lease.spec?.holderIdentity ?? ''), from: deleted ? undefined : lease.metadata?.annotations?.[HANDOVER_ANNOTATION] });
    view.observe(LEASE, deleted ? undefined : lease, w.clock.now(), w.clock.wallNow());
  });
  return {
    writes,
    stop: () => handle.stop(),
    suspected: (): string[] => view.suspected(w.clock.now(), Infinity),
    backedOff: (): string[] => view.backedOffMembers(w.clock.now()),
    /** Writes carrying an annotation that does not name the giver of a handover to the record's holder (see the file header). */
    stale: (): string[] => staleWrites(writes),
    /** All the view and the writes flag now: stale annotations, suspected and backed-off members. */
    flags: () => ({ stale: staleWrites(writes), suspected: view.suspected(w.clock.now(), Infinity), backedOff: view.backedOffMembers(w.clock.now()) }),
    /** The writes as `holder<-from` (from: '-' when none), consecutive repeats (renewals) collapsed. */
    story: (): string[] => writes.map((x) => `${x.holder}<-${x.from ?? '-'}`).filter((s, i, all) => i === 0 || s !== all[i - 1]),
  };
}

/**
 * The writes that break "present only while the record names the target of the handover it
 * names": a handover is the write whose annotation names the previous holder (the giver) and
 * whose holder is someone else (the target); until the next handover, a write carrying the
 * annotation must name that target.
 */
function staleWrites(writes: readonly Write[]): string[] {
  const stale: string[] = [];
  let previous = '';
  let target: string | undefined;
  writes.forEach((x, i) => {
    if (x.from === undefined) target = undefined;
    else if (x.from === previous && x.holder !== x.from) target = x.holder;
    else if (x.holder !== target) stale.push(`write ${i}: holder ${JSON.stringify(x.holder)} with ${HANDOVER_ANNOTATION}: ${x.from}${target !== undefined ? ` (handed to ${target})` : ''}`);
    previous = x.holder === '(deleted)' ? '' : x.holder;
  });
  return stale;
}

const watching = { config: { followerStrategy: 'watch' as const } };

/** Every request of `r` fails while `failing()` (a partitioned node). */
function partitionable(failing: () => boolean) {
  return { client: { fault: (call: MemoryCall): Fault | undefined => (failing() && call.verb !== 'recordEvent' ? internalError() : undefined) } };
}

describe('the handover annotation: the target keeps it, every other take drops it', () => {
  it('a watching target takes it (one write) and keeps it through its renewals; after it crashes, a watching follower takes over by expiry (watch fast path) and drops it; the view suspects the target and backs off no one', async () => {
    const w = world(301);
    freeLease(w);
    let xDown = false;
    const a = w.replica('a', watching);
    const x = w.replica('x', { ...watching, ...partitionable(() => xDown) });
    const c = w.replica('c', watching);
    const t = tap(w, ['a', 'c', 'x']);
    await ledBy(w, a, [x, c]);
    await a.elector.resign({ to: 'x' });
    expect(await w.clock.advanceUntil(() => x.elector.isLeader(), 1_000, 1)).toBe(true);
    await runChecked(w.clock, [a, x, c], 2 * D, 10);
    const whileTargetLeads = record(w);
    xDown = true;
    expect(await w.clock.advanceUntil(() => leaders([a, c]).length === 1, 3 * D, 10)).toBe(true);
    await runChecked(w.clock, [a, c], 2 * D, 10);
    const taker = leaders([a, c])[0];
    expect({ whileTargetLeads, after: record(w), ...t.flags() }).toEqual({
      whileTargetLeads: { holder: 'x', from: 'a' },
      after: { holder: taker, from: undefined },
      stale: [],
      suspected: ['x'],
      backedOff: [],
    });
    t.stop();
    xDown = false;
    for (const r of [a, x, c]) await r.stop();
  });

  it('a record handed to a replica that never takes it is taken over by expiry by a watching follower (one write, no GET) without the annotation; the view backs the target off and suspects no one else', async () => {
    const w = world(302);
    freeLease(w);
    const a = w.replica('a', watching);
    const c = w.replica('c', watching);
    const t = tap(w, ['a', 'c', 'ghost']);
    await ledBy(w, a, [c]);
    await a.elector.resign({ to: 'ghost' });
    const marks = [a, c].map((r) => r.client.calls.length);
    expect(await w.clock.advanceUntil(() => leaders([a, c]).length === 1, 3 * D, 10)).toBe(true);
    const taker = [a, c].find((r) => r.elector.isLeader())!;
    const takerVerbs = taker.client.calls.slice(marks[[a, c].indexOf(taker)]).map((call) => call.verb).filter((v) => v === 'get' || v === 'update');
    const backedOff = t.backedOff(); // for one lease duration from the takeover
    await runChecked(w.clock, [a, c], D, 10);
    expect({ takerVerbs, ...record(w), stale: t.stale(), suspected: t.suspected(), backedOff }).toEqual({
      takerVerbs: ['update'],
      holder: taker.id,
      from: undefined,
      stale: [],
      suspected: ['ghost'],
      backedOff: ['ghost'],
    });
    t.stop();
    await a.stop();
    await c.stop();
  });

  it('a chain a -> x -> a: each record names its own giver while its target holds it; when a crashes, a polling follower (GET + PUT) drops it and the view suspects a', async () => {
    const w = world(303);
    freeLease(w);
    let aDown = false;
    const a = w.replica('a', partitionable(() => aDown));
    const x = w.replica('x', watching);
    const c = w.replica('c');
    const t = tap(w, ['a', 'c', 'x']);
    await ledBy(w, a, [x, c]);
    await a.elector.resign({ to: 'x' });
    expect(await w.clock.advanceUntil(() => x.elector.isLeader(), 1_000, 1)).toBe(true);
    await runChecked(w.clock, [a, x, c], 5_000, 10);
    await x.elector.resign({ to: 'a' });
    // a polls: it takes the record naming it at its next poll.
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 3 * D, 10)).toBe(true);
    await runChecked(w.clock, [a, x, c], 2 * D, 10);
    const aLeads = record(w);
    aDown = true;
    expect(await w.clock.advanceUntil(() => leaders([x, c]).length === 1, 4 * D, 10)).toBe(true);
    const taker = leaders([x, c])[0];
    expect({ aLeads, story: t.story().slice(-3), ...t.flags() }).toEqual({
      aLeads: { holder: 'a', from: 'x' },
      story: ['x<-a', 'a<-x', `${taker}<--`],
      stale: [],
      suspected: ['a'],
      backedOff: [],
    });
    t.stop();
    aDown = false;
    for (const r of [a, x, c]) await r.stop();
  });
});

describe('the handover annotation on other write paths', () => {
  it('a target that resigns without `to` (release) leaves a free record without the annotation, and the next taker writes none', async () => {
    const w = world(304);
    freeLease(w);
    const a = w.replica('a');
    const x = w.replica('x', watching);
    const t = tap(w, ['a', 'x']);
    await ledBy(w, a, [x]);
    await a.elector.resign({ to: 'x' });
    expect(await w.clock.advanceUntil(() => x.elector.isLeader(), 1_000, 1)).toBe(true);
    await runChecked(w.clock, [a, x], 5_000, 10);
    await x.elector.resign();
    const released = record(w);
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 3 * D, 10)).toBe(true);
    expect({ released, taken: record(w), stale: t.stale(), suspected: t.suspected() }).toEqual({
      released: { holder: '', from: undefined },
      taken: { holder: 'a', from: undefined },
      stale: [],
      suspected: [],
    });
    t.stop();
    await a.stop();
    await x.stop();
  });

  it('a preferredHolder yield (an operator names y on a\'s record) writes a handover naming a; y keeps it; the view reads a handover', async () => {
    const w = world(305);
    freeLease(w);
    const a = w.replica('a');
    const y = w.replica('y', watching);
    const t = tap(w, ['a', 'y']);
    await ledBy(w, a, [y]);
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: 'y' } });
    expect(await w.clock.advanceUntil(() => y.elector.isLeader(), 3 * D, 10)).toBe(true);
    await runChecked(w.clock, [a, y], 2 * D, 10);
    expect({ ...record(w), ...t.flags() }).toEqual({
      holder: 'y',
      from: 'a',
      ...NOTHING_FLAGGED,
    });
    t.stop();
    await a.stop();
    await y.stop();
  });

  it('a handover whose answer was lost (committed) is not written again, and a target whose take\'s answer was lost takes it again keeping the annotation; the view reads one handover', async () => {
    const w = world(306);
    freeLease(w);
    let loseA = false;
    let loseX = 0;
    const a = w.replica('a', { client: { fault: (call) => (loseA && call.verb === 'update' ? ((loseA = false), { kind: 'drop-response' }) : undefined) } });
    const x = w.replica('x', { client: { fault: (call) => (loseX > 0 && call.verb === 'update' ? (loseX--, { kind: 'drop-response' }) : undefined) } });
    const t = tap(w, ['a', 'x']);
    await ledBy(w, a, [x]);
    loseA = true;
    loseX = 1;
    let resigned = false;
    void a.elector.resign({ to: 'x' }).then(() => (resigned = true));
    expect(await w.clock.advanceUntil(() => resigned, 2 * D, 10)).toBe(true);
    const handed = record(w);
    expect(await w.clock.advanceUntil(() => x.elector.isLeader(), 3 * D, 10)).toBe(true);
    await runChecked(w.clock, [a, x], 2 * D, 10);
    const handovers = t.writes.filter((wr, i) => wr.from !== undefined && wr.from === (t.writes[i - 1]?.holder ?? '') && wr.holder !== wr.from).length;
    expect({ answersLost: !loseA && loseX === 0 }).toEqual({ answersLost: true });
    expect({ handed, ...record(w), handovers, ...t.flags() }).toEqual({
      handed: { holder: 'x', from: 'a' },
      holder: 'x',
      from: 'a',
      handovers: 1,
      ...NOTHING_FLAGGED,
    });
    t.stop();
    await a.stop();
    await x.stop();
  });

  it('a target whose writes fail until a watching follower took the record over by expiry: no annotation on the follower\'s record, none after the target recovers; the view backs the target off', async () => {
    const w = world(307);
    freeLease(w);
    let xFails = false;
    const a = w.replica('a');
    const x = w.replica('x', { ...watching, client: { fault: (call) => (xFails && (call.verb === 'update' || call.verb === 'create') ? internalError() : undefined) } });
    const c = w.replica('c', watching);
    const t = tap(w, ['a', 'c', 'x']);
    await ledBy(w, a, [x, c]);
    xFails = true;
    await a.elector.resign({ to: 'x' });
    expect(await w.clock.advanceUntil(() => leaders([a, c]).length === 1, 3 * D, 10)).toBe(true);
    const backedOff = t.backedOff(); // for one lease duration from the takeover
    xFails = false;
    await runChecked(w.clock, [a, x, c], 2 * D, 10);
    expect({ holderIsNotX: holder(w) !== 'x', from: annotation(w), stale: t.stale(), backedOff, xLeads: x.elector.isLeader() }).toEqual({
      holderIsNotX: true,
      from: undefined,
      stale: [],
      backedOff: ['x'],
      xLeads: false,
    });
    t.stop();
    for (const r of [a, x, c]) await r.stop();
  });

  it('a client-go replica that keeps annotations takes over a record handed to a dead target: the view suspects the target, not the giver; the giver (leasekit) taking it back from the client-go replica drops the annotation', async () => {
    const w = world(308);
    freeLease(w);
    const a = w.replica('a');
    const t = tap(w, ['a', 'g', 'x']);
    await ledBy(w, a, []);
    await a.elector.resign({ to: 'x', cooldownMs: 10 * D });
    // client-go's tryAcquireOrRenew after the lease expired (it polls): GET, then PUT with the spec replaced and metadata kept.
    await w.clock.advance(D + 2_000);
    const handed = w.store.get(NS, LEASE);
    const now = formatMicroTime(w.clock.wallNow());
    w.store.update(NS, LEASE, { ...handed, spec: { ...handed.spec, holderIdentity: 'g', acquireTime: now, renewTime: now, leaseTransitions: (handed.spec?.leaseTransitions ?? 0) + 1 } });
    await w.clock.advance(0);
    const byClientGo = { suspected: t.suspected(), backedOff: t.backedOff() };
    // g stops renewing; a's cooldown ends and it takes the expired record over.
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 12 * D, 10)).toBe(true);
    expect({ byClientGo, after: record(w), suspected: t.suspected() }).toEqual({
      byClientGo: { suspected: ['x'], backedOff: ['x'] },
      after: { holder: 'a', from: undefined },
      suspected: ['g', 'x'],
    });
    t.stop();
    await a.stop();
  });
});
