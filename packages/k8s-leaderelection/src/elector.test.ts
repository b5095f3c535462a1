import { describe, expect, it } from '@jest/globals';
import { LEASE, NS, runChecked, startNow, world, worldWithEmptyLease } from './__tests__/harness.js';
import { ApiError, makeStatus } from './errors.js';
import { CLAIM_ANNOTATION } from './elector.js';

/** Replica 'a', whose next request of each verb named in `failNextOnce(...)` fails once with `error`. */
function replicaFailingOnDemand(w: ReturnType<typeof world>, error: ApiError) {
  const pending = new Set<string>();
  const a = w.replica('a', { client: { fault: (call) => (pending.delete(call.verb) ? { kind: 'error', error } : undefined) } });
  return { a, failNextOnce: (...verbs: string[]) => verbs.forEach((v) => pending.add(v)) };
}

describe('Elector: acquiring', () => {
  it('creates a missing lease as a claim at once and leads once the claim has stood for the hold', async () => {
    const w = world();
    const a = await startNow(w, w.replica('a'));
    expect(a.client.verbs()).toEqual(['get', 'create']);
    expect(a.elector.isLeader()).toBe(false);
    const claim = w.store.get(NS, LEASE);
    expect(claim.spec?.holderIdentity).toBe('a');
    expect(claim.metadata?.annotations?.[CLAIM_ANNOTATION]).toBe('a');
    expect(claim.spec?.leaseDurationSeconds).toBe(15); // the hold: max(own 15 s, maxPeerLeaseDurationMs 15 s)
    expect(a.log.newLeaders).toEqual([]); // a claim is not a leader
    await w.clock.advance(14_900);
    expect(a.elector.isLeader()).toBe(false);
    const became = await w.clock.advanceUntil(() => a.elector.isLeader(), 10_000);
    expect(became).toBe(true);
    expect(w.clock.now()).toBeGreaterThanOrEqual(15_000);
    expect(a.client.verbs().slice(-2)).toEqual(['get', 'update']);
    const lease = w.store.get(NS, LEASE);
    expect(lease.spec?.holderIdentity).toBe('a');
    expect(lease.metadata?.annotations?.[CLAIM_ANNOTATION]).toBeUndefined();
    // The claim carried token 0; its takeover is a write every follower sees as a change: token 1.
    expect(lease.spec?.leaseTransitions).toBe(1);
    expect(lease.spec?.leaseDurationSeconds).toBe(15);
    expect(a.log.started).toHaveLength(1);
    expect(a.log.started[0]!.isLeaderInside).toBe(true);
    expect(a.log.started[0]!.leaderInside).toBe('a');
    expect(a.elector.snapshot().slowPathCount).toBe(0); // taking over its own claim is no slow path
    await a.stop();
  });

  it('takes a lease with an empty spec at once', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a'));
    expect(a.elector.isLeader()).toBe(true);
    expect(a.client.verbs()).toEqual(['get', 'update']);
    expect(w.store.get(NS, LEASE).spec?.leaseTransitions).toBe(1);
    await a.stop();
  });

  it("waits the record's leaseDurationSeconds, not its own, before taking a held lease", async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'other', leaseDurationSeconds: 40, leaseTransitions: 3 } });
    const a = w.replica('a'); // own lease duration 15 s
    a.start();
    await w.clock.advance(39_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.getLeader()).toBe('other');
    await w.clock.advance(6_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(w.store.get(NS, LEASE).spec?.leaseTransitions).toBe(4);
    await a.stop();
  });

  it('takes over a released lease at once', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 2 } });
    const a = await startNow(w, w.replica('a'));
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
  });
});

describe('Elector: renewing', () => {
  it('renews with one PUT on the fast path', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a'));
    const before = a.client.calls.length;
    await w.clock.advance(2_000);
    expect(a.client.verbs().slice(before)).toEqual(['update']);
    await a.stop();
  });

  it('falls back to GET + PUT after a 409 on the fast path', async () => {
    const w = worldWithEmptyLease();
    const { a, failNextOnce } = replicaFailingOnDemand(w, new ApiError(makeStatus(409, 'Conflict', 'conflict')));
    await startNow(w, a);
    failNextOnce('update');
    const before = a.client.calls.length;
    await w.clock.advance(2_000);
    expect(a.client.verbs().slice(before)).toEqual(['update', 'get', 'update']);
    expect(a.elector.snapshot().slowPathCount).toBe(1);
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
  });

  it('counts no slow path when the GET after a failed fast path fails (as client-go)', async () => {
    const w = worldWithEmptyLease();
    const { a, failNextOnce } = replicaFailingOnDemand(w, new ApiError(makeStatus(500, 'InternalError', 'boom')));
    await startNow(w, a);
    failNextOnce('update', 'get');
    const before = a.client.calls.length;
    await w.clock.advance(2_000);
    expect(a.client.verbs().slice(before)).toEqual(['update', 'get']);
    expect(a.elector.snapshot().slowPathCount).toBe(0);
    await a.stop();
  });

  it('counts no slow path when the GET after a failed fast path finds another holder', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a'));
    expect(a.elector.isLeader()).toBe(true);
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: 'other', leaseTransitions: 7 } });
    await w.clock.advance(2_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.elector.snapshot().slowPathCount).toBe(0);
    await a.stop();
  });

  it('counts a slow path when a restarted process finds its own identity in the record', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 3 } });
    const a = await startNow(w, w.replica('a'));
    expect(a.client.verbs()).toEqual(['get', 'update']);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.elector.snapshot().slowPathCount).toBe(1);
    await a.stop();
  });

  it('never has two leaders in a long run where the leader stops renewing and comes back', async () => {
    const w = world(7);
    let partitioned = false;
    const replicas = ['a', 'b', 'c'].map((id) =>
      w.replica(id, {
        client: {
          fault: () => (partitioned && id === 'a' ? { kind: 'error', error: new Error('connection refused') } : undefined),
        },
      }),
    );
    w.store.create(NS, { metadata: { name: LEASE } });
    replicas[0]!.start();
    await w.clock.advance(0);
    expect(replicas[0]!.elector.isLeader()).toBe(true);
    replicas[1]!.start();
    replicas[2]!.start();
    await runChecked(w.clock, replicas, 30_000);
    partitioned = true;
    await runChecked(w.clock, replicas, 60_000);
    expect(replicas[0]!.elector.isLeader()).toBe(false);
    expect(replicas.filter((r) => r.elector.isLeader())).toHaveLength(1);
    partitioned = false;
    await runChecked(w.clock, replicas, 60_000);
    expect(replicas.filter((r) => r.elector.isLeader())).toHaveLength(1);
    for (const r of replicas) await r.stop();
  });
});

describe('Elector: following', () => {
  it('never writes to a held, fresh lease', async () => {
    const w = world();
    const a = w.replica('a');
    const b = w.replica('b');
    w.store.create(NS, { metadata: { name: LEASE } });
    await startNow(w, a);
    b.start();
    await runChecked(w.clock, [a, b], 60_000);
    expect(a.elector.isLeader()).toBe(true);
    expect(b.client.verbs().every((v) => v === 'get')).toBe(true);
    expect(b.client.calls.length).toBeGreaterThan(10);
    expect(b.log.started).toHaveLength(0);
    expect(b.log.stopped).toHaveLength(0); // never led, so never told it stopped
    expect(b.elector.getLeader()).toBe('a');
    expect(b.log.newLeaders).toEqual(['a']);
    await a.stop();
    await b.stop();
  });
});

describe('Elector: losing leadership', () => {
  it('stops leading once renewals fail past the renew deadline, then contends again', async () => {
    const w = worldWithEmptyLease();
    let down = false;
    const a = await startNow(w, w.replica('a', { client: { fault: () => (down ? { kind: 'error', error: new ApiError(makeStatus(503, 'ServiceUnavailable', 'down')) } : undefined) } }));
    expect(a.elector.isLeader()).toBe(true);
    down = true;
    const failedAt = w.clock.now();
    await w.clock.advanceUntil(() => !a.elector.isLeader(), 20_000);
    // First renew round starts one retry period in; it gives up at the renew deadline.
    expect(w.clock.now() - failedAt).toBeLessThanOrEqual(2_000 + 10_000);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['renew_failed']);
    expect(a.log.started[0]!.signal.aborted).toBe(true);
    down = false;
    const back = await w.clock.advanceUntil(() => a.elector.isLeader(), 10_000);
    expect(back).toBe(true);
    expect(a.log.started).toHaveLength(2);
    expect(a.log.started[1]!.term.token).toBeGreaterThan(a.log.started[0]!.term.token);
    await a.stop();
  });

  it('stops within the renew deadline when a renewal request hangs', async () => {
    const w = worldWithEmptyLease();
    let hang = false;
    const a = await startNow(w, w.replica('a', { client: { fault: (c) => (hang && c.verb !== 'get' ? { kind: 'hang' } : hang ? { kind: 'hang' } : undefined) } }));
    hang = true;
    const t0 = w.clock.now();
    await w.clock.advanceUntil(() => !a.elector.isLeader(), 20_000, 5);
    expect(w.clock.now() - t0).toBeLessThanOrEqual(2_000 + 10_000 + 5);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['renew_failed']);
    hang = false;
    await a.stop();
  });

  it('reports lease_taken when another replica rewrote the lease', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a'));
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseTransitions: 9 } });
    await w.clock.advance(2_100);
    expect(a.elector.isLeader()).toBe(false);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['lease_taken']);
    expect(a.elector.getLeader()).toBe('intruder');
    await a.stop();
    // It stepped down without writing over the intruder.
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('intruder');
  });

  it('recreates the lease when it is deleted while leading, and keeps leading', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a'));
    w.store.delete(NS, LEASE);
    const before = a.client.calls.length;
    await w.clock.advance(2_000);
    expect(a.client.verbs().slice(before)).toEqual(['update', 'get', 'create']);
    expect(a.elector.isLeader()).toBe(true);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('a');
    expect(a.log.stopped).toHaveLength(0);
    await a.stop();
  });
});

describe('Elector: shutdown and release', () => {
  it('aborts the leadership signal, awaits onStoppedLeading, then releases with one PUT over its own last write (no GET)', async () => {
    const w = worldWithEmptyLease();
    const order: string[] = [];
    const a = w.replica('a', {
      callbacks: {
        onStartedLeading: (signal) => signal.addEventListener('abort', () => order.push('signal aborted')),
        onStoppedLeading: async () => {
          order.push('onStoppedLeading begins');
          await Promise.resolve();
          order.push(`onStoppedLeading ends; holder ${String(w.store.get(NS, LEASE).spec?.holderIdentity)}`);
        },
      },
    });
    await startNow(w, a);
    const before = a.client.calls.length;
    await a.stop();
    expect(order).toEqual(['signal aborted', 'onStoppedLeading begins', 'onStoppedLeading ends; holder a']);
    expect(a.client.verbs().slice(before)).toEqual(['update']);
    const spec = w.store.get(NS, LEASE).spec!;
    expect(spec.holderIdentity).toBe('');
    expect(spec.leaseDurationSeconds).toBe(1);
    expect(spec.leaseTransitions).toBe(1);
    expect(spec.acquireTime).toBe(spec.renewTime);
    expect(a.log.stopped.map((s) => s.reason)).toEqual(['released']);
    expect(w.clock.pendingTimers).toBe(0);
  });

  it('does not release when onStoppedLeading has not settled within its bound', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a', { config: { onStoppedLeadingTimeoutMs: 3_000 }, callbacks: { onStoppedLeading: () => new Promise(() => {}) } }));
    await a.stop();
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('a');
  });

  it('does not release with releaseOnCancel false', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a', { config: { releaseOnCancel: false } }));
    await a.stop();
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('a');
  });

  it('retries the release after a 409 and reads the lease again', async () => {
    const w = worldWithEmptyLease();
    let conflicts = 0;
    const a = w.replica('a', {
      client: {
        fault: (call) => {
          if (call.verb === 'update' && conflicts === 1) {
            conflicts++;
            return { kind: 'error', error: new ApiError(makeStatus(409, 'Conflict', 'modified')) };
          }
          return undefined;
        },
      },
    });
    await startNow(w, a);
    const before = a.client.calls.length;
    conflicts = 1;
    await a.stop();
    expect(a.client.verbs().slice(before)).toEqual(['update', 'get', 'update']);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
  });

  it('never releases a lease that another replica holds by the time it reads it', async () => {
    const w = worldWithEmptyLease();
    let stolen = false;
    const a = w.replica('a', {
      callbacks: {
        onStoppedLeading: () => {
          const lease = w.store.get(NS, LEASE);
          w.store.update(NS, LEASE, { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } });
          stolen = true;
        },
      },
    });
    await startNow(w, a);
    const before = a.client.calls.length;
    await a.stop();
    expect(stolen).toBe(true);
    // The PUT over its own last write is refused (409: someone wrote since); the GET then shows b.
    expect(a.client.verbs().slice(before)).toEqual(['update', 'get']);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('b');
  });

  it('resolves run() at once when the signal is already aborted, without any request', async () => {
    const w = world();
    const a = w.replica('a');
    const controller = new AbortController();
    controller.abort();
    await a.elector.run(controller.signal);
    expect(a.client.calls).toHaveLength(0);
  });

  it('logs no failed request when stopping cuts short its own in-flight request (a renewal or a follower\'s read)', async () => {
    const w = worldWithEmptyLease();
    const warnings: string[] = [];
    const logger = { warn: (m: string) => void warnings.push(m), error: (m: string) => void warnings.push(m) };
    let hang = false;
    const failed: string[] = [];
    let cancelled = 0;
    const observer = {
      onRequest: (info: { errorReason?: string; cancelled?: true }) => {
        if (info.errorReason) failed.push(info.errorReason);
        if (info.cancelled) cancelled++;
      },
    };
    const hanging = { client: { fault: () => (hang ? ({ kind: 'hang' } as const) : undefined) }, logger, config: { observer } };
    const a = w.replica('a', hanging);
    const b = w.replica('b', hanging);
    await startNow(w, a);
    b.start();
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 5_000)).toBe(true);
    hang = true;
    // Both now have a request in flight that will never answer: a's renewal, b's read.
    await w.clock.advance(2_100);
    const inFlight = [a, b].map((r) => r.client.calls.length);
    expect(inFlight.every((n) => n > 0)).toBe(true);
    hang = false;
    await a.stop();
    await b.stop();
    // The stop aborted those requests: that is the caller's doing, not a failing API server, so
    // neither the log nor the observer (the adapter's api_errors_total) reports a failure.
    expect(warnings).toEqual([]);
    expect(failed).toEqual([]);
    expect(cancelled).toBe(2);
  });

  it('refuses to run twice at the same time', async () => {
    const w = world();
    const a = w.replica('a');
    a.start();
    await expect(a.elector.run()).rejects.toMatchObject({ code: 'ALREADY_RUNNING' });
    await a.stop();
  });
});

describe('Elector: callbacks and options', () => {
  it("keeps running when every callback throws or rejects (onStartedLeadingFailure: 'keep')", async () => {
    const w = worldWithEmptyLease();
    const errors: string[] = [];
    const a = w.replica('a', {
      config: { onStartedLeadingFailure: 'keep' },
      logger: { error: (m) => errors.push(m) },
      callbacks: {
        onStartedLeading: () => Promise.reject(new Error('boom')),
        onNewLeader: () => {
          throw new Error('bang');
        },
        onStoppedLeading: () => {
          throw new Error('crash');
        },
      },
    });
    a.start();
    await w.clock.advance(5_000);
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
    expect(errors).toEqual(expect.arrayContaining(['onStartedLeading callback failed', 'onNewLeader callback failed', 'onStoppedLeading callback failed']));
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
  });

  it('with once, returns after the first term instead of contending again', async () => {
    const w = worldWithEmptyLease();
    let down = false;
    const a = w.replica('a', { config: { once: true }, client: { fault: () => (down ? { kind: 'error', error: new Error('refused') } : undefined) } });
    a.start();
    let finished = false;
    void a.done!.then(() => (finished = true));
    await w.clock.advance(0);
    down = true;
    expect(await w.clock.advanceUntil(() => finished, 30_000)).toBe(true);
    expect(a.log.started).toHaveLength(1);
    expect(a.elector.isLeader()).toBe(false);
  });

  it('logs a forbidden error naming the RBAC rule once and keeps retrying', async () => {
    const w = worldWithEmptyLease();
    let forbidden = true;
    const errors: string[] = [];
    const a = w.replica('a', {
      logger: { error: (m) => errors.push(m) },
      client: { fault: () => (forbidden ? { kind: 'error', error: new ApiError(makeStatus(403, 'Forbidden', 'leases is forbidden')) } : undefined) },
    });
    a.start();
    await w.clock.advance(29_000);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('grant get, create and update (and watch, for watching followers)');
    expect(errors[0]).toContain('leases.coordination.k8s.io in namespace default');
    // Keeps retrying, backing off: at least 3 tries, and never more than client-go's one GET per [R, 2.2R).
    expect(a.client.calls.length).toBeGreaterThanOrEqual(3);
    expect(a.client.calls.length).toBeLessThanOrEqual(Math.floor(29_000 / 2_000) + 1);
    forbidden = false;
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 20_000)).toBe(true);
    await a.stop();
  });

  it('records Kubernetes events on the lease when asked to', async () => {
    const w = worldWithEmptyLease();
    const a = await startNow(w, w.replica('a', { config: { recordEvents: true } }));
    await a.stop();
    expect(w.store.events.map((e) => [e.type, e.reason, e.message])).toEqual([
      ['Normal', 'LeaderElection', 'a became leader'],
      ['Normal', 'LeaderElection', 'a stopped leading'],
    ]);
  });

  it('reports unhealthy only when it believes it leads and has not renewed for the lease duration plus tolerance', async () => {
    const w = worldWithEmptyLease();
    const a = w.replica('a', { config: { maxClockDriftRate: 0 } });
    expect(a.elector.check(0)).toBeUndefined();
    await startNow(w, a);
    expect(a.elector.check(0)).toBeUndefined();
    await w.clock.advance(60_000);
    expect(a.elector.check(0)).toBeUndefined(); // renewing fine
    await a.stop();
  });
});

describe('Elector: malformed leases', () => {
  it('does not take over early when the holder wrote a huge lease duration', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'other', leaseDurationSeconds: 2 ** 31 - 1 } });
    const a = w.replica('a', { config: { followerStrategy: 'watch' } });
    a.start();
    await w.clock.advance(3 * 3600_000);
    expect(a.elector.isLeader()).toBe(false);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('other');
    await a.stop();
  });

  it('waits its own lease duration when the holder wrote no usable duration', async () => {
    const w = world();
    // Zero cannot be stored through validation, so write a lease without any duration.
    w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'other' } });
    const warnings: string[] = [];
    const a = w.replica('a', { logger: { warn: (m) => warnings.push(m) } });
    a.start();
    await w.clock.advance(14_000);
    expect(a.elector.isLeader()).toBe(false);
    await w.clock.advance(6_000);
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
  });
});

describe('Elector: aborting from inside a callback', () => {
  it('notices a run signal aborted inside onStartedLeading without waiting a retry period', async () => {
    const w = worldWithEmptyLease();
    const controller = new AbortController();
    const a = w.replica('a', { callbacks: { onStartedLeading: () => controller.abort() } });
    const done = a.elector.run(controller.signal);
    let finished = false;
    void done.then(() => (finished = true));
    await w.clock.advance(0);
    expect(finished).toBe(true);
    expect(w.store.get(NS, LEASE).spec?.holderIdentity).toBe('');
  });
});

describe('Elector: answers that are not Leases', () => {
  it('treats a null body as a failed request and keeps contending, also when watching', async () => {
    const w = worldWithEmptyLease();
    let broken = true;
    const inner = w.replica('inner');
    const a = w.replica('a', {
      config: { followerStrategy: 'watch' },
      leaseClient: {
        get: async (ns, name, o) => (broken ? (null as unknown as ReturnType<typeof w.store.get>) : inner.client.get(ns, name, o)),
        create: (ns, lease, o) => inner.client.create(ns, lease, o),
        update: (ns, lease, o) => inner.client.update(ns, lease, o),
        watch: (ns, name, o) => inner.client.watch(ns, name, o),
      },
    });
    const lease = w.store.get(NS, LEASE);
    w.store.update(NS, LEASE, { ...lease, spec: { holderIdentity: 'gone', leaseDurationSeconds: 5 } });
    a.start();
    await w.clock.advance(10_000);
    expect(a.elector.snapshot().running).toBe(true);
    broken = false;
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 30_000)).toBe(true);
    await a.stop();
  });
});
