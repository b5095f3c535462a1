/**
 * Adversarial probes of coordinated leader election, elector side alone (fresh eyes): the
 * coordinator is simulated by writing the stores directly. Each probe asserts what a user of
 * `coordinated: true` relies on (docs/coordinated.md): leading only after its own write, never
 * writing over a record naming another replica, answering pings within the stated bound, the
 * request pace, clean shutdown and typed configuration errors.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { sleep } from './clock.js';
import type { ElectorConfig } from './config.js';
import { Elector } from './elector.js';
import { ConfigError, apiErrorFromHttpStatus } from './errors.js';
import type { Lease, LeaseCandidate, LeaseClient } from './lease.js';
import { silentLogger } from './logger.js';
import { formatMicroTime } from './record.js';
import { CandidateStore } from './testing/candidate-store.js';
import { MemoryLeaseClient, type Fault, type MemoryCall } from './testing/memory-lease-client.js';
import { LEASE, NS, runChecked, world, type Replica, type World } from './__tests__/harness.js';

const R = 2000;
const LEASE_MS = 15_000;

interface Setup {
  w: World;
  candidates: CandidateStore;
  client: MemoryLeaseClient;
  a: Replica;
  /** The coordinator's write: the Lease names `holder` (created when missing). */
  elect(holder: string, extra?: Record<string, unknown>): Lease;
  ping(name?: string): LeaseCandidate;
  calls(verb: MemoryCall['verb']): MemoryCall[];
}

function setup(options: { config?: Partial<ElectorConfig>; fault?: (call: MemoryCall) => Fault | undefined; wrap?: (client: MemoryLeaseClient) => LeaseClient } = {}): Setup {
  const w = world(3);
  const candidates = new CandidateStore({ clock: w.clock });
  const client = new MemoryLeaseClient(w.store, { clock: w.clock, candidates, ...(options.fault ? { fault: options.fault } : {}) });
  const a = w.replica('a', { leaseClient: options.wrap ? options.wrap(client) : client, config: { coordinated: true, binaryVersion: '1.33.0', ...options.config } });
  return {
    w,
    candidates,
    client,
    a,
    elect(holder, extra = {}) {
      const current = w.store.peek(NS, LEASE);
      const spec = {
        holderIdentity: holder,
        leaseDurationSeconds: 5,
        renewTime: formatMicroTime(w.clock.wallNow()),
        strategy: 'OldestEmulationVersion',
        ...(current?.spec?.leaseTransitions != null ? { leaseTransitions: current.spec.leaseTransitions } : {}),
        ...extra,
      };
      if (!current) return w.store.create(NS, { metadata: { name: LEASE }, spec });
      return w.store.update(NS, LEASE, { ...current, spec }).lease;
    },
    ping(name = 'a') {
      const c = candidates.get(NS, name);
      return candidates.update(NS, name, { ...c, spec: { ...c.spec, pingTime: formatMicroTime(w.clock.wallNow()) } }).candidate;
    },
    calls: (verb) => client.calls.filter((c) => c.verb === verb),
  };
}

/** Whether the candidate's latest ping is answered (renewTime at or after pingTime). */
function answered(c: LeaseCandidate | undefined): boolean {
  const ping = Date.parse(c?.spec?.pingTime ?? '');
  const renew = Date.parse(c?.spec?.renewTime ?? '');
  return !Number.isNaN(ping) && renew >= ping;
}

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeEach(() => {
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

describe('C1: a coordinated replica leads only after its own write over a record naming it', () => {
  it('a take whose answer was lost (the write committed) gives no leadership until a later write of its own commits; the guarantee counts from that write', async () => {
    let drop = true;
    const s = setup({ config: { followerStrategy: 'watch' }, fault: (call) => (call.verb === 'update' && drop ? { kind: 'drop-response' } : undefined) });
    s.elect('b');
    s.a.start();
    await s.w.clock.advance(100);
    s.elect('a');
    // The take commits (the store names a with its token) but a never hears so.
    for (let t = 0; t < 20_000; t += 50) {
      await s.w.clock.advance(50);
      expect(s.a.elector.isLeader()).toBe(false);
    }
    expect(s.a.log.started).toHaveLength(0);
    expect(s.w.store.peek(NS, LEASE)?.spec?.holderIdentity).toBe('a');
    expect(s.calls('update').length).toBeGreaterThanOrEqual(2);
    drop = false;
    const before = s.calls('update').length;
    await s.w.clock.advanceUntil(() => s.a.elector.isLeader(), 30_000);
    expect(s.a.elector.isLeader()).toBe(true);
    const confirming = s.calls('update')[before]!;
    expect(s.a.log.started).toHaveLength(1);
    expect(s.a.log.started[0]!.atMs).toBeGreaterThanOrEqual(confirming.atMs);
    expect(s.a.elector.snapshot().guaranteedUntilMs!).toBeLessThanOrEqual(confirming.atMs + LEASE_MS);
    await s.a.stop();
  });

  it('a take that hangs gives no leadership, and the answer arriving after the request deadline gives none either', async () => {
    let hang = true;
    const s = setup({ config: { followerStrategy: 'watch' }, fault: (call) => (call.verb === 'update' && hang ? { kind: 'hang' } : undefined) });
    s.elect('a');
    s.a.start();
    await runChecked(s.w.clock, [s.a], 30_000);
    expect(s.a.log.started).toHaveLength(0);
    hang = false;
    await s.w.clock.advanceUntil(() => s.a.elector.isLeader(), 30_000);
    expect(s.a.log.started).toHaveLength(1);
    await s.a.stop();
  });
});

describe('C2: never creates the Lease, never writes over a record naming another replica', () => {
  const records: [string, Record<string, unknown>][] = [
    ['free with preferredHolder naming it', { holderIdentity: '', preferredHolder: 'a', leaseDurationSeconds: 1 }],
    ['live, another holder, preferredHolder naming it', { holderIdentity: 'b', preferredHolder: 'a' }],
  ];
  for (const followerStrategy of ['watch', 'poll'] as const) {
    for (const [name, extra] of records) {
      it(`${followerStrategy}: makes no Lease write over a record that is ${name}, for 2 minutes`, async () => {
        const s = setup({ config: { followerStrategy } });
        s.elect('b', extra);
        s.a.start();
        await runChecked(s.w.clock, [s.a], 120_000);
        expect(s.a.log.started).toHaveLength(0);
        expect(s.calls('update')).toHaveLength(0);
        expect(s.calls('create')).toHaveLength(0);
        await s.a.stop();
      });
    }
  }

  // A record naming it that reads as its own claim (leasekit.io/claim: its uncoordinated
  // incarnation's, or a stale marker the coordinator kept when it named it) is no coordinator
  // record it may take at once; refusing it for good left the Lease leaderless forever (the
  // coordinator does not rewrite an expired record already naming its choice). It is taken, as
  // uncoordinated mode takes its own claim, once it has expired on its own observation.
  for (const followerStrategy of ['watch', 'poll'] as const) {
    it(`${followerStrategy}: makes no Lease write over a claim naming it while it is live; takes it once expired, dropping the marker`, async () => {
      const s = setup({ config: { followerStrategy } });
      const lease = s.elect('a');
      s.w.store.update(NS, LEASE, { ...lease, metadata: { ...lease.metadata, annotations: { 'leasekit.io/claim': 'a' } } });
      const seenAt = s.w.clock.now();
      s.a.start();
      await runChecked(s.w.clock, [s.a], 5_000); // the record's leaseDurationSeconds
      expect(s.calls('update')).toHaveLength(0);
      expect(s.a.log.started).toHaveLength(0);
      expect(await s.w.clock.advanceUntil(() => s.a.elector.isLeader(), 30_000)).toBe(true);
      expect(s.calls('update')[0]!.atMs).toBeGreaterThanOrEqual(seenAt + 5_000);
      expect(s.calls('create')).toHaveLength(0);
      expect(s.w.store.get(NS, LEASE).metadata?.annotations?.['leasekit.io/claim']).toBeUndefined();
      await s.a.stop();
    });
  }

  it('a leader whose Lease the coordinator rewrites naming another (a holder write over a record it judged expired) ends its term and never writes it back', async () => {
    const s = setup({ config: { followerStrategy: 'watch' } });
    s.elect('a');
    s.a.start();
    await s.w.clock.advance(R);
    expect(s.a.elector.isLeader()).toBe(true);
    s.elect('b');
    const after = s.calls('update').length;
    await runChecked(s.w.clock, [s.a], 60_000);
    expect(s.a.elector.isLeader()).toBe(false);
    expect(s.a.log.stopped.at(-1)?.reason).toBe('lease_taken');
    // At most the one fast-path renewal that conflicted; nothing committed over b.
    expect(s.calls('update').length - after).toBeLessThanOrEqual(1);
    expect(s.w.store.peek(NS, LEASE)?.spec?.holderIdentity).toBe('b');
    await s.a.stop();
  });
});

describe('C3: a leader yields to a preferredHolder naming another candidate', () => {
  it('stops leading within one retry period of the mark, ends its term (handed_over) and releases, and never renews over the mark', async () => {
    const s = setup({ config: { followerStrategy: 'watch' } });
    s.elect('a');
    s.a.start();
    await s.w.clock.advance(R * 3);
    expect(s.a.elector.isLeader()).toBe(true);
    const marked = s.w.store.update(NS, LEASE, { ...s.w.store.peek(NS, LEASE)!, spec: { ...s.w.store.peek(NS, LEASE)!.spec, preferredHolder: 'b' } }).lease;
    const markedAt = s.w.clock.now();
    const rvs: string[] = [];
    const watch = s.w.store.watch({ namespace: NS, name: LEASE }, (e) => rvs.push(`${e.type} ${(e.object as Lease).spec?.holderIdentity ?? ''}`));
    await s.w.clock.advanceUntil(() => !s.a.elector.isLeader(), R + 100);
    expect(s.a.elector.isLeader()).toBe(false);
    expect(s.w.clock.now() - markedAt).toBeLessThanOrEqual(R + 100);
    await s.w.clock.advance(R);
    watch.stop();
    // The watch opens on the marked record; the only write after the mark is the release: no renewal naming a over it.
    expect(rvs).toEqual(['ADDED a', 'MODIFIED ']);
    expect(s.a.log.stopped).toHaveLength(1);
    expect(s.a.log.stopped[0]!.reason).toBe('handed_over');
    expect(s.w.store.peek(NS, LEASE)?.spec?.preferredHolder).toBe(marked.spec?.preferredHolder);
    await s.a.stop();
  });
});

describe('C4: request pace', () => {
  it('with the Lease missing and every GET refused with 429 Retry-After 7, no Lease request comes sooner than 7 s after the previous', async () => {
    const s = setup({ fault: (call) => (call.verb === 'get' ? { kind: 'error', error: apiErrorFromHttpStatus(429, 'slow down', { retryAfterSeconds: 7 }) } : undefined) });
    s.a.start();
    await s.w.clock.advance(120_000);
    const gets = s.calls('get').map((c) => c.atMs);
    expect(gets.length).toBeGreaterThan(3);
    for (let i = 1; i < gets.length; i++) expect(gets[i]! - gets[i - 1]!).toBeGreaterThanOrEqual(7000);
    await s.a.stop();
  });

  it('a watching replica with the Lease missing polls for it no faster than client-go (one GET per [R, 2.2R)) and writes nothing', async () => {
    const s = setup({ config: { followerStrategy: 'watch' } });
    s.a.start();
    await s.w.clock.advance(60_000);
    const gets = s.calls('get').length;
    expect(gets).toBeGreaterThanOrEqual(13);
    expect(gets).toBeLessThanOrEqual(31);
    expect(s.calls('watch').length).toBeLessThanOrEqual(31);
    expect(s.calls('create')).toHaveLength(0);
    expect(s.calls('update')).toHaveLength(0);
    await s.a.stop();
  });

  it('with every candidate write failing (503), refreshes back off R, 2R, 4R, ... and the Lease pace of a follower is unchanged', async () => {
    const s = setup({ config: { followerStrategy: 'watch' }, fault: (call) => (call.verb === 'updateCandidate' || call.verb === 'createCandidate' ? { kind: 'error', error: apiErrorFromHttpStatus(503, 'down') } : undefined) });
    s.elect('b');
    s.a.start();
    await s.w.clock.advance(30 * 60_000);
    const writes = s.calls('createCandidate').map((c) => c.atMs);
    expect(writes.length).toBeGreaterThan(5);
    expect(writes.length).toBeLessThanOrEqual(15);
    for (let i = 2; i < writes.length; i++) expect(writes[i]! - writes[i - 1]!).toBeGreaterThanOrEqual(Math.min(writes[i - 1]! - writes[i - 2]!, 1_000_000));
    // Reads before each create: one GET per attempt at most.
    expect(s.calls('getCandidate').length).toBeLessThanOrEqual(writes.length);
    expect(s.calls('get').length).toBeLessThanOrEqual((30 * 60_000) / LEASE_MS + 2);
    await s.a.stop();
  });

  it('pings every 100 ms cost at most one candidate write per second, and each is answered within 1 s', async () => {
    const s = setup({ config: { followerStrategy: 'watch' } });
    s.elect('b');
    s.a.start();
    await s.w.clock.advance(1000);
    const before = s.calls('updateCandidate').length;
    let worstMs = 0;
    let pendingSince: number | undefined;
    for (let t = 0; t < 60_000; t += 100) {
      const c = s.candidates.get(NS, 'a');
      if (pendingSince === undefined || answered(c)) {
        if (pendingSince !== undefined) worstMs = Math.max(worstMs, s.w.clock.now() - pendingSince);
        s.ping();
        pendingSince = s.w.clock.now();
      }
      await s.w.clock.advance(100);
    }
    const writes = s.calls('updateCandidate').length - before;
    expect(writes).toBeGreaterThan(30);
    expect(writes).toBeLessThanOrEqual(61);
    expect(worstMs).toBeLessThanOrEqual(1000);
    // The Lease pace is untouched by the pings: the slow safety poll only.
    expect(s.calls('get').length).toBeLessThanOrEqual(61_000 / LEASE_MS + 2);
    await s.a.stop();
  });

  it('refreshes its candidate every 5 minutes with one write each and no read after the first', async () => {
    const s = setup({ config: { followerStrategy: 'watch' } });
    s.elect('b');
    s.a.start();
    await s.w.clock.advance(30 * 60_000 + 1);
    expect(s.calls('getCandidate')).toHaveLength(1);
    expect(s.calls('createCandidate')).toHaveLength(1);
    const refreshes = s.calls('updateCandidate').map((c) => c.atMs);
    expect(refreshes).toEqual([5, 10, 15, 20, 25, 30].map((m) => m * 60_000));
    await s.a.stop();
  });
});

describe('C5: pings', () => {
  it('a ping seen while the previous refresh answer is still on its way is answered as soon as that answer arrives, not after a conflict and a backoff', async () => {
    // The first refresh (at 5 min; creation does not count) commits at once but its answer takes
    // 3 s; a ping lands 1 s in. The keeper must not overwrite the pinged object it saw on the watch
    // with the older one its slow answer carries (a conflict, then a backoff of R).
    const s = setup({
      config: { followerStrategy: 'watch' },
      wrap: (inner) =>
        Object.assign(Object.create(inner) as MemoryLeaseClient, {
          updateCandidate: async (ns: string, c: LeaseCandidate, opts?: { signal?: AbortSignal }) => {
            const result = await inner.updateCandidate!(ns, c, opts);
            if (inner.calls.filter((x) => x.verb === 'updateCandidate').length === 1) await sleep(s.w.clock, 3000, opts?.signal);
            return result;
          },
        }),
    });
    s.elect('b');
    s.a.start();
    await s.w.clock.advanceTo(5 * 60_000 + 1000);
    expect(s.calls('updateCandidate')).toHaveLength(1);
    s.ping();
    const pingAt = s.w.clock.now();
    await s.w.clock.advanceUntil(() => answered(s.candidates.peek(NS, 'a')), 20_000);
    const answeredAfter = s.w.clock.now() - pingAt;
    // At once after the slow answer (2 s after the ping); within the 1 s floor of its start anyway.
    expect(answeredAfter).toBeLessThanOrEqual(2000 + 100);
    await s.a.stop();
  });

  it('a ping sent while the candidate watch is down is answered once the watch is back (reopened within its 30 s backoff cap)', async () => {
    let watchDown = false;
    const s = setup({ config: { followerStrategy: 'watch' }, fault: (call) => (call.verb === 'watchCandidate' && watchDown ? { kind: 'error', error: apiErrorFromHttpStatus(503, 'down') } : undefined) });
    s.elect('b');
    s.a.start();
    await s.w.clock.advance(1000);
    watchDown = true;
    expect(s.candidates.stopAllWatches()).toBe(1);
    // Reopens fail for two minutes: the backoff reaches its cap.
    await s.w.clock.advance(120_000);
    s.ping();
    const pingAt = s.w.clock.now();
    await s.w.clock.advance(5000);
    watchDown = false;
    await s.w.clock.advanceUntil(() => answered(s.candidates.peek(NS, 'a')), 60_000);
    expect(answered(s.candidates.peek(NS, 'a'))).toBe(true);
    expect(s.w.clock.now() - pingAt).toBeLessThanOrEqual(5000 + 30_000 + 1000);
    await s.a.stop();
  });

  it('the renewTime answering a ping is never before the ping, even with the replica wall clock 2 s behind', async () => {
    const s = setup({ config: { followerStrategy: 'watch' } });
    s.elect('b');
    s.a.start();
    await s.w.clock.advance(1000);
    const c = s.candidates.get(NS, 'a');
    const ahead = formatMicroTime(s.w.clock.wallNow() + 2000);
    s.candidates.update(NS, 'a', { ...c, spec: { ...c.spec, pingTime: ahead } });
    await s.w.clock.advance(1500);
    expect(answered(s.candidates.peek(NS, 'a'))).toBe(true);
    // Answered once: no write loop while the wall clock catches up.
    const writes = s.calls('updateCandidate').length;
    await s.w.clock.advance(5000);
    expect(s.calls('updateCandidate').length).toBe(writes);
    await s.a.stop();
  });
});

describe('C6: shutdown and configuration', () => {
  const states: [string, (s: Setup) => Promise<void>][] = [
    ['leading', async (s) => {
      s.elect('a');
      await s.w.clock.advance(R * 2);
      expect(s.a.elector.isLeader()).toBe(true);
    }],
    ['following', async (s) => {
      s.elect('b');
      await s.w.clock.advance(R * 2);
    }],
    ['with the Lease missing', async (s) => {
      await s.w.clock.advance(R * 2);
    }],
  ];
  for (const [name, reach] of states) {
    it(`aborted while ${name} with every candidate request hanging: run() resolves, no timer or watch is left, no unhandled rejection`, async () => {
      let hang = false;
      const s = setup({ config: { followerStrategy: 'watch' }, fault: (call) => (hang && call.verb.endsWith('Candidate') ? { kind: 'hang' } : undefined) });
      s.a.start();
      await reach(s);
      hang = true;
      s.candidates.delete(NS, 'a'); // the keeper reacts: recreate (hangs)
      await s.w.clock.advance(5000);
      s.a.controller.abort();
      let finished = false;
      void s.a.done!.then(() => (finished = true));
      await s.w.clock.advanceUntil(() => finished, 60_000);
      expect(finished).toBe(true);
      expect(s.w.clock.pendingTimers).toBe(0);
      expect(s.candidates.watcherCount).toBe(0);
      expect(s.w.store.watcherCount).toBe(0);
      expect(unhandled).toEqual([]);
    });
  }

  const bad: [string, Partial<ElectorConfig>, string][] = [
    ['binaryVersion missing', {}, 'binaryVersion'],
    ['binaryVersion with a leading v', { binaryVersion: 'v1.33.0' }, 'binaryVersion'],
    ['binaryVersion with two parts', { binaryVersion: '1.33' }, 'binaryVersion'],
    ['binaryVersion a number', { binaryVersion: 1.33 as unknown as string }, 'binaryVersion'],
    ['emulationVersion newer than binaryVersion', { binaryVersion: '1.33.0', emulationVersion: '1.34.0' }, 'emulationVersion'],
    ['emulationVersion not semver', { binaryVersion: '1.33.0', emulationVersion: '1.32' }, 'emulationVersion'],
    ['an unknown strategy', { binaryVersion: '1.33.0', strategy: 'NewestFirst' }, 'strategy'],
    ['coordinated not a boolean', { coordinated: 'yes' as unknown as boolean, binaryVersion: '1.33.0' }, 'coordinated'],
    ['an identity that is no valid LeaseCandidate name', { binaryVersion: '1.33.0', identity: 'pod-1:8080' }, 'identity'],
    ['an identity longer than a LeaseCandidate name may be', { binaryVersion: '1.33.0', identity: 'x'.repeat(254) }, 'identity'],
  ];
  for (const [name, config, field] of bad) {
    it(`${name}: the constructor throws a ConfigError naming ${field}`, () => {
      const store = world().store;
      const client = new MemoryLeaseClient(store, { candidates: new CandidateStore() });
      let caught: unknown;
      try {
        new Elector({ identity: 'a', leaseName: LEASE, leaseNamespace: NS, coordinated: true, ...config }, client, {}, silentLogger);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigError);
      expect((caught as ConfigError).field).toBe(field);
    });
  }
});
