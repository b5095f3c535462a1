/**
 * Adversarial probes of coordinated leader election (fresh eyes): the embedded coordinator over
 * the two stores, and coordinated electors on MemoryLeaseClients sharing those stores, all on one
 * FakeClock. Each replica has its own view of time (a wall clock skewed within the drift margin,
 * and timers that can be frozen like a stopped process). Invariants checked throughout:
 * - C1: onStartedLeading only after the replica's own committed write naming it, carrying the
 *   term's token, with the guarantee counted from that write's send time;
 * - C2: no Lease create, and no write whose base (the object at the resourceVersion it carries)
 *   names another replica, or takes/renews a record whose preferredHolder names another;
 * - C3: at most one isLeader() at every step, and when one replica starts leading every other
 *   replica's term has been aborted and its onStoppedLeading called (or, for a frozen process,
 *   its guarantee is over).
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { ApiError, Elector, type Clock, type Lease, type LeaseClient, type TimerHandle } from '@leasekit/k8s-leaderelection';
import { makeStatus, silentLogger } from '@leasekit/k8s-leaderelection/internal';
import { CandidateStore, FakeClock, LeaseStore, MemoryLeaseClient, seededRandom, settle, type Fault, type MemoryCall, type WatchHandle } from '@leasekit/k8s-leaderelection/testing';
import { Coordinator } from './coordinator.js';
import { startLeaseApiServer, type LeaseApiServer, type RequestRecord } from './index.js';
import { memoryLogger, waitFor } from './__tests__/helpers.js';

const NS = 'default';
const LEASE = 'controller';
const TIMINGS = { leaseDurationMs: 6000, renewDeadlineMs: 4000, retryPeriodMs: 1000 } as const;
const DRIFT = 0.01;
/** What the guarantee leaves of the lease duration for wall-clock disagreement (docs/coordinated.md). */
const MARGIN_MS = TIMINGS.leaseDurationMs - (TIMINGS.leaseDurationMs * (1 - 2 * DRIFT)) / (1 + DRIFT);

/** A replica's clock: shared monotonic time, its own wall offset, timers that can be frozen. */
class ReplicaClock implements Clock {
  paused = false;
  private readonly queued: (() => void)[] = [];
  constructor(
    private readonly base: FakeClock,
    readonly skewMs: number,
  ) {}
  now(): number {
    return this.base.now();
  }
  wallNow(): number {
    return this.base.wallNow() + this.skewMs;
  }
  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return this.base.setTimeout(() => (this.paused ? this.queued.push(callback) : callback()), delayMs);
  }
  clearTimeout(handle: TimerHandle): void {
    this.base.clearTimeout(handle);
  }
  async resume(): Promise<void> {
    this.paused = false;
    for (const callback of this.queued.splice(0)) {
      callback();
      await settle();
    }
  }
}

interface Term {
  token: number;
  signal: AbortSignal;
  stoppedCalled: boolean;
}

interface Replica {
  id: string;
  clock: ReplicaClock;
  elector: Elector;
  inner: MemoryLeaseClient;
  terms: Term[];
  /** Committed Lease writes whose answer arrived: send time and the object returned. */
  okWrites: { sentAt: number; lease: Lease }[];
  fault: ((call: MemoryCall) => Fault | undefined) | undefined;
  controller: AbortController | undefined;
  done: Promise<void> | undefined;
  /** run() has resolved (or was never started). */
  finished: boolean;
  start(): void;
  stop(): Promise<void>;
}

class Probe {
  readonly clock = new FakeClock();
  readonly leases = new LeaseStore({ clock: this.clock });
  readonly candidates = new CandidateStore({ clock: this.clock });
  readonly coordinator: Coordinator;
  readonly replicas: Replica[] = [];
  readonly violations: string[] = [];
  /** Every Lease object by resourceVersion (the base a write carries). */
  private readonly history = new Map<string, Lease>();
  private readonly watch: WatchHandle;

  constructor(timings: { electionDurationMs?: number; requeueIntervalMs?: number } = {}) {
    this.coordinator = new Coordinator({ leases: this.leases, candidates: this.candidates, clock: this.clock, electionDurationMs: 2000, requeueIntervalMs: 1000, ...timings });
    this.watch = this.leases.watch({}, (event) => {
      const lease = event.object as Lease;
      const rv = lease.metadata?.resourceVersion;
      if (rv !== undefined && event.type !== 'DELETED') this.history.set(rv, lease);
    });
  }

  start(): this {
    this.coordinator.start();
    return this;
  }

  violation(text: string): void {
    this.violations.push(`${this.clock.now()} ms: ${text}`);
  }

  add(id: string, emulationVersion: string, options: { skewMs?: number; latencyMs?: () => number; followerStrategy?: 'watch' | 'poll' } = {}): Replica {
    const clock = new ReplicaClock(this.clock, options.skewMs ?? 0);
    const replica: Replica = {
      id,
      clock,
      elector: undefined as unknown as Elector,
      inner: undefined as unknown as MemoryLeaseClient,
      terms: [],
      okWrites: [],
      fault: undefined,
      controller: undefined,
      done: undefined,
      finished: true,
      start: () => {
        replica.controller = new AbortController();
        replica.finished = false;
        const done = replica.elector.run(replica.controller.signal);
        replica.done = done;
        void done.then(() => {
          if (replica.done === done) replica.finished = true;
        });
      },
      stop: async () => {
        replica.controller?.abort();
        if (clock.paused) await clock.resume();
        await this.clock.advanceUntil(() => replica.finished, 60_000);
        if (!replica.finished) this.violation(`${id}: run() did not resolve within 60 s of its abort`);
      },
    };
    // Every request takes at least 1 ms of the replica's own time, so a frozen replica sends nothing.
    const inner = new MemoryLeaseClient(this.leases, {
      clock,
      candidates: this.candidates,
      latencyMs: options.latencyMs ?? (() => 1),
      fault: (call) => replica.fault?.(call),
    });
    replica.inner = inner;
    const audited: LeaseClient = Object.assign(Object.create(inner) as MemoryLeaseClient, {
      create: (): Promise<Lease> => {
        this.violation(`${id} tried to create the Lease`);
        return Promise.reject(new Error('probe: create refused'));
      },
      update: async (ns: string, lease: Lease, opts?: { signal?: AbortSignal }): Promise<Lease> => {
        this.audit(id, lease);
        const sentAt = this.clock.now();
        const written = await inner.update(ns, lease, opts);
        replica.okWrites.push({ sentAt, lease: written });
        return written;
      },
    });
    replica.elector = new Elector(
      {
        identity: id,
        leaseName: LEASE,
        leaseNamespace: NS,
        ...TIMINGS,
        maxClockDriftRate: DRIFT,
        coordinated: true,
        binaryVersion: '1.33.0',
        emulationVersion,
        clock,
        random: seededRandom(this.replicas.length + 17),
        followerStrategy: options.followerStrategy ?? 'watch',
      },
      audited,
      {
        onStartedLeading: (signal, term) => {
          this.startedLeading(replica, signal, term.token);
        },
        onStoppedLeading: () => {
          const term = replica.terms.at(-1);
          if (!term) this.violation(`${id}: onStoppedLeading without a term`);
          else {
            if (!term.signal.aborted) this.violation(`${id}: onStoppedLeading before its signal aborted`);
            if (replica.elector.isLeader()) this.violation(`${id}: isLeader() true inside onStoppedLeading`);
            term.stoppedCalled = true;
          }
        },
      },
      silentLogger,
    );
    this.replicas.push(replica);
    return replica;
  }

  private audit(id: string, lease: Lease): void {
    const rv = lease.metadata?.resourceVersion ?? '';
    const base = this.history.get(rv);
    if (!base) return this.violation(`${id} wrote over resourceVersion ${rv} it cannot have seen`);
    const holder = base.spec?.holderIdentity ?? '';
    if (holder !== id) this.violation(`${id} wrote over a record naming ${JSON.stringify(holder)} (rv ${rv})`);
    const preferred = base.spec?.preferredHolder ?? '';
    if (preferred !== '' && preferred !== id && (lease.spec?.holderIdentity ?? '') === id) {
      this.violation(`${id} took or renewed a record whose preferredHolder names ${preferred} (rv ${rv})`);
    }
  }

  private startedLeading(replica: Replica, signal: AbortSignal, token: number): void {
    const { id } = replica;
    const last = replica.okWrites.at(-1);
    if (!last) this.violation(`${id} started leading without a committed write of its own`);
    else {
      if (last.lease.spec?.holderIdentity !== id) this.violation(`${id} started leading after a write naming ${last.lease.spec?.holderIdentity}`);
      if (last.lease.spec?.leaseTransitions !== token) this.violation(`${id} started term ${token} but its last write carries ${last.lease.spec?.leaseTransitions}`);
      const until = replica.elector.snapshot().guaranteedUntilMs ?? Infinity;
      if (until > last.sentAt + TIMINGS.leaseDurationMs) this.violation(`${id}: guarantee ${until} runs past its write sent at ${last.sentAt} + lease`);
    }
    for (const other of this.replicas) {
      if (other === replica) continue;
      const term = other.terms.at(-1);
      if (!term) continue;
      if (term.signal.aborted && term.stoppedCalled) continue;
      if (other.clock.paused && !other.elector.isLeader()) continue; // frozen: its guarantee is over, it acts on waking
      this.violation(`${id} started leading while ${other.id}'s term ${term.token} is not over (aborted ${term.signal.aborted}, onStoppedLeading ${term.stoppedCalled})`);
    }
    replica.terms.push({ token, signal, stoppedCalled: false });
  }

  /** Advances `ms` in steps, checking that at most one replica says it leads at each. */
  async run(ms: number, stepMs = 25, each?: () => Promise<void> | void): Promise<void> {
    const end = this.clock.now() + ms;
    while (this.clock.now() < end) {
      await this.clock.advance(Math.min(stepMs, end - this.clock.now()));
      const leaders = this.replicas.filter((r) => r.elector.isLeader()).map((r) => r.id);
      if (leaders.length > 1) this.violation(`two leaders: ${leaders.join(', ')}`);
      await each?.();
    }
  }

  leader(): Replica | undefined {
    return this.replicas.find((r) => r.elector.isLeader());
  }

  lease(): Lease | undefined {
    return this.leases.peek(NS, LEASE);
  }

  async close(): Promise<void> {
    for (const r of this.replicas) {
      r.fault = undefined;
      await r.stop();
    }
    this.coordinator.stop();
    this.watch.stop();
  }
}

let current: Probe | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

function probe(timings?: { electionDurationMs?: number; requeueIntervalMs?: number }): Probe {
  current = new Probe(timings).start();
  return current;
}

const leaseCalls = (r: Replica, verb?: MemoryCall['verb']): MemoryCall[] => r.inner.calls.filter((c) => (verb ? c.verb === verb : !c.verb.endsWith('Candidate')));

describe('coordinated probes: directed scenarios with the embedded coordinator', () => {
  it('elects the oldest emulation version; a newer replica started first yields to it (preferredHolder), releases, and the older one leads after its own write', async () => {
    const p = probe();
    const newer = p.add('newer', '1.33.0');
    newer.start();
    await p.run(10_000);
    expect(p.leader()?.id).toBe('newer');
    const older = p.add('older', '1.32.0');
    older.start();
    await p.run(20_000);
    expect(p.leader()?.id).toBe('older');
    expect(newer.terms).toHaveLength(1);
    expect(p.lease()?.spec?.holderIdentity).toBe('older');
    await p.run(30_000);
    expect(p.leader()?.id).toBe('older');
    expect(p.violations).toEqual([]);
  });

  it('a leader frozen past its lease: the coordinator elects another, the frozen one never acts as leader again after waking and writes nothing over the new holder', async () => {
    const p = probe();
    const a = p.add('a', '1.32.0');
    const b = p.add('b', '1.33.0');
    a.start();
    b.start();
    await p.run(10_000);
    expect(p.leader()?.id).toBe('a');
    a.clock.paused = true;
    await p.run(20_000);
    expect(b.elector.isLeader()).toBe(true);
    expect(a.elector.isLeader()).toBe(false);
    await a.clock.resume();
    await p.run(10_000);
    // a is the better candidate: the coordinator may hand it back, but only through b's yield.
    expect(p.violations).toEqual([]);
    expect(a.terms[0]!.signal.aborted).toBe(true);
  });

  it('with every Lease write answer of the elected replica lost for a while, it never leads until a write of its own is answered, and no one else leads meanwhile', async () => {
    const p = probe();
    const a = p.add('a', '1.32.0');
    const b = p.add('b', '1.33.0');
    a.fault = (call) => (call.verb === 'update' ? { kind: 'drop-response' } : undefined);
    a.start();
    b.start();
    await p.run(30_000);
    expect(a.terms).toHaveLength(0);
    a.fault = undefined;
    await p.run(30_000);
    expect(p.violations).toEqual([]);
    expect(p.leader()).toBeDefined();
  });

  it('the leader resigning and deleting candidates never gives two leaders, and the Lease keeps being led', async () => {
    const p = probe();
    const rs = [p.add('a', '1.31.0'), p.add('b', '1.32.0'), p.add('c', '1.33.0')];
    for (const r of rs) r.start();
    await p.run(10_000);
    for (let i = 0; i < 6; i++) {
      const leader = p.leader();
      if (leader) {
        p.candidates.delete(NS, leader.id);
        void leader.elector.resign({ cooldownMs: 0 });
      }
      await p.run(15_000);
    }
    expect(p.violations).toEqual([]);
    expect(rs.reduce((n, r) => n + r.terms.length, 0)).toBeGreaterThanOrEqual(3);
  });

  it('wall clocks behind the coordinator by 90% of the drift margin: never two leaders when the leader freezes and its candidate vanishes, with the coordinator looking every 10 ms', async () => {
    // The coordinator writes the other candidate as holder as soon as the frozen leader's record
    // expires by its own clock: the narrowest window the drift margin must cover.
    const p = probe({ electionDurationMs: 10_000, requeueIntervalMs: 10 });
    const a = p.add('a', '1.31.0', { skewMs: -0.9 * MARGIN_MS });
    const b = p.add('b', '1.32.0', { skewMs: -0.9 * MARGIN_MS });
    a.start();
    b.start();
    await p.run(10_000);
    let handovers = 0;
    for (let i = 0; i < 4; i++) {
      const leader = p.leader();
      if (!leader) {
        await p.run(5000);
        continue;
      }
      leader.clock.paused = true;
      p.candidates.delete(NS, leader.id);
      await p.run(TIMINGS.leaseDurationMs + 3000, 5);
      if (p.leader() && p.leader() !== leader) handovers++;
      await leader.clock.resume();
      await p.run(12_000, 50);
    }
    expect(handovers).toBeGreaterThanOrEqual(2);
    expect(p.violations).toEqual([]);
  }, 180_000);
});

describe('coordinated probes: request pace with the coordinator', () => {
  it('followers make at most the slow safety poll of Lease requests while one leads; the leader one write per retry period; candidates one write per refresh or answered ping', async () => {
    const p = probe({ electionDurationMs: 5000, requeueIntervalMs: 5000 });
    const rs = [p.add('a', '1.31.0'), p.add('b', '1.32.0'), p.add('c', '1.33.0')];
    for (const r of rs) r.start();
    await p.run(10_000);
    expect(p.leader()?.id).toBe('a');
    const before = rs.map((r) => ({ lease: leaseCalls(r).length, cand: r.inner.calls.filter((c) => c.verb === 'updateCandidate').length }));
    const pingsBefore = p.coordinator.counts.pings;
    const MINUTES = 10;
    await p.run(MINUTES * 60_000, 250);
    const pings = p.coordinator.counts.pings - pingsBefore;
    rs.forEach((r, i) => {
      const lease = leaseCalls(r).length - before[i]!.lease;
      const cand = r.inner.calls.filter((c) => c.verb === 'updateCandidate').length - before[i]!.cand;
      if (r.id === 'a') expect(lease).toBeLessThanOrEqual((MINUTES * 60_000) / TIMINGS.retryPeriodMs + 1);
      else expect(lease).toBeLessThanOrEqual((MINUTES * 60_000) / TIMINGS.leaseDurationMs + 2);
      expect(cand).toBeLessThanOrEqual(MINUTES / 5 + 1 + pings);
    });
    expect(p.violations).toEqual([]);
  }, 120_000);
});

describe('coordinated probes: one process, two Leases', () => {
  /** Two coordinated electors of one process, one per Lease, with these identities, run for a minute. */
  async function twoLeases(identities: string[]): Promise<{ leading: boolean[]; errors: string[] }> {
    const clock = new FakeClock();
    const leases = new LeaseStore({ clock });
    const candidates = new CandidateStore({ clock });
    const coordinator = new Coordinator({ leases, candidates, clock, electionDurationMs: 2000, requeueIntervalMs: 1000 }).start();
    const stop = new AbortController();
    const errors: string[] = [];
    const logger = { error: (message: string) => errors.push(message) };
    const electors = ['lease-x', 'lease-y'].map(
      (leaseName, i) =>
        new Elector(
          {
            identity: identities[i]!,
            leaseName,
            leaseNamespace: NS,
            ...TIMINGS,
            coordinated: true,
            binaryVersion: '1.33.0',
            clock,
            random: seededRandom(i + 1),
          },
          new MemoryLeaseClient(leases, { clock, candidates }),
          {},
          logger,
        ),
    );
    const runs = electors.map((e) => e.run(stop.signal));
    try {
      await clock.advance(60_000);
      return { leading: electors.map((e) => e.isLeader()), errors };
    } finally {
      stop.abort();
      let finished = false;
      void Promise.all(runs).then(() => (finished = true));
      await clock.advanceUntil(() => finished, 60_000);
      coordinator.stop();
    }
  }

  it('a process running coordinated electors for two Leases gets elected for both when each elector has its own identity', async () => {
    const { leading, errors } = await twoLeases(['pod-0.lease-x', 'pod-0.lease-y']);
    expect(leading).toEqual([true, true]);
    expect(errors).toEqual([]);
  });

  it('two electors sharing one identity (POD_NAME) are told so in an error log, instead of waiting silently', async () => {
    const { leading, errors } = await twoLeases(['pod-0', 'pod-0']);
    // The LeaseCandidate is named after the identity and runs for one Lease only (leaseName is
    // immutable), and the coordinator writes that name as the holder: one of the two is elected.
    expect(leading.filter(Boolean)).toHaveLength(1);
    expect(errors.some((m) => m.includes('give each its own identity'))).toBe(true);
  });
});

describe('coordinated probes: seeded chaos with the coordinator', () => {
  const seeds = Number(process.env.COORD_PROBE_SEEDS ?? 6);
  for (let seed = 1; seed <= seeds; seed++) {
    it(`seed ${seed}: lost answers, hangs, 503/429, frozen replicas, joins/leaves, candidate deletions, resigns and skewed wall clocks never break C1-C3`, async () => {
      const random = seededRandom(seed);
      const p = probe();
      const versions = ['1.31.0', '1.32.0', '1.33.0', '1.33.0'];
      const rs = versions.map((v, i) =>
        p.add(`r${i}`, v, { skewMs: (random() * 2 - 1) * 0.9 * MARGIN_MS, latencyMs: () => 1 + Math.floor(random() * 30), followerStrategy: random() < 0.5 ? 'watch' : 'poll' }),
      );
      const faultFor = (): ((call: MemoryCall) => Fault | undefined) => {
        const kind = random();
        return (call) => {
          const x = random();
          if (x > 0.25) return undefined;
          if (kind < 0.3) return call.verb === 'update' || call.verb === 'updateCandidate' ? { kind: 'drop-response' } : undefined;
          if (kind < 0.5) return { kind: 'hang' };
          if (kind < 0.75) return { kind: 'error', error: new ApiError(makeStatus(503, 'ServiceUnavailable', 'probe: unavailable')) };
          return { kind: 'error', error: new ApiError(makeStatus(429, 'TooManyRequests', 'probe: slow down'), { retryAfterSeconds: 1 + Math.floor(x * 12) }) };
        };
      };
      for (const r of rs) r.start();
      let frozenUntil = new Map<Replica, number>();
      await p.run(5 * 60_000, 25, async () => {
        const now = p.clock.now();
        for (const [r, until] of frozenUntil) {
          if (now >= until) {
            frozenUntil.delete(r);
            await r.clock.resume();
          }
        }
        if (now % 1000 !== 0) return;
        const r = rs[Math.floor(random() * rs.length)]!;
        const x = random();
        if (x < 0.08) r.fault = r.fault ? undefined : faultFor();
        else if (x < 0.12 && !r.clock.paused) {
          r.clock.paused = true;
          frozenUntil.set(r, now + 1000 + Math.floor(random() * 12_000));
        } else if (x < 0.14 && !r.clock.paused) {
          if (r.controller && !r.controller.signal.aborted) r.controller.abort();
          else if (r.finished) r.start();
        } else if (x < 0.16) {
          if (p.candidates.peek(NS, r.id)) p.candidates.delete(NS, r.id);
        } else if (x < 0.19 && r.elector.isLeader()) {
          void r.elector.resign({ cooldownMs: Math.floor(random() * 3000) });
        }
      });
      for (const [r] of frozenUntil) await r.clock.resume();
      frozenUntil = new Map();
      expect(p.violations).toEqual([]);
      expect(rs.reduce((n, r) => n + r.terms.length, 0)).toBeGreaterThanOrEqual(2);
    }, 180_000);
  }
});

describe('coordinated probes over HTTP with the embedded coordinator and faults', () => {
  let server: LeaseApiServer | undefined;
  const stops: AbortController[] = [];
  const runs: Promise<void>[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0)) s.abort();
    await Promise.all(runs.splice(0));
    await server?.close();
    server = undefined;
  });

  it('lost Lease write answers, hangs, 503 and 429 Retry-After: leaders only after their own write, one at a time, no Lease create, across resigns', async () => {
    const records: RequestRecord[] = [];
    const s = (server = await startLeaseApiServer({ coordinator: { electionDurationMs: 300, requeueIntervalMs: 100 }, seed: 11, onRequest: (r) => records.push(r) }));
    s.faults.addDropResponse({ resources: ['leases'], verbs: ['update'], rate: 0.3 });
    s.faults.addHang({ resources: ['leases'], rate: 0.05 });
    s.faults.addError({ code: 503, rate: 0.1 });
    s.faults.addError({ code: 429, retryAfterSeconds: 1, rate: 0.05 });
    const violations: string[] = [];
    const terms = new Map<string, { signal: AbortSignal; stopped: boolean }[]>();
    const electors = ['a', 'b', 'c'].map((id, i) => {
      terms.set(id, []);
      const stop = new AbortController();
      const elector: Elector = new Elector(
        { identity: id, leaseName: LEASE, leaseNamespace: NS, leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 250, clientGoFollowers: false, coordinated: true, binaryVersion: '1.33.0', emulationVersion: `1.3${i + 1}.0` },
        s.kubeConfig({ token: id }),
        {
          onStartedLeading: (signal, term) => {
            const spec = s.store.peek(NS, LEASE)?.spec;
            if (spec?.holderIdentity !== id || spec.leaseTransitions !== term.token) violations.push(`${id} started term ${term.token} on ${JSON.stringify(spec)}`);
            for (const [other, list] of terms) {
              const last = list.at(-1);
              if (other !== id && last && !(last.signal.aborted && last.stopped)) violations.push(`${id} started while ${other}'s term is not over`);
            }
            terms.get(id)!.push({ signal, stopped: false });
          },
          onStoppedLeading: () => {
            const last = terms.get(id)!.at(-1);
            if (last) last.stopped = true;
          },
        },
        memoryLogger(),
      );
      stops.push(stop);
      runs.push(elector.run(stop.signal));
      return elector;
    });
    const sample = setInterval(() => {
      const n = electors.filter((e) => e.isLeader()).length;
      if (n > 1) violations.push(`${n} leaders`);
    }, 2);
    try {
      for (let i = 0; i < 4; i++) {
        await waitFor(() => electors.some((e) => e.isLeader()), 'a leader', 30_000, 5);
        await electors.find((e) => e.isLeader())?.resign({ cooldownMs: 0 });
      }
    } finally {
      clearInterval(sample);
    }
    expect(violations).toEqual([]);
    expect(records.filter((r) => r.resource === 'leases' && r.verb === 'create' && r.headers.authorization !== undefined)).toHaveLength(0);
    expect([...terms.values()].reduce((n, l) => n + l.length, 0)).toBeGreaterThanOrEqual(4);
  });
});
