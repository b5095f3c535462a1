/**
 * Bad-input matrix, part 3: every API failure class, as the elector meets it. The error objects
 * are exactly what KubeLeaseClient produces for each HTTP answer (http.test.ts proves that over
 * real HTTP); here they are injected through MemoryLeaseClient's fault hook on a FakeClock, so
 * each case shows what the user gets (log level, retry cadence, stepping down) in virtual time.
 */
import { describe, expect, it } from '@jest/globals';
import { ApiError, NetworkError } from '@leasekit/k8s-leaderelection';
import { makeStatus } from '@leasekit/k8s-leaderelection/internal';
import type { Fault, MemoryCall } from '@leasekit/k8s-leaderelection/testing';
import { rig } from './harness.js';

const R = 2_000; // default retry period
const RD = 10_000; // default renew deadline
const L = 15_000; // default lease duration
/** The elector's longest backoff after repeated failed tries, before its jitter of up to 2.2 x: min(4 R, L / 2). */
const MAX_BACKOFF_MS = Math.min(4 * R, L / 2);

const status = (code: number, reason: string, retryAfterSeconds?: number): ApiError =>
  new ApiError(makeStatus(code, reason, `${reason} (injected)`), retryAfterSeconds !== undefined ? { retryAfterSeconds } : undefined);

interface FailureClass {
  label: string;
  fault: () => Fault;
  /** Which verbs fail (the rest succeed). @default every verb */
  verbs?: MemoryCall['verb'][];
  /** Log level of the first failure a follower sees; undefined: not logged (normal contention). */
  followerLog: 'warn' | 'error' | undefined;
  /** Minimum wait between a follower's tries (Retry-After), if more than the retry period. */
  minGapMs?: number;
}

const CLASSES: FailureClass[] = [
  { label: '401 Unauthorized', fault: () => ({ kind: 'error', error: status(401, 'Unauthorized') }), followerLog: 'error' },
  { label: '403 Forbidden', fault: () => ({ kind: 'error', error: status(403, 'Forbidden') }), followerLog: 'error' },
  { label: '409 Conflict on every write', fault: () => ({ kind: 'error', error: status(409, 'Conflict') }), verbs: ['update', 'create'], followerLog: undefined },
  { label: '410 Gone', fault: () => ({ kind: 'error', error: status(410, 'Gone') }), followerLog: 'warn' },
  { label: '422 Invalid on every write', fault: () => ({ kind: 'error', error: status(422, 'Invalid') }), verbs: ['update', 'create'], followerLog: 'warn' },
  { label: '429 TooManyRequests with Retry-After 7', fault: () => ({ kind: 'error', error: status(429, 'TooManyRequests', 7) }), followerLog: 'warn', minGapMs: 7_000 },
  { label: '500 InternalError', fault: () => ({ kind: 'error', error: status(500, 'InternalError') }), followerLog: 'warn' },
  { label: '502 with an HTML body (reason Unknown)', fault: () => ({ kind: 'error', error: status(502, '') }), followerLog: 'warn' },
  { label: '503 ServiceUnavailable with Retry-After 3', fault: () => ({ kind: 'error', error: status(503, 'ServiceUnavailable', 3) }), followerLog: 'warn', minGapMs: 3_000 },
  { label: 'timeout (no answer)', fault: () => ({ kind: 'hang' }), followerLog: 'warn' },
  { label: 'write committed, answer lost', fault: () => ({ kind: 'drop-response' }), verbs: ['update', 'create'], followerLog: 'warn' },
  { label: 'connection refused', fault: () => ({ kind: 'error', error: new NetworkError('connect ECONNREFUSED 127.0.0.1:6443') }), followerLog: 'warn' },
  { label: 'connection reset', fault: () => ({ kind: 'error', error: new NetworkError('read ECONNRESET') }), followerLog: 'warn' },
  { label: 'invalid JSON in the answer', fault: () => ({ kind: 'error', error: new NetworkError('Unexpected end of JSON input') }), followerLog: 'warn' },
];

describe('bad input: API failure classes seen by a follower', () => {
  it.each(CLASSES)('$label: retries without leading, logs it once, then leads when the API recovers', async ({ fault, verbs, followerLog, minGapMs }) => {
    let failing = true;
    const r = rig({ memory: { fault: (call) => (failing && (verbs ?? [call.verb]).includes(call.verb) ? fault() : undefined) } });
    await r.clock.advance(40_000);
    // "write committed, answer lost" does commit: the Lease names us although we never heard so.
    expect(r.elector.isLeader()).toBe(false);
    const gets = r.memory.calls.filter((c) => c.verb === 'get').map((c) => c.atMs);
    expect(gets.length).toBeGreaterThanOrEqual(3);
    const gaps = gets.slice(1).map((at, i) => at - gets[i]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(Math.min(minGapMs ?? R, R + RD) - 1);
    const firstFailureLogs = r.logs.filter((l) => l.level === 'warn' || l.level === 'error');
    if (followerLog === undefined) expect(firstFailureLogs).toEqual([]);
    else {
      expect(firstFailureLogs.length).toBeGreaterThanOrEqual(1);
      expect(firstFailureLogs[0]!.level).toBe(followerLog);
      // Repeats of the same failure are logged at debug, not warn/error.
      expect(firstFailureLogs.length).toBeLessThanOrEqual(2);
    }
    failing = false;
    // The try in flight may still be waiting for its deadline (a hang), then the backoff runs out.
    expect(await r.clock.advanceUntil(() => r.elector.isLeader(), RD + 2.2 * MAX_BACKOFF_MS + 1_000)).toBe(true);
    expect(r.settled()).toBe(false);
    const { resolved, pendingTimers } = await r.stop();
    expect(resolved).toBe(true);
    expect(pendingTimers).toBe(0);
  });
});

describe('bad input: API failure classes seen by the leader', () => {
  it.each(CLASSES)('$label: steps down (renew_failed) within the renew deadline, aborting its signal, then leads again', async ({ fault, verbs }) => {
    let failing = false;
    const r = rig({ memory: { fault: (call) => (failing && (verbs ?? [call.verb]).includes(call.verb) ? fault() : undefined) } });
    await r.clock.advance(100);
    expect(r.elector.isLeader()).toBe(true);
    failing = true;
    const since = r.clock.now();
    expect(await r.clock.advanceUntil(() => !r.elector.isLeader(), R + RD + 1_000, 10)).toBe(true);
    expect(r.clock.now() - since).toBeLessThanOrEqual(R + RD + 10);
    await r.clock.advance(100);
    expect(r.stopped).toEqual(['renew_failed']);
    expect(r.signals.map((sig) => sig.aborted)).toEqual([true]);
    failing = false;
    expect(await r.clock.advanceUntil(() => r.elector.isLeader(), 2 * 15_000)).toBe(true);
    const { resolved, pendingTimers } = await r.stop();
    expect(resolved).toBe(true);
    expect(pendingTimers).toBe(0);
  });
});

describe('bad input: 404 and 409 AlreadyExists', () => {
  it('404 NotFound (the Lease is missing): creates it only after seeing it missing for a lease duration', async () => {
    const r = rig({ preCreate: false });
    await r.clock.advance(14_000);
    expect(r.elector.isLeader()).toBe(false);
    expect(r.logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    expect(await r.clock.advanceUntil(() => r.elector.isLeader(), 2.2 * R + 2_000)).toBe(true);
    expect(r.store.get('default', 'bad-input').spec?.holderIdentity).toBe('me');
    const { pendingTimers } = await r.stop();
    expect(pendingTimers).toBe(0);
  });

  it('404 NotFound while leading (the Lease was deleted): recreates it at once and keeps leading', async () => {
    const r = rig();
    await r.clock.advance(100);
    r.store.delete('default', 'bad-input');
    await r.clock.advance(R + 100);
    expect(r.elector.isLeader()).toBe(true);
    expect(r.stopped).toEqual([]);
    expect(r.store.get('default', 'bad-input').spec?.holderIdentity).toBe('me');
    const { pendingTimers } = await r.stop();
    expect(pendingTimers).toBe(0);
  });

  it('409 AlreadyExists on create (another replica created it first): not logged, retried, then follows', async () => {
    let racing = true;
    const r = rig({
      preCreate: false,
      memory: {
        fault: (call) => {
          if (racing && call.verb === 'create') {
            racing = false;
            r.store.create('default', { metadata: { name: 'bad-input' }, spec: { holderIdentity: 'other', leaseDurationSeconds: 15 } });
            return { kind: 'error', error: status(409, 'AlreadyExists') };
          }
          return undefined;
        },
      },
    });
    expect(await r.clock.advanceUntil(() => r.elector.getLeader() === 'other', 30_000)).toBe(true);
    expect(racing).toBe(false);
    expect(r.elector.isLeader()).toBe(false);
    expect(r.logs.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
    // 'other' never renews: taken over one lease duration after it was first seen, not before.
    await r.clock.advance(14_000);
    expect(r.elector.isLeader()).toBe(false);
    expect(await r.clock.advanceUntil(() => r.elector.isLeader(), 2.2 * R + 1_000)).toBe(true);
    const { pendingTimers } = await r.stop();
    expect(pendingTimers).toBe(0);
  });
});
