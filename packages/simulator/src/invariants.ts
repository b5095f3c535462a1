/**
 * The invariants, checked as the run goes:
 * - S1: never two replicas with isLeader() true at the same virtual instant (checked at every
 *   step of the main loop and at every term start, the only moment a replica becomes leader);
 * - S2: leadership terms (onStartedLeading until its signal aborts) of different replicas never
 *   overlap, judged on the replicas' running time (see {@link InvariantChecker.termStarted});
 * - S3: fencing tokens strictly increase from term to term, in start order, among terms acquired
 *   on the same Lease object (uid): a deleted and recreated Lease starts again at 0, as documented;
 * - L1: after a healthy window (no fault of any kind, no pause, for the written lease duration
 *   plus three retry periods, with at least one replica running), some replica leads;
 * - R: no unhandled rejection, run() resolves after stop, and no timer stays pending.
 */
import type { Trace } from './trace.js';

export const INVARIANTS = ['S1', 'S2', 'S3', 'L1', 'R'] as const;
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
  /** Paused, or resumed but still running the timers that came due during the pause. */
  suspended(): boolean;
  /** Not crashed. */
  alive(): boolean;
}

interface Term {
  readonly id: number;
  readonly owner: Participant;
  readonly token: number;
  readonly startMs: number;
  /** uid of the Lease object the token was read from. */
  readonly leaseUid: string | undefined;
  /** onStartedLeading ran with isLeader() already false. */
  readonly late: boolean;
  ended: boolean;
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
  /** Terms whose onStartedLeading ran after their own guarantee had already run out. */
  lateStarts = 0;

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

  /** S1 at one instant: how many replicas claim leadership. */
  checkLeaders(participants: Iterable<Participant>): string[] {
    const leaders: string[] = [];
    for (const p of participants) if (p.alive() && p.isLeader()) leaders.push(p.key);
    if (leaders.length > 1) {
      if (!this.s1Incident) this.report('S1', `${leaders.length} replicas report isLeader() at once: ${leaders.join(', ')}`);
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
   * term it is a violation at once. Returns a function to call when the term's signal aborts.
   */
  termStarted(
    owner: Participant,
    token: number,
    isLeaderAtStart: boolean,
    leaseUid: string | undefined,
    participants: Iterable<Participant>,
  ): () => void {
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
    // S3: tokens strictly increase across terms acquired on the same Lease object.
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
    this.lastTerm = term;
    this.active.add(term);
    this.checkLeaders(participants);
    return () => this.endTerm(term);
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

  private endTerm(term: Term): void {
    if (term.ended) return;
    term.ended = true;
    this.active.delete(term);
  }
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(3)}s`;
}
