/**
 * Handover at the limit: a watching follower takes a released (or expired) record it saw on the
 * watch with one compare-and-swap write, without a GET and without herd jitter; a lost race is
 * one 409, then the winner's record arrives. Fake clock, in-memory store.
 */
import { describe, expect, it } from '@jest/globals';
import { LEASE, ledBy, NS, runChecked, world, type Replica } from './__tests__/harness.js';
import { CLAIM_ANNOTATION } from './claim.js';
import { Elector } from './elector.js';
import { silentLogger } from './logger.js';
import { seededRandom } from './random.js';
import { withReplacedSteps } from './steps.js';
import { MemoryLeaseClient } from './testing/memory-lease-client.js';
import type { RequestInfo } from './observer.js';
import { formatMicroTime } from './record.js';

/** The verbs `r` sent from call index `from` on, watches left out. */
function requestsSince(r: Replica, from: number): string[] {
  return r.client.calls.slice(from).map((c) => c.verb).filter((v) => v !== 'watch');
}

const leaders = (rs: Replica[]): string[] => rs.filter((r) => r.elector.isLeader()).map((r) => r.id);

describe('Elector: a watching follower takes a released record with one write', () => {
  it('takes it at the release, with one update and no GET', async () => {
    const w = world(21);
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a');
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    await ledBy(w, a, [b]);
    const mark = b.client.calls.length;
    const transitionsBefore = w.store.get(NS, LEASE).spec?.leaseTransitions ?? 0;

    void a.elector.resign();
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 1_000, 1)).toBe(true);
    expect(requestsSince(b, mark)).toEqual(['update']);
    // No herd jitter: the take happened at the time of the release (zero latency in memory).
    expect(b.log.started[0]!.atMs).toBe(a.log.stopped[0]!.atMs);
    const lease = w.store.get(NS, LEASE);
    expect(lease.spec?.holderIdentity).toBe('b');
    expect(b.log.started[0]!.term.token).toBe(transitionsBefore + 1);
    expect(lease.spec?.leaseTransitions).toBe(transitionsBefore + 1);
    await runChecked(w.clock, [a, b], 5_000, 10);
    expect(leaders([a, b])).toEqual(['b']);
    await a.stop();
    await b.stop();
  });

  it('loses a race with one 409 and then follows the winner without a GET, and takes the next release with one write', async () => {
    const w = world(22);
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a');
    // With some latency both followers' writes are in flight at once: a real race.
    const answers = new Map<string, RequestInfo[]>([['b', []], ['c', []]]);
    const follower = (id: string): Replica =>
      w.replica(id, { config: { followerStrategy: 'watch', observer: { onRequest: (info) => answers.get(id)!.push(info) } }, client: { latencyMs: 5 } });
    const b = follower('b');
    const c = follower('c');
    a.start();
    await w.clock.advance(0);
    b.start();
    c.start();
    await runChecked(w.clock, [a, b, c], 5_000, 10);
    const marks = new Map([b, c].map((r) => [r, r.client.calls.length]));
    const answered = new Map([b, c].map((r) => [r, answers.get(r.id)!.length]));

    void a.elector.resign();
    await runChecked(w.clock, [a, b, c], 1_000, 10); // less than R: no renewal yet
    const [winner, loser] = b.elector.isLeader() ? [b, c] : [c, b];
    expect(winner.elector.isLeader()).toBe(true);
    expect(requestsSince(winner, marks.get(winner)!)).toEqual(['update']);
    // Both wrote at once; the loser's write was refused (409) and it asked nothing more.
    expect(requestsSince(loser, marks.get(loser)!)).toEqual(['update']);
    expect(answers.get(loser.id)!.slice(answered.get(loser)!).map((i) => i.errorReason)).toEqual(['Conflict']);
    expect(loser.elector.getLeader()).toBe(winner.id);

    // The lost race left no backoff behind: the winner's next release is taken by the loser with one write.
    const mark = loser.client.calls.length;
    void winner.elector.resign();
    expect(await w.clock.advanceUntil(() => loser.elector.isLeader(), 1_000, 1)).toBe(true);
    expect(requestsSince(loser, mark)).toEqual(['update']);
    expect(leaders([a, b, c])).toEqual([loser.id]);
    await a.stop();
    await b.stop();
    await c.stop();
  });
});

describe('Elector: a watching follower and a held record', () => {
  it('does not write to a held record before it expires by its own observation, whatever renewTime says, then takes it with one write', async () => {
    const w = world(23);
    const longAgo = formatMicroTime(w.clock.wallNow() - 3_600_000);
    w.store.create(NS, {
      metadata: { name: LEASE },
      spec: { holderIdentity: 'gone', leaseDurationSeconds: 15, leaseTransitions: 4, acquireTime: longAgo, renewTime: longAgo },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    b.start();
    await w.clock.advance(0);
    const seenAt = w.clock.now();
    expect(requestsSince(b, 0)).toEqual(['get']);
    await w.clock.advance(14_990);
    expect(requestsSince(b, 0)).toEqual(['get']);
    expect(b.elector.isLeader()).toBe(false);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 1_000, 1)).toBe(true);
    expect(w.clock.now() - seenAt).toBeGreaterThanOrEqual(15_000);
    expect(requestsSince(b, 0)).toEqual(['get', 'update']);
    expect(w.store.get(NS, LEASE).spec?.leaseTransitions).toBe(5);
    await b.stop();
  });

  it('reads a claim again before taking it (claims keep the GET path)', async () => {
    const w = world(24);
    w.store.create(NS, {
      metadata: { name: LEASE, annotations: { [CLAIM_ANNOTATION]: 'x' } },
      spec: { holderIdentity: 'x', leaseDurationSeconds: 15, leaseTransitions: 0 },
    });
    const b = w.replica('b', { config: { followerStrategy: 'watch' } });
    b.start();
    await w.clock.advance(0);
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 20_000, 1)).toBe(true);
    expect(requestsSince(b, 0)).toEqual(['get', 'get', 'update']);
    const lease = w.store.get(NS, LEASE);
    expect(lease.spec?.holderIdentity).toBe('b');
    expect(lease.metadata?.annotations?.[CLAIM_ANNOTATION]).toBeUndefined();
    await b.stop();
  });
});

describe('Elector: a polling follower', () => {
  it('still reads the Lease before taking a released record', async () => {
    const w = world(25);
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a');
    const b = w.replica('b');
    a.start();
    await w.clock.advance(0);
    b.start();
    await runChecked(w.clock, [a, b], 5_000, 10);
    const mark = b.client.calls.length;
    void a.elector.resign();
    expect(await w.clock.advanceUntil(() => b.elector.isLeader(), 10_000, 10)).toBe(true);
    expect(requestsSince(b, mark).slice(-2)).toEqual(['get', 'update']);
    await a.stop();
    await b.stop();
  });
});

describe('Elector: a watching follower whose isExpired disagrees with its due time', () => {
  it('waits on the poll schedule instead of waking again at once forever', async () => {
    const w = world(26);
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'gone', leaseDurationSeconds: 5, leaseTransitions: 1 } });
    const client = new MemoryLeaseClient(w.store, { clock: w.clock });
    // isExpired never agrees with the due time (a step replaced through the test-only seam).
    const b = withReplacedSteps(
      () => ({ isExpired: () => false }),
      () => new Elector({ identity: 'b', leaseName: LEASE, leaseNamespace: NS, followerStrategy: 'watch', clock: w.clock, random: seededRandom(26) }, client, {}, silentLogger),
    );
    const stop = new AbortController();
    const done = b.run(stop.signal);
    // Past the due time (5 s) nothing is worth trying: a zero-delay loop would never let time advance.
    const start = w.clock.now();
    await w.clock.advance(30_000);
    expect(w.clock.now() - start).toBe(30_000);
    expect(b.isLeader()).toBe(false);
    // Its healthy watch says the lease is held: nothing is sent after the first read.
    expect(client.verbs().filter((v) => v !== 'watch')).toEqual(['get']);
    stop.abort();
    await w.clock.advanceUntil(() => false, 1_000);
    await done;
  });
});

describe('Elector: the one-write take never takes a live holder', () => {
  it('does not write over the record of the replica that just took its lease, on the try right after its term ended', async () => {
    const w = world(31);
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a', { config: { followerStrategy: 'watch' } });
    a.start();
    await w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    // Someone else ('x', a replica this test plays by hand) takes the Lease and keeps renewing it.
    const takeOver = (): void => {
      const lease = w.store.get(NS, LEASE);
      const now = formatMicroTime(w.clock.wallNow());
      w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: 'x', leaseDurationSeconds: 15, renewTime: now, acquireTime: now, leaseTransitions: 9 } });
    };
    takeOver();
    expect(await w.clock.advanceUntil(() => !a.elector.isLeader(), 5_000, 1)).toBe(true);
    for (let i = 0; i < 5; i++) {
      await w.clock.advance(2_000);
      takeOver();
    }
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('x');
    expect(a.elector.isLeader()).toBe(false);
    expect(a.log.started).toHaveLength(1);
    await a.stop();
  });
});
