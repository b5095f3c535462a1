/**
 * The invariants, checked as the run goes:
 * - S1: never two replicas leading at the same virtual instant, by what their code sees: the
 *   replica's isLeader(), and its leadership signal (not aborted) whenever the process can run
 *   (not while it is frozen in a pause). Checked at every main-loop step, at every term start,
 *   and whenever user code runs (the "user work" reconcile timer, also while a resumed process
 *   catches up, before the elector's own guard timer): user code that acts on a live signal (and,
 *   where the term offers it, term.isValid()) or on isLeader() while another replica leads breaks it;
 * - S2: leadership terms (onStartedLeading until its signal aborts) of different replicas never
 *   overlap, judged on the replicas' running time (see {@link InvariantChecker.termStarted});
 * - S3: fencing tokens never go backwards: among terms on the same Lease object (uid) they
 *   strictly increase in start order; across Lease recreation, a term's token exceeds the token of
 *   every earlier term that the process starting it had seen in a record naming another holder
 *   (any answer or watch event) before its acquiring write, and every token it held; and a Lease
 *   a leader recreates
 *   carries that leader's current token (tokens in records that never were a term's, such as a
 *   creator's claim, do not count: no term holds them);
 * - S4: a leader's guarantee never outlasts a client-go follower's view of the leader's record: at
 *   every step, for a client-go follower whose observed record (whole-second JSON) is still the
 *   Lease's, the instant it may take over (its observation time + duration) is no earlier than the
 *   end of the leader's guarantee (both converted to virtual time at their clocks' current rates);
 *   otherwise the leader pausing now would give two leaders as soon as that follower polls;
 * - G: the elector never sends a request while its leadership signal is live past its guarantee
 *   (after a pause it must step down before it acts);
 * - B: no replica process sends more requests than client-go's budget (see budget.ts) in any
 *   sliding window of 10 retry periods, in any state, under any fault;
 * - L1: after a healthy window (no fault of any kind, no pause, for the written lease duration
 *   plus the polling slack), some replica leads;
 * - L2: a directed handover to a live, connected, watching replica out of its cooldown, with no
 *   fault going on, is followed by that replica leading within 2 R, and by no other replica's
 *   term before it (handover.ts);
 * - R: no unhandled rejection, run() resolves after stop, and no timer stays pending.
 */
import { SlidingWindow, type RequestBudget } from './budget.js';
import type { Trace } from './trace.js';

export const INVARIANTS = ['S1', 'S2', 'S3', 'S4', 'G', 'B', 'L1', 'L2', 'R'] as const;
export type Invariant = (typeof INVARIANTS)[number];

export interface Violation {
  readonly invariant: Invariant;
  readonly atMs: number;
  readonly message: string;
  /**
   * For S2: the starting term's onStartedLeading ran after its own guarantee had already run out
   * (isLeader() false inside it), i.e. the elector started a term from a write answered too late.
   */
  readonly lateStart?: boolean;
  /** The last events before the violation, oldest first. */
  readonly trace: string[];
}

/** What the checker needs to know about one replica process (one incarnation). */
export interface Participant {
  readonly key: string;
  isLeader(): boolean;
  /**
   * The leadership signal of its current term is not aborted (a client-go replica: it believes
   * it leads, its OnStartedLeading context is live).
   */
  signalLive(): boolean;
  /** Paused, or resumed but still running the timers that came due during the pause. */
  suspended(): boolean;
  /** Not crashed. */
  alive(): boolean;
  /** Its terms carry leasekit fencing tokens (false for the client-go model: S3 does not apply). */
  readonly fenced: boolean;
}

/** What a term start tells the checker. */
export interface TermStart {
  readonly token: number;
  /** isLeader() inside onStartedLeading. */
  readonly isLeaderAtStart: boolean;
  /** uid of the Lease object the token was read from. */
  readonly leaseUid: string | undefined;
  /**
   * Every token the process received in a record naming another holder (or none), in an answer or
   * a watch event, with the virtual time it first did.
   */
  readonly tokensReceived: ReadonlyMap<number, number>;
  /** Virtual time its acquiring write was sent: tokens received later do not count. */
  readonly acquiringWriteSentAtMs: number;
}

/** What user code saw when it ran (the "user work" timer of a leading replica). */
export interface UserView {
  readonly signalLive: boolean;
  readonly isLeader: boolean;
  /** term.isValid(), when the term offers it. */
  readonly isValid: boolean | undefined;
}

interface Term {
  readonly id: number;
  readonly owner: Participant;
  readonly token: number;
  readonly startMs: number;
  readonly leaseUid: string | undefined;
  /** onStartedLeading ran with isLeader() already false. */
  readonly late: boolean;
  ended: boolean;
}

interface Budgeted {
  readonly budget: RequestBudget;
  readonly api: SlidingWindow;
  readonly watch: SlidingWindow;
  reported: boolean;
}

/** Whether a participant's code, if it ran now, would act as leader. */
export function leadershipVisible(p: Participant): boolean {
  return p.isLeader() || (p.signalLive() && !p.suspended());
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  private readonly active = new Set<Term>();
  private lastTerm: Term | undefined;
  private nextTermId = 1;
  private termCount = 0;
  private s1Incident = false;
  /** Per suspended participant: terms of others that started while it was suspended. */
  private readonly startedWhileSuspended = new Map<Participant, Term[]>();
  /** Per participant: the highest token of the terms it held. */
  private readonly heldTokens = new Map<Participant, number>();
  /** Tokens of every elector term started so far. */
  private readonly termTokens = new Set<number>();
  /** Participants already reported for G (once per term) and user-code S1 (once per term). */
  private readonly reportedTerms = new Set<string>();
  private readonly budgets = new Map<Participant, Budgeted>();
  /** Terms whose onStartedLeading ran after their own guarantee had already run out. */
  lateStarts = 0;
  /** Times user code saw a live signal after its term's guarantee had run out (term.isValid() false). */
  staleSignalsSeen = 0;
  /** Times user code ran in a leading replica (the user work timer). */
  userWorkRuns = 0;

  constructor(
    private readonly trace: Trace,
    private readonly now: () => number,
  ) {}

  get terms(): number {
    return this.termCount;
  }

  report(invariant: Invariant, message: string, extra: { lateStart?: boolean } = {}): void {
    this.trace.add(`VIOLATION ${invariant}: ${message}`);
    this.violations.push({ invariant, atMs: this.now(), message, ...extra, trace: this.trace.recent() });
  }

  /** S1 at one instant: how many replicas' code would act as leader (see {@link leadershipVisible}). */
  checkLeaders(participants: Iterable<Participant>): string[] {
    const leaders: string[] = [];
    for (const p of participants) if (p.alive() && leadershipVisible(p)) leaders.push(p.key);
    if (leaders.length > 1) {
      if (!this.s1Incident) this.report('S1', `${leaders.length} replicas lead at once (isLeader() or a live leadership signal): ${this.describe(participants, leaders)}`);
      this.s1Incident = true;
    } else {
      this.s1Incident = false;
    }
    return leaders;
  }

  /**
   * A term began (onStartedLeading ran). S2 is judged on running time: a term of a paused
   * replica cannot act, so a term starting while another's owner is suspended is checked when
   * that owner has caught up (its term must have ended by then); against a running owner's live
   * term it is a violation at once. Returns the term's id and a function to call when the term's
   * signal aborts.
   */
  termStarted(owner: Participant, start: TermStart, participants: Iterable<Participant>): { id: number; end: () => void } {
    const { token, isLeaderAtStart, leaseUid } = start;
    const term: Term = { id: this.nextTermId++, owner, token, startMs: this.now(), leaseUid, late: !isLeaderAtStart, ended: false };
    this.termCount++;
    if (!isLeaderAtStart) this.lateStarts++;
    for (const other of this.active) {
      if (other.owner === owner) continue;
      if (other.owner.suspended()) {
        const list = this.startedWhileSuspended.get(other.owner) ?? [];
        list.push(term);
        this.startedWhileSuspended.set(other.owner, list);
      } else {
        this.report(
          'S2',
          `${owner.key} started term #${term.id} (token ${token}) while ${other.owner.key}'s term #${other.id} (token ${other.token}, since ${fmt(other.startMs)}) was live` +
            (isLeaderAtStart ? '' : ` (onStartedLeading ran with isLeader() already false: a late answer to its acquiring write)`),
          isLeaderAtStart ? {} : { lateStart: true },
        );
      }
    }
    if (owner.fenced) this.checkTokens(owner, term, start);
    this.active.add(term);
    this.checkLeaders(participants);
    return { id: term.id, end: () => this.endTerm(term) };
  }

  /** S3: a Lease created while its creator leads must carry the creator's current token. */
  leaseCreatedWhileLeading(owner: Participant, termId: number, termToken: number, writtenToken: number | undefined): void {
    if (writtenToken === termToken) return;
    const key = `C:${owner.key}:${termId}`;
    if (this.reportedTerms.has(key)) return;
    this.reportedTerms.add(key);
    this.report('S3', `${owner.key} recreated the Lease while leading with token ${termToken}, writing leaseTransitions ${String(writtenToken)}`);
  }

  /**
   * S4: `follower` (a client-go replica) may take over `leader`'s record `marginMs` of virtual
   * time before the leader's guarantee ends.
   */
  guaranteeOutlastsFollower(leader: Participant, termId: number, follower: Participant, marginMs: number): void {
    const key = `S4:${leader.key}:${termId}`;
    if (this.reportedTerms.has(key)) return;
    this.reportedTerms.add(key);
    this.report(
      'S4',
      `${leader.key}'s guarantee runs ${Math.round(marginMs)} ms past the moment client-go follower ${follower.key} may take its record over (the follower saw no change in the record's whole-second JSON since then)`,
    );
  }

  /**
   * Every request a process sends. G: not while its signal is live past its guarantee. B: within
   * its budget (registered with {@link setBudget}).
   */
  requestSent(owner: Participant, verb: 'get' | 'create' | 'update' | 'watch', state: { signalLive: boolean; isLeader: boolean; termId: number | undefined; guaranteedUntilMs: number | undefined }): void {
    if (state.signalLive && !state.isLeader) {
      const key = `G:${owner.key}:${state.termId ?? ''}`;
      if (!this.reportedTerms.has(key)) {
        this.reportedTerms.add(key);
        const since = state.guaranteedUntilMs !== undefined ? ` (its guarantee ran out at its ${Math.round(state.guaranteedUntilMs)} ms, ${Math.round(this.now())} ms virtual)` : '';
        this.report('G', `${owner.key} sent a ${verb} with its leadership signal still live past its guarantee${since}`);
      }
    }
    const budgeted = this.budgets.get(owner);
    if (!budgeted) return;
    const { budget } = budgeted;
    const now = this.now();
    const count = verb === 'watch' ? budgeted.watch.add(now) : budgeted.api.add(now);
    const limit = verb === 'watch' ? budget.maxWatchOpens : budget.maxApiRequests;
    if (count > limit && !budgeted.reported) {
      budgeted.reported = true;
      this.report(
        'B',
        `${owner.key} sent ${count} ${verb === 'watch' ? 'watch opens' : 'API requests'} within ${Math.round(budget.windowMs)} ms, over the budget of ${limit} (client-go: a try at most every retry period)`,
      );
    }
  }

  /** Registers a process's request budget (B). */
  setBudget(owner: Participant, budget: RequestBudget): void {
    this.budgets.set(owner, { budget, api: new SlidingWindow(budget.windowMs), watch: new SlidingWindow(budget.windowMs), reported: false });
  }

  /** The most API requests a process sent in one budget window (for the report). */
  peakRequests(owner: Participant): number {
    return this.budgets.get(owner)?.api.peak ?? 0;
  }

  /**
   * User code of a leading replica ran (its reconcile timer) and saw `view`. It acts as leader
   * when isLeader() says so, or when its signal is live and (where the term offers it)
   * term.isValid() agrees: doing that while another replica leads breaks S1.
   */
  userWorkRan(owner: Participant, termId: number, view: UserView, participants: Iterable<Participant>): void {
    this.userWorkRuns++;
    const acts = view.isLeader || (view.signalLive && view.isValid !== false);
    if (view.signalLive && view.isValid === false) this.staleSignalsSeen++;
    if (!acts) return;
    const others: string[] = [];
    for (const p of participants) if (p !== owner && p.alive() && leadershipVisible(p)) others.push(p.key);
    if (others.length === 0) return;
    const key = `U:${owner.key}:${termId}`;
    if (this.reportedTerms.has(key)) return;
    this.reportedTerms.add(key);
    const seen = `signal ${view.signalLive ? 'live' : 'aborted'}, isLeader() ${String(view.isLeader)}${view.isValid === undefined ? '' : `, term.isValid() ${String(view.isValid)}`}`;
    this.report('S1', `user code of ${owner.key} ran as leader (${seen}) while ${others.join(', ')} led`);
  }

  /** The owner of these terms crashed: its work died with it. */
  crashed(owner: Participant): void {
    for (const term of [...this.active]) if (term.owner === owner) this.endTerm(term);
    this.startedWhileSuspended.delete(owner);
  }

  /** The owner was paused. */
  suspended(owner: Participant): void {
    if (!this.startedWhileSuspended.has(owner)) this.startedWhileSuspended.set(owner, []);
  }

  /** The owner resumed and ran every timer that came due meanwhile: its old term must be over. */
  caughtUp(owner: Participant): void {
    const startedMeanwhile = this.startedWhileSuspended.get(owner) ?? [];
    this.startedWhileSuspended.delete(owner);
    if (startedMeanwhile.length === 0) return;
    const allLate = startedMeanwhile.every((t) => t.late);
    for (const term of this.active) {
      if (term.owner !== owner) continue;
      this.report(
        'S2',
        `${owner.key} resumed with term #${term.id} (token ${term.token}) still live although term(s) #${startedMeanwhile.map((t) => t.id).join(', #')} began while it was paused` +
          (allLate ? ' (each of them a late answer to an acquiring write)' : ''),
        allLate ? { lateStart: true } : {},
      );
    }
  }

  private checkTokens(owner: Participant, term: Term, start: TermStart): void {
    const { token } = term;
    // Same Lease object: strictly increasing in start order.
    const previous = this.lastTerm;
    if (previous && previous.leaseUid === term.leaseUid && !(token > previous.token)) {
      // Either term may be a late start: its token was read before other terms began.
      const late = term.late || previous.late;
      this.report(
        'S3',
        `${owner.key}'s term #${term.id} has token ${token}, not greater than ${previous.owner.key}'s previous term #${previous.id} token ${previous.token}` +
          (term.late ? ' (this term is a late answer to its acquiring write)' : previous.late ? ' (the previous term was a late answer to its acquiring write)' : ''),
        late ? { lateStart: true } : {},
      );
    }
    // Across recreation: above every earlier term's token this process knew of.
    const held = this.heldTokens.get(owner) ?? -1;
    let seen = -1;
    for (const [received, atMs] of start.tokensReceived) {
      if (received > seen && atMs <= start.acquiringWriteSentAtMs && this.termTokens.has(received)) seen = received;
    }
    if (!(token > seen) || !(token > held)) {
      this.report(
        'S3',
        `${owner.key}'s term #${term.id} has token ${token}, not above ` +
          (token <= held ? `its own earlier term's token ${held}` : `token ${seen} of an earlier term, which it had seen in a record before its acquiring write`),
      );
    }
    this.heldTokens.set(owner, Math.max(held, token));
    this.termTokens.add(token);
    this.lastTerm = term;
  }

  private describe(participants: Iterable<Participant>, keys: string[]): string {
    const byKey = new Map<string, Participant>();
    for (const p of participants) byKey.set(p.key, p);
    return keys
      .map((k) => {
        const p = byKey.get(k);
        if (!p) return k;
        const how = p.isLeader() ? 'isLeader()' : 'live signal';
        return `${k} (${how})`;
      })
      .join(', ');
  }

  private endTerm(term: Term): void {
    if (term.ended) return;
    term.ended = true;
    this.active.delete(term);
  }
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}
