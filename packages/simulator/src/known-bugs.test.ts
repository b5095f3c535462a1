/**
 * Minimized cases of elector bugs the simulator found: `it` for fixed ones, kept as regression
 * tests (each failed before its fix); `it.failing` while a bug is open.
 */
import { describe, expect, it } from '@jest/globals';
import { Elector, type LeaderCallbacks } from '@leasekit/k8s-leaderelection';
import { FakeClock, LeaseStore, MemoryLeaseClient, leaseErrors, seededRandom } from '@leasekit/k8s-leaderelection/testing';
import { ReplicaClock } from './replica-clock.js';
import { SimClient } from './sim-client.js';

const TIMING = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 800 } as const;

interface Proc {
  id: string;
  clock: ReplicaClock;
  elector: Elector;
  stop: AbortController;
  done?: Promise<void>;
}

describe('elector bugs the simulator found (fixed; seeds in docs/reliability.md)', () => {
  // Found as S2/S3 violations in sweeps with the pause-in-flight fault, e.g. `pnpm sim --seed 3 --minutes 3`.
  // b's acquiring PUT commits; b's process is paused before it handles the answer; the lease
  // expires and c takes over; b resumes and handles the (successful) answer. Before the fix,
  // wrote() refused late answers only while leading, so lead() called onStartedLeading with a live
  // signal and a stale token while c led.
  it('never calls onStartedLeading with a live signal for an acquisition answered after its guarantee ran out', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    store.create('default', { metadata: { name: 'l' }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 } });
    const starts: { id: string; signalLive: boolean; otherLeaders: string[] }[] = [];
    const procs: Proc[] = [];
    const make = (id: string, pauseOnFirstWrite: boolean): Proc => {
      const rc = new ReplicaClock(clock);
      let armed = pauseOnFirstWrite;
      const memory = new MemoryLeaseClient(store, {
        clock,
        fault: (call) => {
          if (armed && call.verb === 'update') {
            armed = false;
            rc.pause(); // the process stops while its write is at the server
          }
          return undefined;
        },
      });
      const proc: Proc = { id, clock: rc, stop: new AbortController(), elector: undefined as unknown as Elector };
      const callbacks: LeaderCallbacks = {
        onStartedLeading: (signal) => {
          starts.push({ id, signalLive: !signal.aborted, otherLeaders: procs.filter((p) => p !== proc && p.elector.isLeader()).map((p) => p.id) });
        },
      };
      proc.elector = new Elector(
        { identity: id, leaseName: 'l', leaseNamespace: 'default', ...TIMING, clock: rc, random: seededRandom(id.charCodeAt(0)), followerStrategy: 'poll' },
        new SimClient(memory, rc, { responseLatencyMs: () => 5 }),
        callbacks,
        {},
      );
      procs.push(proc);
      return proc;
    };
    const b = make('b', true);
    const c = make('c', false);
    b.done = b.elector.run(b.stop.signal);
    await clock.advance(1_000);
    c.done = c.elector.run(c.stop.signal);
    await clock.advance(12_000);
    expect(c.elector.isLeader()).toBe(true);
    b.clock.resume();
    await clock.advance(50);

    const lateStarts = starts.filter((s) => s.id === 'b');
    for (const p of procs) p.stop.abort();
    await clock.advance(30_000);
    await Promise.all(procs.map((p) => p.done));
    // Wanted: b does not start a term at all (or at least not with a live signal while c leads).
    expect(lateStarts.filter((s) => s.signalLive && s.otherLeaders.length > 0)).toEqual([]);
  });
});

describe('elector bugs the simulator found with the issue 11 checks (fixed)', () => {
  // Found as B (request budget) violations in `pnpm sim --seeds 1000 --minutes 10` (seeds 225, 636
  // and 677 with the elector of 2026-11-27 13:45): a leader shuts down gracefully while every write
  // gets 409 (an API episode); release() read the Lease, found its own name, PUT, got 409 and
  // retried at once until the renew deadline: a GET and a PUT every ~10 ms (about 600 requests
  // here). Fixed by the elector's owner: after a second conflict, one try per retry period.
  it('releases with at most one try per retry period when every write conflicts', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    store.create('default', { metadata: { name: 'l' } }); // free: it leads at once
    let conflicting = false;
    const memory = new MemoryLeaseClient(store, {
      clock,
      latencyMs: 5,
      fault: (call) => (conflicting && call.verb === 'update' ? { kind: 'error', error: leaseErrors.conflict(call.name) } : undefined),
    });
    const elector = new Elector(
      { identity: 'a', leaseName: 'l', leaseNamespace: 'default', ...TIMING, clock, random: seededRandom(1), followerStrategy: 'poll' },
      memory,
      {},
      {},
    );
    const stop = new AbortController();
    const done = elector.run(stop.signal);
    await clock.advance(1_000);
    expect(elector.isLeader()).toBe(true);
    conflicting = true;
    const before = memory.calls.length;
    stop.abort();
    await clock.advance(2 * TIMING.renewDeadlineMs);
    await done;
    const releaseRequests = memory.calls.length - before;
    // A GET and a PUT per try: one retry at once after the first conflict (its own in-flight write
    // may have landed first), then at most one try per retry period within the renew deadline.
    expect(releaseRequests).toBeLessThanOrEqual(2 * (Math.floor(TIMING.renewDeadlineMs / TIMING.retryPeriodMs) + 2));
    expect(releaseRequests).toBeGreaterThanOrEqual(2); // it did try to release
  });
});

describe('elector bugs the simulator found with the issue 11 checks', () => {
  // Found as S3 violations in `pnpm sim --seeds 1000 --minutes 10` (seeds 404 and 690, elector of
  // 2026-11-27 14:41), fixed at 15:05: a replica counted only tokens of records that are not claims. One that saw
  // an earlier term's token only in another replica's claim (b's claim carried 11 = c#6's last
  // term) creates the Lease again lower and leads with 1. Here: c sees b's claim with token 5, b
  // takes its claim over (term 5) and the Lease is deleted before c reads again; c leads with 0.
  it("leads with a token above one it saw in another replica's claim, once that claim became a term", async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    const now = (): string => new Date(clock.wallNow()).toISOString().replace('Z', '000Z');
    const claim = { holderIdentity: 'b', leaseDurationSeconds: 15, acquireTime: now(), renewTime: now(), leaseTransitions: 5 };
    // The claim annotation is the elector's wire format for a Lease created as a claim.
    store.create('default', { metadata: { name: 'l', annotations: { 'leasekit.io/claim': 'b' } }, spec: claim });
    const tokens: number[] = [];
    const elector = new Elector(
      { identity: 'c', leaseName: 'l', leaseNamespace: 'default', ...TIMING, clock, random: seededRandom(3), followerStrategy: 'poll' },
      new MemoryLeaseClient(store, { clock }),
      { onStartedLeading: (_signal, term) => void tokens.push(term.token) },
      {},
    );
    const stop = new AbortController();
    const done = elector.run(stop.signal);
    await clock.advance(100); // c has read b's claim
    const taken = store.get('default', 'l');
    store.update('default', 'l', { ...taken, metadata: { ...taken.metadata, annotations: {} }, spec: { ...claim, renewTime: now() } }); // b's term 5
    await clock.advance(100);
    store.delete('default', 'l'); // before c reads again
    await clock.advanceUntil(() => tokens.length > 0, 60_000);
    stop.abort();
    await clock.advance(10_000);
    await done;
    expect(tokens[0]).toBeGreaterThan(5);
  });
});

describe('elector bugs the simulator found in the 60-minute sweep (fixed)', () => {
  // Found as L2 in `pnpm sim --seed 423 --minutes 60` (elector of 2026-11-28, commit 61be495):
  // a#1 created the missing Lease as a claim (annotation leasekit.io/claim: a); the client-go
  // replica took it over and, keeping the object's metadata as client-go does (go-replica.ts
  // leaseOf), left the marker on every record it wrote. b#2 took the expired record on its
  // watch with one write over that object, marker included, and at 277.399 s handed the Lease to
  // a#3: a record naming a that still carried a's marker. a#3 read it as its own pending claim
  // and tried only when it expired, 3 s later (280.427 s), instead of taking it at once.
  it('a watching target takes a handover at once after a client-go replica left its old claim marker on the Lease', async () => {
    const timing = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 } as const;
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    const now = (): string => new Date(clock.wallNow()).toISOString().replace('Z', '000Z');
    // The client-go replica c's record over a's old claim: holder c, a's marker kept; c then died.
    store.create('default', {
      metadata: { name: 'l', annotations: { 'leasekit.io/claim': 'a' } },
      spec: { holderIdentity: 'c', leaseDurationSeconds: 3, acquireTime: now(), renewTime: now(), leaseTransitions: 6 },
    });
    const make = (id: string): { elector: Elector; stop: AbortController; done: Promise<void> } => {
      const elector = new Elector(
        { identity: id, leaseName: 'l', leaseNamespace: 'default', ...timing, clock, random: seededRandom(id.charCodeAt(0)), followerStrategy: 'watch' },
        new MemoryLeaseClient(store, { clock }),
        {},
        {},
      );
      const stop = new AbortController();
      return { elector, stop, done: elector.run(stop.signal) };
    };
    const b = make('b');
    // b takes c's expired record on its watch.
    expect(await clock.advanceUntil(() => b.elector.isLeader(), 10_000, 1)).toBe(true);
    const a = make('a'); // a restarted: it watches b's term
    await clock.advance(5_000);
    expect(b.elector.isLeader()).toBe(true);
    void b.elector.resign({ to: 'a' });
    const handedAt = clock.now();
    expect(await clock.advanceUntil(() => a.elector.isLeader(), 2 * timing.retryPeriodMs, 1)).toBe(true);
    expect(clock.now() - handedAt).toBeLessThan(timing.retryPeriodMs);
    for (const p of [a, b]) p.stop.abort();
    await clock.advance(10_000);
    await Promise.all([a.done, b.done]);
  });
});

describe('elector bugs the simulator found (open)', () => {
  // Found as S4 in `pnpm sim --seed 6` (H6's sweep): a coordinator wrote preferredHolder naming
  // the leader itself, and the leader's next renewal landed in the same wall second as its last
  // one. The pure package's goFollowerKey counts strategy and preferredHolder, so the elector
  // counted that renewal's guarantee from its own send time; a client-go follower whose record has
  // no such fields (before v1.31; the simulator's model) saw no change and kept timing from the
  // earlier renewal: the guarantee ran 123 ms past the moment it could take over.
  it('counts a renewal that differs from its last write only in preferredHolder from that write (invisible to a client-go follower before v1.31)', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    store.create('default', { metadata: { name: 'l' }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 } });
    const elector = new Elector(
      { identity: 'a', leaseName: 'l', leaseNamespace: 'default', leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200, clock, random: seededRandom(1), followerStrategy: 'poll' },
      new MemoryLeaseClient(store, { clock }),
      {},
      {},
    );
    const stop = new AbortController();
    const done = elector.run(stop.signal);
    try {
    expect(await clock.advanceUntil(() => elector.isLeader(), 5_000)).toBe(true);
    const renewSecond = (): string => (store.peek('default', 'l')?.spec?.renewTime ?? '').slice(0, 19);
    // W1: the first renewal in a new wall second.
    const before = renewSecond();
    expect(await clock.advanceUntil(() => renewSecond() !== before, 2_000, 1)).toBe(true);
    const second = renewSecond();
    const afterW1 = elector.snapshot().guaranteedUntilMs;
    // The coordinator names the leader itself (which changes nothing for it), by compare-and-swap.
    const lease = store.peek('default', 'l')!;
    store.update('default', 'l', { ...lease, spec: { ...lease.spec, strategy: 'OldestEmulationVersion', preferredHolder: 'a' } });
    const rv = store.resourceVersion;
    // W2: the leader's next renewal, in the same wall second.
    expect(await clock.advanceUntil(() => store.resourceVersion !== rv && store.peek('default', 'l')?.spec?.holderIdentity === 'a', 900, 1)).toBe(true);
    expect(renewSecond()).toBe(second);
    expect(elector.snapshot().guaranteedUntilMs).toBe(afterW1);
    } finally {
      stop.abort();
      await clock.advance(10_000);
      await done;
    }
  });
});
