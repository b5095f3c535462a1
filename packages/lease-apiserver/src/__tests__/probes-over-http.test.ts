/**
 * Probes over real HTTP: the pure Elector with a client-node KubeConfig against the embedded
 * server and its faults, trying to break the elector's claims (no retry storms, never two
 * leaders, tokens never go backwards, nothing left running). Requests are counted where they
 * land: at the server, per client (each elector has its own bearer token). Timings are short but
 * valid (1500/1000/250 ms); waits are bounded polls on conditions; the only time-based
 * assertions are upper bounds on requests per elapsed time, which a slow machine only helps.
 * A probe that found a violation stays a plain (failing) test, its repro in its comment.
 */
import { describe, expect, it } from '@jest/globals';
import type { Elector, ElectorConfig, LeadershipTerm } from '@leasekit/k8s-leaderelection';
import type { FaultHandle, RequestRecord } from '../index.js';
import { waitFor } from './helpers.js';
import { NS, TIMINGS, electorOver, from, seedFreeLease, serverFixture } from './server-fixture.js';

const R = TIMINGS.retryPeriodMs;

interface Replica {
  id: string;
  lease: string;
  elector: Elector;
  stop: AbortController;
  done: Promise<void>;
  finished: boolean;
  terms: { term: LeadershipTerm; signal: AbortSignal; othersLeading: string[] }[];
  stopped: string[];
}

const fx = serverFixture<Replica>((server) => server.faults.clear());

/** Who leads by what user code sees: isLeader(), or a leadership signal not yet aborted. */
const leadersBesides = (me: Replica | undefined, lease: string): string[] =>
  fx.replicas.filter((r) => r !== me && r.lease === lease && (r.elector.isLeader() || r.terms.some((t) => !t.signal.aborted))).map((r) => r.id);

/** An elector whose requests carry `Bearer <id>`, so faults and records can single it out. */
function replica(id: string, lease: string, overrides: Partial<ElectorConfig> = {}): Replica {
  const stop = new AbortController();
  const r: Replica = { id, lease, stop, done: Promise.resolve(), finished: false, terms: [], stopped: [], elector: undefined as unknown as Elector };
  r.elector = electorOver(fx.server, id, { leaseName: lease, maxPeerLeaseDurationMs: TIMINGS.leaseDurationMs, ...overrides }, {
    onStartedLeading: (signal, term) => {
      r.terms.push({ term, signal, othersLeading: leadersBesides(r, lease) });
    },
    onStoppedLeading: (info) => {
      r.stopped.push(info.reason);
    },
  });
  r.done = r.elector.run(stop.signal).then(() => {
    r.finished = true;
  });
  fx.replicas.push(r);
  return r;
}

const isWrite = (rec: RequestRecord): boolean => rec.verb === 'update' || rec.verb === 'create';
const freeLease = (name: string, token = 0): void => seedFreeLease(fx.server, name, token);
const elapsedSince = async (since: number, ms: number, what: string): Promise<void> => waitFor(() => performance.now() - since >= ms, what, ms + 10_000);

describe('probe over HTTP: no retry storms, counted at the server', () => {
  it('a leader shutting down against a server that answers its PUTs with 409 releases with about one GET + PUT per retry period', async () => {
    // client-go releases with one GET and one PUT. release() retries 409 at once, without a pause,
    // until the renew deadline: a persistent 409 (injected here; a webhook or a busy annotating
    // controller in real life) turns shutdown into a tight GET/PUT loop for the renew deadline.
    freeLease('storm');
    const a = replica('a', 'storm');
    await waitFor(() => a.elector.isLeader(), 'a leads');
    fx.server.faults.addError({ code: 409, verbs: ['update'], client: { token: 'a' } });
    const mark = fx.records.length;
    a.stop.abort();
    await a.done;
    const release = fx.records.slice(mark).filter(from('a'));
    // Generous: one GET + PUT per retry period over the whole renew deadline, plus one pair.
    const budget = 2 * (1 + Math.floor(TIMINGS.renewDeadlineMs / R));
    expect({ requests: release.length, within: release.length <= budget }).toEqual({ requests: release.length, within: true });
  });

  // One free Lease per case, one follower per Lease, the faults scoped to its token. Every case runs
  // at once for the same stretch of time.
  type Case = { name: string; minGapMs: number; inject: (token: string) => FaultHandle | void };
  const cases: Case[] = [
    { name: '500 on every request', minGapMs: R, inject: (token) => fx.server.faults.addError({ code: 500, verbs: ['get', 'update', 'create'], client: { token } }) },
    { name: '503 Retry-After 1 on every write', minGapMs: 1_000, inject: (token) => fx.server.faults.addError({ code: 503, retryAfterSeconds: 1, verbs: ['update', 'create'], client: { token } }) },
    { name: '429 (Retry-After 1) on every request', minGapMs: 1_000, inject: (token) => fx.server.faults.addError({ code: 429, verbs: ['get', 'update', 'create'], client: { token } }) },
    { name: '403 on every write', minGapMs: R, inject: (token) => fx.server.faults.addError({ code: 403, verbs: ['update', 'create'], client: { token } }) },
    { name: '409 on every write', minGapMs: R, inject: (token) => fx.server.faults.addError({ code: 409, verbs: ['update', 'create'], client: { token } }) },
    { name: 'every write committed, answer never sent', minGapMs: R, inject: (token) => fx.server.faults.addDropResponse({ client: { token } }) },
    { name: 'every write committed, connection reset', minGapMs: R, inject: (token) => fx.server.faults.addDropResponse({ mode: 'reset', client: { token } }) },
    { name: 'every request hanging', minGapMs: R, inject: (token) => fx.server.faults.addHang({ verbs: ['get', 'update', 'create'], client: { token } }) },
    { name: 'reset-mode partition', minGapMs: R, inject: (token) => fx.server.faults.partition({ client: { token }, mode: 'reset' }) },
  ];

  for (const strategy of ['poll', 'watch'] as const) {
    it(`${strategy}ing followers that want a free Lease send no more than client-go's tries under: ${cases.map((c) => c.name).join('; ')}`, async () => {
      cases.forEach((c, i) => {
        const token = `${strategy}-${i}`;
        freeLease(`lease-${strategy}-${i}`);
        c.inject(token);
      });
      const since = performance.now();
      cases.forEach((_c, i) => replica(`${strategy}-${i}`, `lease-${strategy}-${i}`, { followerStrategy: strategy }));
      await elapsedSince(since, 16 * R, 'sixteen retry periods');
      const elapsed = performance.now() - since;
      const report = cases.map((c, i) => {
        const mine = fx.records.filter(from(`${strategy}-${i}`)).filter((rec) => rec.resource === 'leases');
        const gets = mine.filter((rec) => rec.verb === 'get').length;
        const writes = mine.filter(isWrite).length;
        const budget = Math.floor(elapsed / c.minGapMs) + 1;
        // A try is at most one GET and one write; a watching follower's try may be a single
        // compare-and-swap write on a record its watch showed, without a GET of its own.
        const ok = gets >= 1 && gets <= budget && writes <= budget && (strategy === 'watch' || writes <= gets);
        return { case: c.name, gets, writes, ok, budget };
      });
      expect(report.filter((r) => !r.ok)).toEqual([]);
      expect(fx.replicas.filter((r) => r.elector.isLeader()).map((r) => r.id)).toEqual([]);
    });
  }
});

describe('probe over HTTP: never two leaders, tokens only go up', () => {
  it('three watching electors through lost answers, a hang partition of the leader, a reset partition, 503s and a deletion', async () => {
    const lease = 'chaos';
    freeLease(lease, 3);
    const ids = ['a', 'b', 'c'];
    for (const id of ids) replica(id, lease, { followerStrategy: 'watch' });
    let worst = 0;
    const sample = (): boolean => {
      worst = Math.max(worst, fx.replicas.filter((r) => r.elector.isLeader()).length);
      return false;
    };
    const leader = async (): Promise<Replica> => {
      await waitFor(() => sample() || fx.replicas.filter((r) => r.elector.isLeader()).length === 1, 'a leader', 20_000, 2);
      return fx.replicas.find((r) => r.elector.isLeader())!;
    };
    const settle = async (ms: number): Promise<void> => {
      const since = performance.now();
      await waitFor(() => sample() || performance.now() - since >= ms, `${ms} ms`, ms + 10_000, 2);
    };

    let l = await leader();
    // 1. The leader's writes commit but their answers are lost (its renewals look failed to it).
    const drops = fx.server.faults.addDropResponse({ client: { token: l.id } });
    await settle(4 * R);
    drops.remove();
    l = await leader();
    // 2. The leader is cut off (requests held until healing), then comes back.
    const cut = fx.server.faults.partition({ client: { token: l.id } });
    await settle(8 * R);
    cut.remove();
    l = await leader();
    // 3. A follower's connections are reset; everyone gets 503 with Retry-After for a while.
    const follower = fx.replicas.find((r) => r !== l)!;
    const reset = fx.server.faults.partition({ client: { token: follower.id }, mode: 'reset' });
    const unavailable = fx.server.faults.addError({ code: 503, retryAfterSeconds: 1, rate: 0.5 });
    await settle(6 * R);
    reset.remove();
    unavailable.remove();
    // 4. The Lease is deleted under the leader.
    l = await leader();
    fx.server.store.delete(NS, lease);
    await settle(8 * R);
    await leader();

    const terms = fx.replicas.flatMap((r) => r.terms.map((t) => ({ id: r.id, token: t.term.token, othersLeading: t.othersLeading })));
    expect(terms.length).toBeGreaterThanOrEqual(2); // the faults did force a handover
    expect(terms.filter((t) => t.othersLeading.length > 0)).toEqual([]);
    expect(worst).toBe(1);
    const tokens = [...terms].map((t) => t.token);
    const sorted = [...new Set(tokens)].sort((x, y) => x - y);
    expect(tokens.length).toBe(sorted.length); // no token used by two terms
  });
});

describe('probe over HTTP: nothing keeps running after run() resolves', () => {
  it('once run() resolved, the server sees no more requests and no open watch from that elector', async () => {
    freeLease('quiet');
    const a = replica('a', 'quiet');
    await waitFor(() => a.elector.isLeader(), 'a leads');
    const followers = ['b', 'c'].map((id) => replica(id, 'quiet', { followerStrategy: 'watch' }));
    await waitFor(() => fx.server.openWatchCount === 2, 'two watches open');
    // One follower's watch keeps failing, so it is in backoff when it stops.
    fx.server.faults.cutWatches({ client: { token: 'c' } });
    fx.server.faults.addError({ code: 500, verbs: ['watch'], client: { token: 'c' } });
    for (const r of [a, ...followers]) r.stop.abort();
    await Promise.all(fx.replicas.map((r) => r.done));
    const resolvedAt = performance.now();
    await waitFor(() => fx.server.openWatchCount === 0, 'watches closed');
    await elapsedSince(resolvedAt, 6 * R, 'six retry periods');
    // Records share the process's monotonic clock: nothing may arrive after run() resolved.
    expect(fx.records.filter((rec) => rec.startedAtMs >= resolvedAt).map((rec) => `${rec.method} ${rec.url}`)).toEqual([]);
    expect(fx.server.openWatchCount).toBe(0);
  });
});
