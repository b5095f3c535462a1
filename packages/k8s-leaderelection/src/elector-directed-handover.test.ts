/**
 * Directed handover: `resign({ to })` ends the term, then writes a record naming the target; the
 * target takes it at once (a watcher with one write, a poller at its next poll), everyone else
 * waits one lease duration. Also: a preferredHolder naming another replica makes the leader hand
 * over (client-go's coordinated election). Fake clock, in-memory store.
 */
import { describe, expect, it } from '@jest/globals';
import { freeLease, LEASE, ledBy, NS, runChecked, world, type Replica } from './__tests__/harness.js';
import { goFollower } from './__tests__/go-follower.js';
import { HANDOVER_ANNOTATION } from './elector.js';
import { ApiError, makeStatus } from './errors.js';
import { MAX_INT32 } from './record.js';
import type { Fault } from './testing/memory-lease-client.js';

const D = 15_000;
const internalError = (): Fault => ({ kind: 'error', error: new ApiError(makeStatus(500, 'InternalError', 'Internal error occurred: etcd leader changed')) });

/** The verbs `r` sent from call index `from` on, watches and Events left out. */
function requestsSince(r: Replica, from: number): string[] {
  return r.client.calls.slice(from).map((c) => c.verb).filter((v) => v !== 'watch' && v !== 'recordEvent');
}

const leaders = (rs: Replica[]): string[] => rs.filter((r) => r.elector.isLeader()).map((r) => r.id);

describe('Elector.resign({ to }): validation', () => {
  it('rejects an empty target, a non-string one and this replica itself with OPTION_INVALID naming `to`, and resolves at once when not leading', async () => {
    const w = world(81);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b');
    await expect(a.elector.resign({ to: '' })).rejects.toMatchObject({ code: 'OPTION_INVALID', field: 'to' });
    await expect(a.elector.resign({ to: 42 as unknown as string })).rejects.toMatchObject({ code: 'OPTION_INVALID', field: 'to' });
    await expect(a.elector.resign({ to: 'a' })).rejects.toMatchObject({ code: 'OPTION_INVALID', field: 'to' });
    await expect(b.elector.resign({ to: 'a' })).resolves.toBeUndefined(); // not running, not leading
    a.start();
    await w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    // A leader too: an invalid target leaves it leading.
    await expect(a.elector.resign({ to: 'a' })).rejects.toMatchObject({ code: 'OPTION_INVALID', field: 'to' });
    await w.clock.advance(5_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.client.calls).toEqual([]);
    await a.stop();
  });
});

describe('Elector.resign({ to }): a watching target', () => {
  it('ends the term first (handed_over), then one write names the target, which leads after one write of its own; the others never lead', async () => {
    const w = world(82);
    freeLease(w);
    const seenInStop: string[] = [];
    const a = w.replica('a', {
      callbacks: {
        onStoppedLeading: () => {
          // The term has ended (isLeader false, signal aborted) before the Lease changes.
          seenInStop.push(`${String(a.elector.isLeader())} ${String(w.store.get(NS, LEASE).spec?.holderIdentity)}`);
        },
      },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const c = w.replica('c', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b, c]);
    const marks = new Map([a, b, c].map((r) => [r.id, r.client.calls.length]));
    const tokenA = a.log.started[0]!.term.token;

    let resolved = false;
    void a.elector.resign({ to: 'b' }).then(() => (resolved = true));
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 1_000, 1)).toBe(true);
    expect(resolved).toBe(true);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['handed_over']);
    expect(a.log.started[0]!.signal.aborted).toBe(true);
    expect(seenInStop).toEqual(['false a']);
    // The old leader: one write over its own last one (no GET); the target: one write, no GET.
    expect(requestsSince(a, marks.get('a')!)).toEqual(['update']);
    expect(requestsSince(b, marks.get('b')!)).toEqual(['update']);
    expect(requestsSince(c, marks.get('c')!)).toEqual([]);
    // No herd jitter: the target took over at the instant of the handover (zero latency in memory).
    expect(b.log.started[0]!.atMs).toBe(a.log.stopped[0]!.atMs);
    // Tokens: the handover record carries a's token + 1, b's term the next one.
    expect(b.log.started[0]!.term.token).toBe(tokenA + 2);
    const lease = w.store.get(NS, LEASE);
    expect(lease.spec).toMatchObject({ holderIdentity: 'b', leaseDurationSeconds: 15, leaseTransitions: tokenA + 2 });
    expect(lease.metadata?.annotations?.[HANDOVER_ANNOTATION]).toBe('a');

    await runChecked(w.clock, [a, b, c], 60_000, 10);
    expect(leaders([a, b, c])).toEqual(['b']);
    expect(a.log.started).toHaveLength(1);
    expect(c.log.started).toEqual([]);
    await a.stop();
    await b.stop();
    await c.stop();
  });

  it('resolves after the handover write committed, with the record naming the target and the handover annotation', async () => {
    const w = world(83);
    freeLease(w);
    const a = w.replica('a');
    await ledBy(w, a, []);
    const done = a.elector.resign({ to: 'b' });
    await w.clock.advance(0);
    await done;
    const lease = w.store.get(NS, LEASE);
    expect(lease.spec?.holderIdentity).toBe('b');
    expect(lease.metadata?.annotations?.[HANDOVER_ANNOTATION]).toBe('a');
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.getLeader()).toBe('b');
    expect(a.log.newLeaders).toEqual(['a', 'b']);
    await a.stop();
  });
});

describe('Elector.resign({ to }): the handover annotation after the handover', () => {
  // A set view reads a change of holder as a handover only when the new record names the old
  // holder as its giver; an annotation left over from an earlier handover would make the takeover
  // of a crashed holder's shard read as a handover by it (a fresh-eyes probe, set-view-probes).
  it('is dropped by a takeover by expiry of a record handed to a replica that never took it, and by every later take', async () => {
    const w = world(85);
    freeLease(w);
    const a = w.replica('a');
    const c = w.replica('c');
    await ledBy(w, a, [c]);
    await a.elector.resign({ to: 'ghost' });
    expect(w.store.get(NS, LEASE).metadata?.annotations?.[HANDOVER_ANNOTATION]).toBe('a');
    expect(await w.clock.advanceUntil(() => leaders([a, c]).length === 1, 3 * D, 10)).toBe(true);
    const taken = w.store.get(NS, LEASE);
    expect(taken.spec?.holderIdentity).toBe(leaders([a, c])[0]);
    expect(taken.metadata?.annotations?.[HANDOVER_ANNOTATION]).toBeUndefined();
    // Its renewals write no annotation back.
    await runChecked(w.clock, [a, c], 2 * D, 10);
    expect(w.store.get(NS, LEASE).metadata?.annotations?.[HANDOVER_ANNOTATION]).toBeUndefined();
    await a.stop();
    await c.stop();
  });
});

describe('Elector.resign({ to }): a polling target', () => {
  it('takes it at its next poll (GET + PUT), before anyone else leads', async () => {
    const w = world(84);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b');
    const c = w.replica('c');
    await ledBy(w, a, [b, c]);
    const mark = b.client.calls.length;
    void a.elector.resign({ to: 'b' });
    await w.clock.advance(0);
    const handedAt = w.clock.now();
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 5_000, 10)).toBe(true);
    // At its next poll: within client-go's [R, 2.2R) of the handover at most.
    expect(w.clock.now() - handedAt).toBeLessThan(2.2 * 2_000 + 10);
    expect(requestsSince(b, mark)).toEqual(['get', 'update']);
    await runChecked(w.clock, [a, b, c], 60_000, 50);
    expect(leaders([a, b, c])).toEqual(['b']);
    expect(c.log.started).toEqual([]);
    await a.stop();
    await b.stop();
    await c.stop();
  });
});

describe('Elector.resign({ to }): a target that never takes it', () => {
  it('costs one lease duration: nobody leads before the handover record expired by their own observation, then one replica does', async () => {
    const w = world(85);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const c = w.replica('c');
    await ledBy(w, a, [b, c]);
    void a.elector.resign({ to: 'ghost' });
    await w.clock.advance(0);
    const handedAt = w.clock.now();
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('ghost');
    await runChecked(w.clock, [a, b, c], D - 50, 10);
    expect(leaders([a, b, c])).toEqual([]);
    await runChecked(w.clock, [a, b, c], 10_000, 10);
    const now = leaders([a, b, c]);
    expect(now).toHaveLength(1);
    const started = [a, b, c].flatMap((r) => r.log.started.slice(r === a ? 1 : 0));
    expect(started).toHaveLength(1);
    expect(started[0]!.atMs - handedAt).toBeGreaterThanOrEqual(D);
    await a.stop();
    await b.stop();
    await c.stop();
  });

  it('a handover write that fails leaves the Lease naming the old leader, which does not lead; it expires as after a failed release', async () => {
    const w = world(86);
    freeLease(w);
    let failWrites = false;
    const a = w.replica('a', { client: { fault: (call) => (failWrites && call.verb !== 'watch' ? internalError() : undefined) } });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b]);
    failWrites = true;
    let resolved = false;
    void a.elector.resign({ to: 'b' }).then(() => (resolved = true));
    expect(await w.clock.advanceUntil(() => resolved, 20_000, 10)).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('a');
    // b sees a live holder 'a' (its last renewal) and waits for it to expire; a stays out (cooldown).
    expect(b.elector.isLeader()).toBe(false);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), D + 5_000, 10)).toBe(true);
    expect(a.log.started).toHaveLength(1);
    failWrites = false;
    await runChecked(w.clock, [a, b], 10_000, 10);
    await a.stop();
    await b.stop();
  });
});

describe('Elector.resign({ to }): races', () => {
  it('a resign during a renewal in flight waits for its answer, then hands over with one write', async () => {
    const w = world(87);
    freeLease(w);
    const a = w.replica('a', { client: { latencyMs: 200 } });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    a.start();
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 1_000, 10)).toBe(true);
    b.start();
    await runChecked(w.clock, [a, b], 5_000, 10);
    // The next renewal is sent within R; catch it in flight.
    const renewals = a.client.calls.length;
    expect(await w.clock.advanceUntil(() => a.client.calls.length > renewals, 3_000, 1)).toBe(true);
    const mark = a.client.calls.length - 1;
    void a.elector.resign({ to: 'b' });
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 2_000, 1)).toBe(true);
    expect(requestsSince(a, mark)).toEqual(['update', 'update']); // the renewal, then the handover
    await runChecked(w.clock, [a, b], 20_000, 10);
    expect(leaders([a, b])).toEqual(['b']);
    await a.stop();
    await b.stop();
  });

  it('a write to the Lease between the term end and the handover costs one GET, and the handover still commits', async () => {
    const w = world(88);
    freeLease(w);
    const a = w.replica('a', {
      callbacks: {
        onStoppedLeading: () => {
          const lease = w.store.get(NS, LEASE);
          w.store.update(NS, LEASE, { ...lease, metadata: { ...lease.metadata, annotations: { note: 'a tool was here' } } });
        },
      },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b]);
    const mark = a.client.calls.length;
    void a.elector.resign({ to: 'b' });
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 1_000, 1)).toBe(true);
    expect(requestsSince(a, mark)).toEqual(['update', 'get', 'update']); // 409, read, write
    expect(w.store.get(NS, LEASE).metadata?.annotations).toMatchObject({ note: 'a tool was here', [HANDOVER_ANNOTATION]: 'a' });
    await a.stop();
    await b.stop();
  });

  it('a Lease someone else took between the term end and the handover is not written over', async () => {
    const w = world(89);
    freeLease(w);
    const a = w.replica('a', {
      callbacks: {
        onStoppedLeading: () => {
          const lease = w.store.get(NS, LEASE);
          w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: 'x', leaseDurationSeconds: 15 } });
        },
      },
    });
    await ledBy(w, a, []);
    const mark = a.client.calls.length;
    await Promise.all([a.elector.resign({ to: 'b' }), w.clock.advance(1_000)]);
    expect(requestsSince(a, mark)).toEqual(['update', 'get']);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('x');
    await a.stop();
  });
});

describe('Elector.resign({ to }): client-go followers', () => {
  it('the target never leads once a client-go follower that saw the handover record may take over', async () => {
    const w = world(90);
    freeLease(w);
    const config = { leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: 300 };
    let partitioned = false;
    const a = w.replica('a', { config });
    const b = w.replica('b', {
      config: { ...config, followerStrategy: 'watch' },
      client: { fault: (call) => (partitioned && call.verb !== 'watch' ? { kind: 'hang' } : undefined) },
      callbacks: { onStartedLeading: () => void (partitioned = true) }, // the take is its last write
    });
    const go = goFollower(w);
    await ledBy(w, a, [b]);
    void a.elector.resign({ to: 'b', cooldownMs: 60_000 });
    let violations = 0;
    for (let t = 0; t < 10_000; t += 10) {
      go.poll();
      if (b.elector.isLeader() && w.clock.now() >= go.observedAtMs() + go.durationMs()) violations++;
      await w.clock.advance(10);
    }
    expect(b.log.started).toHaveLength(1);
    expect(b.log.stopped.length).toBeGreaterThanOrEqual(1);
    expect(violations).toBe(0);
    partitioned = false;
    await a.stop();
    await b.stop();
  });

  /**
   * The probe for GuaranteeBase seeding. At the int32 token cap a take cannot raise the token, so
   * a take in the same wall second as the handover record looks the same to a client-go follower,
   * which keeps timing from when it saw the handover record. Here the target sees the handover
   * record at once on its watch but is still in its own cooldown (it handed the lease to the
   * leader a second earlier), so its one-write take is sent 0.4 s later, in the same second. Its
   * guarantee must count from when it first saw the record, not from that send: without the
   * seeding it leads ~0.34 s past the client-go follower's takeover time.
   */
  it("at the token cap, a take in the handover record's wall second counts from when the target first saw that record", async () => {
    const w = world(91);
    freeLease(w, MAX_INT32 - 2);
    // A renew deadline close to the lease duration: the guarantee, not the deadline, ends the term.
    const config = { leaseDurationMs: 2_000, renewDeadlineMs: 1_900, retryPeriodMs: 300, followerStrategy: 'watch' as const };
    let bTerms = 0;
    let partitioned = false;
    const a = w.replica('a', { config });
    const b = w.replica('b', {
      config,
      client: { fault: (call) => (partitioned && call.verb !== 'watch' ? { kind: 'hang' } : undefined) },
      // b's second term: its take is its last write (renewals hang), so its guarantee alone ends it.
      callbacks: { onStartedLeading: () => void (partitioned = ++bTerms === 2) },
    });
    const go = goFollower(w);
    await ledBy(w, b, [a]);
    const toNextSecond = (): number => 1_000 - (w.clock.wallNow() % 1_000) + 10;
    await w.clock.advance(toNextSecond());
    void b.elector.resign({ to: 'a', cooldownMs: 1_400 });
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 100, 1)).toBe(true);
    await w.clock.advance(toNextSecond());
    void a.elector.resign({ to: 'b', cooldownMs: 60_000 });
    const handedWallSecond = Math.floor(w.clock.wallNow() / 1_000);
    let violations = 0;
    for (let t = 0; t < 6_000; t += 5) {
      go.poll();
      if (b.elector.isLeader() && w.clock.now() >= go.observedAtMs() + go.durationMs()) violations++;
      await w.clock.advance(5);
    }
    expect(bTerms).toBe(2);
    const taken = w.store.get(NS, LEASE).spec!;
    expect(taken.holderIdentity).toBe('b');
    expect(taken.leaseTransitions).toBe(MAX_INT32);
    // The precondition of the probe: the take fell in the handover record's wall second.
    expect(Math.floor(Date.parse(taken.renewTime!) / 1_000)).toBe(handedWallSecond);
    expect(violations).toBe(0);
    partitioned = false;
    await a.stop();
    await b.stop();
  });
});

describe('preferredHolder (client-go coordinated leader election)', () => {
  it('a leader whose Lease names another preferredHolder stops renewing and hands the lease to it; the preferred holder keeps it', async () => {
    const w = world(92);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    const c = w.replica('c');
    await ledBy(w, a, [b, c]);
    // The coordinated election controller (here: by hand) marks b as the preferred holder.
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: 'b' } });
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 5_000, 10)).toBe(true);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['handed_over']);
    expect(w.store.get(NS, LEASE).spec).toMatchObject({ holderIdentity: 'b', strategy: 'OldestEmulationVersion', preferredHolder: 'b' });
    await runChecked(w.clock, [a, b, c], 60_000, 50);
    expect(leaders([a, b, c])).toEqual(['b']);
    expect(b.log.stopped).toEqual([]);
    await a.stop();
    await b.stop();
    await c.stop();
  });

  it('a leader yielding to a preferredHolder the coordinator wrote logs no warning: its renewal conflicting with that write is expected', async () => {
    const w = world(93);
    freeLease(w);
    const warnings: string[] = [];
    const infos: string[] = [];
    const logger = { debug: () => undefined, info: (message: string) => void infos.push(message), warn: (message: string) => void warnings.push(message), error: (message: string) => void warnings.push(message) };
    const a = w.replica('a', { logger });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b]);
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: 'b' } });
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 5_000, 10)).toBe(true);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['handed_over']);
    // The conflict happened (the leader's renewal raced the coordinator's write) and is reported ...
    expect(infos.filter((m) => m.startsWith('Renewal conflicted'))).toHaveLength(1);
    // ... and is no warning: the handover that follows is the outcome the operator asked for.
    expect(warnings).toEqual([]);
    await a.stop();
    await b.stop();
  });

  it('a preferred holder that never takes the lease costs one lease duration; the next leader drops the preference and keeps leading', async () => {
    const w = world(94);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b');
    await ledBy(w, a, [b]);
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: 'ghost' } });
    expect(await w.clock.advanceUntil(() => !a.elector.isLeader(), 5_000, 10)).toBe(true);
    const handedAt = w.clock.now();
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('ghost');
    await runChecked(w.clock, [a, b], D - 100, 10);
    expect(leaders([a, b])).toEqual([]);
    await runChecked(w.clock, [a, b], 10_000, 10);
    const [next] = leaders([a, b]);
    expect(next).toBeDefined();
    const first = [a, b].flatMap((r) => r.log.started.slice(r === a ? 1 : 0))[0]!;
    expect(first.atMs - handedAt).toBeGreaterThanOrEqual(D);
    expect(w.store.get(NS, LEASE).spec?.preferredHolder ?? undefined).toBeUndefined();
    // No churn: the next leader keeps the lease.
    await runChecked(w.clock, [a, b], 60_000, 50);
    expect(leaders([a, b])).toEqual([next]);
    expect(a.log.started.length + b.log.started.length).toBe(2);
    await a.stop();
    await b.stop();
  });

  it('a replica that acquires an expired record preferring someone else drops the preferredHolder (keeping the strategy) and keeps leading', async () => {
    const w = world(93);
    w.store.create(NS, {
      metadata: { name: LEASE },
      spec: { holderIdentity: 'gone', leaseDurationSeconds: 1, leaseTransitions: 2, strategy: 'OldestEmulationVersion', preferredHolder: 'ghost' },
    });
    const c = w.replica('c');
    c.start();
    expect(await w.clock.advanceUntil(() => c.elector.isLeader(), 10_000, 10)).toBe(true);
    const spec = w.store.get(NS, LEASE).spec!;
    expect(spec.strategy).toBe('OldestEmulationVersion');
    expect(spec.preferredHolder ?? undefined).toBeUndefined();
    await w.clock.advance(60_000);
    expect(c.elector.isLeader()).toBe(true);
    expect(c.log.stopped).toEqual([]);
    await c.stop();
  });
});

describe('Elector: a stale claim marker on the Lease (found by the simulator, seed 423)', () => {
  const R = 2_000; // the harness's retry period (client-go's default)
  const CLAIM = 'leasekit.io/claim';

  /**
   * The Lease as a client-go replica ('go') leaves it: it took over b's old claim and, keeping
   * every annotation, still carries b's claim marker; then it released the Lease.
   */
  function releasedByClientGo(w: ReturnType<typeof world>, marker: string): void {
    w.store.create(NS, { metadata: { name: LEASE, annotations: { [CLAIM]: marker } }, spec: { holderIdentity: 'go', leaseDurationSeconds: 15, leaseTransitions: 4 } });
  }
  function clientGoReleases(w: ReturnType<typeof world>): void {
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } });
  }

  it('a watching target takes a handover at once although the Lease carried an old claim marker naming it', async () => {
    const w = world(95);
    releasedByClientGo(w, 'b');
    const a = w.replica('a', { config: { followerStrategy: 'watch' } });
    a.start();
    await runChecked(w.clock, [a], 5_000, 10);
    clientGoReleases(w);
    // a takes the released record it saw on its watch, with one write and no GET.
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 1_000, 1)).toBe(true);
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    b.start();
    await runChecked(w.clock, [a, b], 5_000, 10);
    expect(leaders([a, b])).toEqual(['a']);

    void a.elector.resign({ to: 'b' });
    const handedAt = w.clock.now();
    // Without the fix the handover record named b and still carried b's marker: b read it as its
    // own pending claim and led only after the lease duration (15 s).
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 2 * R, 1)).toBe(true);
    expect(w.clock.now() - handedAt).toBeLessThan(R);
    expect(w.store.get(NS, LEASE).metadata?.annotations?.[CLAIM]).toBeUndefined();
    await runChecked(w.clock, [a, b], 30_000, 10);
    expect(leaders([a, b])).toEqual(['b']);
    await a.stop();
    await b.stop();
  });

  it('the handover record drops a claim marker naming the target that was written onto the Lease after the last renewal', async () => {
    const w = world(96);
    freeLease(w);
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b]);
    // Another writer (a tool that keeps annotations) leaves b's marker on a's record right
    // before the handover: a's first write conflicts, it reads the Lease again and writes over it.
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [CLAIM]: 'b' } } });
    void a.elector.resign({ to: 'b' });
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 2 * R, 1)).toBe(true);
    const after = w.store.get(NS, LEASE);
    expect(after.spec?.holderIdentity).toBe('b');
    expect(after.metadata?.annotations?.[CLAIM]).toBeUndefined();
    await a.stop();
    await b.stop();
  });

  it('a term taken on the watch over a record carrying its own old claim marker is a plain term: followers announce it, and a failed renewal does not end it', async () => {
    const w = world(97);
    releasedByClientGo(w, 'a');
    let failNextRenewal = false;
    const a = w.replica('a', {
      config: { followerStrategy: 'watch' },
      client: {
        fault: (call) => {
          if (!failNextRenewal || call.verb !== 'update') return undefined;
          failNextRenewal = false;
          return internalError();
        },
      },
    });
    a.start();
    await runChecked(w.clock, [a], 5_000, 10);
    clientGoReleases(w);
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 1_000, 1)).toBe(true);
    expect(w.store.get(NS, LEASE).metadata?.annotations?.[CLAIM]).toBeUndefined();
    // A follower started now announces a as the leader (a claim would not be announced).
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    b.start();
    await runChecked(w.clock, [a, b], 1_000, 10);
    expect(b.log.newLeaders).toEqual(['a']);
    // One failed renewal: the slow path reads a's own record (not a claim of a's) and renews it.
    failNextRenewal = true;
    await runChecked(w.clock, [a, b], 30_000, 10);
    expect(failNextRenewal).toBe(false);
    expect(a.log.stopped).toEqual([]);
    expect(leaders([a, b])).toEqual(['a']);
    await a.stop();
    await b.stop();
  });
});
