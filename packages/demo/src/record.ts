/**
 * What happened during a demo run, as plain data: the replicas, their leadership terms, the
 * signals the demo sent and the two measurements. The summary table and the SVG picture are both
 * drawn from this one record, so they cannot disagree with each other or with the timeline.
 * All times are wall-clock epoch milliseconds (see `nowMs`).
 */
import type { ScrapedRecord } from './scraped.js';

/** One leadership term of one replica. */
export interface TermRecord {
  readonly startAt: number;
  /** The term's fencing token. */
  readonly token: number;
  /** When the term ended; undefined while it runs. */
  endAt: number | undefined;
  /** Why: the elector's stop reason, or `SIGKILL` when the process died leading. */
  endedBy: string | undefined;
}

/** One replica process. */
export interface ReplicaRecord {
  readonly identity: string;
  /** When the demo forked it. */
  readonly forkedAt: number;
  pid: number | undefined;
  /** Its /metrics and /healthz port. */
  port: number | undefined;
  readyAt: number | undefined;
  exitedAt: number | undefined;
  /** `exit 0`, `SIGKILL`, ... once it exited. */
  exit: string | undefined;
  readonly terms: TermRecord[];
}

/** A signal the demo sent to a replica, and why. */
export interface SignalRecord {
  readonly signal: 'SIGKILL' | 'SIGTERM';
  readonly target: string;
  readonly at: number;
  readonly purpose: 'failover' | 'handover' | 'shutdown' | 'rollout' | 'coordinated';
}

/**
 * One rolling update of `--rollout`: how its old replicas left on SIGTERM (`release`: they
 * released; `newest`: `handoverOnShutdown: 'newest'`), and what it did to leadership.
 */
export interface RolloutPhaseRecord {
  readonly variant: 'release' | 'newest';
  readonly label: string;
  readonly startAt: number;
  readonly endAt: number;
  /** Terms that began in the phase: each is one move of leadership. */
  readonly changes: number;
  /** Time in the phase during which no replica led. */
  readonly leaderlessMs: number;
  /** Who led, in order (the leader at the phase's start first). */
  readonly leaders: string[];
}

/**
 * `--coordinated`: candidates of different emulation versions under the server's coordinator; the
 * counted window runs from the oldest candidate's start until it leads.
 */
export interface CoordinatedRecord {
  /** Each candidate's emulation version. */
  readonly versions: Record<string, string>;
  /** The candidate with the oldest emulation version, started last. */
  readonly oldest: string;
  /** Candidates that never led during the scene (the newest must be among them). */
  readonly neverLed: string[];
  readonly startAt: number;
  readonly endAt: number;
  /** Terms that began in the window. */
  readonly changes: number;
  /** Time in the window during which no candidate led. */
  readonly leaderlessMs: number;
  /** Who led in the window, in order. */
  readonly leaders: string[];
}

/** A timed takeover. */
export interface Measurement {
  readonly kind: 'failover' | 'handover';
  /** The replica that was signalled (the old leader). */
  readonly from: string;
  /** The replica that took over. */
  readonly to: string;
  /** When the signal was sent. */
  readonly signalAt: number;
  /** When the new leader's `leader.became` was published (right after its onStartedLeading). */
  readonly takeoverAt: number;
  /**
   * Failover: the killed leader's last successful renewal (the renewTime it wrote in the Lease).
   * Handover: when the old leader's release was written. Undefined when the Lease view missed it.
   */
  readonly anchorAt: number | undefined;
}

/** The whole run. */
export interface DemoRecord {
  readonly startedAt: number;
  endedAt: number;
  /** Where the Lease lived: `embedded server http://...`, `kubeconfig FILE` or `in-cluster`. */
  readonly target: string;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaseDurationMs: number;
  readonly followerStrategy: string;
  readonly replicas: ReplicaRecord[];
  readonly signals: SignalRecord[];
  readonly measurements: Measurement[];
  /** With `--prometheus`: the replicas' `is_leader` series as Prometheus scraped them. */
  scraped?: ScrapedRecord;
  /** With `--rollout`: the two rolling updates. */
  rollout?: RolloutPhaseRecord[];
  /** With `--coordinated`: the takeover by the oldest candidate. */
  coordinated?: CoordinatedRecord;
}

/** Opens a term (on `leader.became`). */
export function beginTerm(replica: ReplicaRecord, at: number, token: number): void {
  replica.terms.push({ startAt: at, token, endAt: undefined, endedBy: undefined });
}

/** Closes the replica's running term, if any (on `leader.lost`, or when the process died). */
export function endTerm(replica: ReplicaRecord, at: number, endedBy: string): void {
  const open = replica.terms.find((t) => t.endAt === undefined);
  if (!open) return;
  open.endAt = at;
  open.endedBy = endedBy;
}

/** Total time a replica led, counting a still-running term up to `untilAt`. */
export function timeLedMs(replica: ReplicaRecord, untilAt: number): number {
  return replica.terms.reduce((sum, t) => sum + ((t.endAt ?? untilAt) - t.startAt), 0);
}
