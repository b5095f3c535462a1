import { describe, expect, it } from '@jest/globals';
import type { Lease } from '@leasekit/k8s-leaderelection';
import { formatMicroTime } from '@leasekit/k8s-leaderelection/internal';
import { FakeClock, LeaseStore, MemoryLeaseClient, leaseErrors, seededRandom, type Fault, type MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { GoReplica, goRawRecordOf, type GoExpiry } from './go-replica.js';

const NS = 'default';
const NAME = 'l';
const TIMING = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 } as const;

interface World {
  clock: FakeClock;
  store: LeaseStore;
  client: MemoryLeaseClient;
  go: GoReplica;
  stop: AbortController;
  done: Promise<void>;
  events: string[];
  fault: { current: ((call: MemoryCall) => Fault | undefined) | undefined };
}

/** A client-go replica 'g' against a store where 'x' holds the Lease (or none, with `absent`). */
function world(options: { expiry?: GoExpiry; durationSeconds?: number; absent?: boolean } = {}): World {
  // Start at a whole second, so tests can place writes within one wall-clock second.
  const clock = new FakeClock({ startWallMs: Date.UTC(2025, 0, 1) });
  const store = new LeaseStore({ clock });
  if (!options.absent) {
    const now = formatMicroTime(clock.wallNow());
    store.create(NS, { metadata: { name: NAME }, spec: { holderIdentity: 'x', leaseDurationSeconds: options.durationSeconds ?? 3, acquireTime: now, renewTime: now, leaseTransitions: 4 } });
  }
  const fault: World['fault'] = { current: undefined };
  const client = new MemoryLeaseClient(store, { clock, fault: (call) => fault.current?.(call) });
  const events: string[] = [];
  const go = new GoReplica({
    identity: 'g',
    namespace: NS,
    name: NAME,
    ...TIMING,
    expiry: options.expiry ?? 'record',
    clock,
    client,
    random: seededRandom(1),
    onStartedLeading: (token) => events.push(`started ${token} at ${clock.now()}`),
    onStoppedLeading: () => events.push(`stopped at ${clock.now()}`),
  });
  const stop = new AbortController();
  return { clock, store, client, go, stop, done: go.run(stop.signal), events, fault };
}

/** x renews its Lease `atWallOffsetMs` after the world's start (a write straight into the store). */
function renewAt(w: World, offsetMs: number): void {
  const lease = w.store.get(NS, NAME);
  const renewTime = formatMicroTime(Date.UTC(2025, 0, 1) + offsetMs);
  w.store.update(NS, NAME, { ...lease, spec: { ...lease.spec, renewTime } } as Lease);
}

async function finish(w: World): Promise<void> {
  w.stop.abort();
  await w.clock.advance(0);
  await w.done;
  expect(w.clock.pendingTimers).toBe(0);
}

describe('the client-go follower model', () => {
  it("notices a renewal only when the record's whole-second JSON changes", async () => {
    const w = world();
    await w.clock.advance(1); // first poll: sees x's record
    const first = w.go.observation()!;
    expect(first.holder).toBe('x');
    renewAt(w, 600); // same second as the record it saw
    await w.clock.advanceUntil(() => w.client.calls.filter((c) => c.verb === 'get').length >= 2, 3000, 1);
    expect(w.go.observation()!.validUntilMs).toBe(first.validUntilMs);
    renewAt(w, 1200); // the next second
    const gets = w.client.calls.filter((c) => c.verb === 'get').length;
    await w.clock.advanceUntil(() => w.client.calls.filter((c) => c.verb === 'get').length > gets, 3000, 1);
    expect(w.go.observation()!.validUntilMs).toBeGreaterThan(first.validUntilMs);
    expect(goRawRecordOf(w.store.get(NS, NAME))).toContain('"renewTime":"2025-01-01T00:00:01Z"');
    await finish(w);
  });

  it("takes over a record it saw unchanged for the record's duration, as a new transition", async () => {
    const w = world();
    await w.clock.advanceUntil(() => w.go.leading, 10_000, 5);
    expect(w.events[0]).toMatch(/^started 5 at /);
    const startedAt = Number(w.events[0]!.split(' at ')[1]);
    // Expired 3 s after its first look (t=0), taken at its next poll, at most 2.2 R later.
    expect(startedAt).toBeGreaterThanOrEqual(3000);
    expect(startedAt).toBeLessThanOrEqual(3000 + 2.2 * TIMING.retryPeriodMs + 1);
    expect(w.store.get(NS, NAME).spec?.holderIdentity).toBe('g');
    await finish(w);
  });

  it("judges expiry by its own configured duration in the 'configured' variant (older client-go)", async () => {
    const record = world({ durationSeconds: 10 });
    const configured = world({ durationSeconds: 10, expiry: 'configured' });
    await Promise.all([record.clock.advance(5000), configured.clock.advance(5000)]);
    expect(record.go.leading).toBe(false);
    expect(configured.go.leading).toBe(true);
    await finish(record);
    await finish(configured);
  });

  it('tries at once, then every [R, 2.2 R) after each try, with one GET and at most one write per try', async () => {
    const w = world({ durationSeconds: 3600 }); // held for good: every try is a GET only
    await w.clock.advance(30_000);
    const gets = w.client.calls.filter((c) => c.verb === 'get').map((c) => c.atMs);
    expect(gets[0]).toBe(0);
    const gaps = gets.slice(1).map((t, i) => t - gets[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(TIMING.retryPeriodMs);
    expect(Math.max(...gaps)).toBeLessThan(2.2 * TIMING.retryPeriodMs);
    expect(w.client.calls.every((c) => c.verb === 'get')).toBe(true);
    await finish(w);
  });

  it('creates a missing Lease at once and leads (why runs with client-go replicas never delete the Lease)', async () => {
    const w = world({ absent: true });
    await w.clock.advance(1);
    expect(w.go.leading).toBe(true);
    expect(w.client.verbs().slice(0, 2)).toEqual(['get', 'create']);
    await finish(w);
  });

  it('renews every R while leading, and stops leading a renew deadline after its writes start failing', async () => {
    const w = world({ absent: true });
    await w.clock.advance(3000);
    const puts = w.client.calls.filter((c) => c.verb === 'update').map((c) => c.atMs);
    expect(puts.length).toBeGreaterThanOrEqual(5);
    expect(Math.min(...puts.slice(1).map((t, i) => t - puts[i]!))).toBeGreaterThanOrEqual(TIMING.retryPeriodMs);
    const failingFrom = w.clock.now();
    w.fault.current = (call) => (call.verb === 'update' ? { kind: 'error', error: leaseErrors.internal('etcd') } : undefined);
    await w.clock.advanceUntil(() => !w.go.leading, 10_000, 5);
    const stoppedAt = w.clock.now() - failingFrom;
    // Its last success was under R before the faults; the next round starts R after it and gives up after RD.
    expect(stoppedAt).toBeGreaterThanOrEqual(TIMING.renewDeadlineMs);
    expect(stoppedAt).toBeLessThanOrEqual(TIMING.retryPeriodMs + TIMING.renewDeadlineMs + 5);
    expect(w.events.at(-1)).toMatch(/^stopped at /);
    await w.done; // one-shot, like client-go's Run
    expect(w.clock.pendingTimers).toBe(0);
  });
});
