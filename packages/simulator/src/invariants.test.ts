import { describe, expect, it } from '@jest/globals';
import { clientGoBudget } from './budget.js';
import { InvariantChecker, type Participant } from './invariants.js';
import { Trace } from './trace.js';

/** A participant whose state the test sets directly. */
interface Fake extends Participant {
  leader: boolean;
  signal: boolean;
  paused: boolean;
  dead: boolean;
}

function fake(key: string, fenced = true): Fake {
  const p: Fake = {
    key,
    fenced,
    leader: false,
    signal: false,
    paused: false,
    dead: false,
    isLeader: () => p.leader,
    signalLive: () => p.signal,
    suspended: () => p.paused,
    alive: () => !p.dead,
  };
  return p;
}

function checker(now = { ms: 0 }): { checker: InvariantChecker; now: { ms: number } } {
  return { checker: new InvariantChecker(new Trace(() => now.ms), () => now.ms), now };
}

/** A term start whose process received `seen` (at t=0) before its acquiring write (at t=10). */
const start = (token: number, seen: number[] = []) => ({
  token,
  isLeaderAtStart: true,
  leaseUid: 'u1',
  tokensReceived: new Map(seen.map((t) => [t, 0] as const)),
  acquiringWriteSentAtMs: 10,
});

describe('S1 on what user code sees', () => {
  it('counts a running replica whose leadership signal is still live as leading, even with isLeader() false', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const b = fake('b#1');
    a.signal = true; // past its guarantee: isLeader() false, signal not aborted yet
    b.leader = true;
    b.signal = true;
    c.checkLeaders([a, b]);
    expect(c.violations.map((v) => v.invariant)).toEqual(['S1']);
    expect(c.violations[0]!.message).toContain('a#1 (live signal)');
  });

  it('does not count a live signal while its process is frozen in a pause (it runs nothing)', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const b = fake('b#1');
    a.signal = true;
    a.paused = true;
    b.leader = true;
    b.signal = true;
    c.checkLeaders([a, b]);
    expect(c.violations).toEqual([]);
  });

  it('flags user code acting on a live signal while another replica leads, unless term.isValid() said no', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const b = fake('b#1');
    b.leader = true;
    // After a resume, a's reconcile timer runs before its elector's guard: signal still live.
    c.userWorkRan(a, 1, { signalLive: true, isLeader: false, isValid: false }, [a, b]);
    expect(c.violations).toEqual([]);
    expect(c.staleSignalsSeen).toBe(1);
    // The same with an elector that offers no isValid(): the signal is all user code has.
    c.userWorkRan(a, 1, { signalLive: true, isLeader: false, isValid: undefined }, [a, b]);
    expect(c.violations.map((v) => v.invariant)).toEqual(['S1']);
    expect(c.violations[0]!.message).toContain('user code of a#1 ran as leader');
  });

  it('stays silent when user code runs as the only leader', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const b = fake('b#1');
    a.leader = true;
    a.signal = true;
    c.userWorkRan(a, 1, { signalLive: true, isLeader: true, isValid: true }, [a, b]);
    expect(c.violations).toEqual([]);
    expect(c.userWorkRuns).toBe(1);
  });
});

describe('S3 across Lease recreation', () => {
  it("flags a term whose token is not above an earlier term's token its process saw before the acquiring write", () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const b = fake('b#1');
    c.termStarted(b, { ...start(7), leaseUid: 'old' }, [a, b]).end();
    c.termStarted(a, { ...start(0, [7]), leaseUid: 'recreated' }, [a, b]);
    expect(c.violations.map((v) => v.invariant)).toEqual(['S3']);
    expect(c.violations[0]!.message).toContain('not above token 7 of an earlier term');
  });

  it('flags two terms with the same token on different Lease objects (a token seen in a claim that became a term)', () => {
    const { checker: c } = checker();
    const x = fake('x#1');
    const y = fake('y#1');
    // y saw x's claim (token 5) before x took it over; the Lease is recreated and y leads with 5 too.
    c.termStarted(x, { ...start(5), leaseUid: 'first' }, [x, y]).end();
    c.termStarted(y, { ...start(5, [5]), leaseUid: 'second' }, [x, y]);
    expect(c.violations.map((v) => v.invariant)).toEqual(['S3']);
  });

  it('ignores tokens no term held (a claim deleted before it became a term) and tokens received after the acquiring write', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const late = { ...start(2), tokensReceived: new Map([[9, 20]]) }; // received at t=20, after the write at t=10
    c.termStarted(a, { ...start(0, [0, 3]), leaseUid: 'x' }, [a]).end();
    c.termStarted(a, { ...late, leaseUid: 'y' }, [a]).end();
    expect(c.violations).toEqual([]);
  });

  it('flags a term whose token is not above a token the same process held before', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    a.leader = true;
    const first = c.termStarted(a, { ...start(5), leaseUid: 'old' }, [a]);
    first.end();
    c.termStarted(a, { ...start(1), leaseUid: 'new' }, [a]);
    expect(c.violations.map((v) => v.message)).toEqual([expect.stringContaining("its own earlier term's token 5")]);
  });

  it("flags a Lease recreated by its leader with another token than the leader's", () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    c.leaseCreatedWhileLeading(a, 1, 4, 4);
    expect(c.violations).toEqual([]);
    c.leaseCreatedWhileLeading(a, 1, 4, 0);
    c.leaseCreatedWhileLeading(a, 1, 4, 0); // reported once per term
    expect(c.violations.map((v) => v.invariant)).toEqual(['S3']);
  });

  it('accepts tokens that keep rising across recreation, and ignores client-go terms', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const go = fake('c#1', false);
    c.termStarted(a, { ...start(3, [2]), leaseUid: 'x' }, [a, go]).end();
    c.termStarted(go, { ...start(0), leaseUid: 'y' }, [a, go]).end(); // client-go keeps its own token rules
    c.termStarted(a, { ...start(4, [3]), leaseUid: 'z' }, [a, go]).end();
    expect(c.violations).toEqual([]);
  });
});

describe('G: no request with a live signal past the guarantee', () => {
  it('flags a request sent while the signal is live and isLeader() is already false, once per term', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    c.requestSent(a, 'update', { signalLive: true, isLeader: true, termId: 1, guaranteedUntilMs: 100 });
    c.requestSent(a, 'get', { signalLive: false, isLeader: false, termId: 1, guaranteedUntilMs: 100 });
    expect(c.violations).toEqual([]);
    c.requestSent(a, 'update', { signalLive: true, isLeader: false, termId: 1, guaranteedUntilMs: 100 });
    c.requestSent(a, 'update', { signalLive: true, isLeader: false, termId: 1, guaranteedUntilMs: 100 });
    expect(c.violations.map((v) => v.invariant)).toEqual(['G']);
  });
});

describe('B: the request budget', () => {
  const R = 500;
  const budget = clientGoBudget(R, 0.01);

  it("stays silent for client-go's own worst case: a try every R of a fast-path PUT, a GET and a PUT", () => {
    const { checker: c, now } = checker();
    const a = fake('a#1');
    c.setBudget(a, budget);
    for (let t = 0; t < 60_000; t += R / 1.01) {
      now.ms = t;
      for (const verb of ['update', 'get', 'update'] as const) c.requestSent(a, verb, { signalLive: false, isLeader: false, termId: undefined, guaranteedUntilMs: undefined });
    }
    expect(c.violations).toEqual([]);
    expect(c.peakRequests(a)).toBeLessThanOrEqual(budget.maxApiRequests);
  });

  it('flags a follower retrying a failed write every 40 ms', () => {
    const { checker: c, now } = checker();
    const a = fake('a#1');
    c.setBudget(a, budget);
    for (let t = 0; t < 10_000; t += 40) {
      now.ms = t;
      for (const verb of ['get', 'update'] as const) c.requestSent(a, verb, { signalLive: false, isLeader: false, termId: undefined, guaranteedUntilMs: undefined });
    }
    expect(c.violations.map((v) => v.invariant)).toEqual(['B']);
    // "by far": about six times the budget in one window.
    expect(c.peakRequests(a)).toBeGreaterThan(5 * budget.maxApiRequests);
  });

  it('budgets watch opens separately', () => {
    const { checker: c, now } = checker();
    const a = fake('a#1');
    c.setBudget(a, budget);
    for (let t = 0; t < 5_000; t += 50) {
      now.ms = t;
      c.requestSent(a, 'watch', { signalLive: false, isLeader: false, termId: undefined, guaranteedUntilMs: undefined });
    }
    expect(c.violations.map((v) => v.message)).toEqual([expect.stringContaining('watch opens')]);
  });
});

describe('S4: the guarantee against a client-go follower', () => {
  it('reports once per term how long the guarantee outlasts the follower', () => {
    const { checker: c } = checker();
    const a = fake('a#1');
    const go = fake('d#1', false);
    c.guaranteeOutlastsFollower(a, 3, go, 412.4);
    c.guaranteeOutlastsFollower(a, 3, go, 100);
    expect(c.violations.map((v) => `${v.invariant} ${v.message}`)).toEqual([expect.stringMatching(/^S4 a#1's guarantee runs 412 ms past .* d#1/)]);
  });
});
