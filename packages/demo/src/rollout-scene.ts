/**
 * `pnpm demo --rollout`: replica processes replaced one by one the way a Deployment's
 * RollingUpdate does it with one surge pod and none unavailable (start a new replica, wait until
 * it follows the Lease, SIGTERM the oldest old one, repeat), twice. The scene only forks and
 * SIGTERMs; how a leader leaves is the replicas' own configuration:
 *
 * - (a) `release`: the old replicas run without `handoverOnShutdown`. A leader that gets SIGTERM
 *   releases the Lease and any follower takes it, often another old replica that is stopped next,
 *   so leadership can move once per old replica.
 * - (b) `newest`: the old replicas run with `handoverOnShutdown: 'newest'`. A leader that gets
 *   SIGTERM hands the Lease to the most recently joined live replica (its membership Lease says
 *   which), a new one that stays, so leadership moves once.
 *
 * Every replica the scene forks is a "new version" with `handoverOnShutdown: 'newest'`: the
 * replicas (a) brings in are the old replicas of (b).
 *
 * The scene talks to the processes through {@link RolloutStage} (implemented by the demo run), so
 * its order of steps and its counting are tested with a made-up stage.
 */
import { countLeadership, type LeaderTerm } from './leadership.js';
import type { RolloutPhaseRecord } from './record.js';
import { formatDuration } from './timeline.js';

/** How a forked replica is configured. */
export interface RolloutReplicaOptions {
  /** Run with `handoverOnShutdown: 'newest'` (and a membership). */
  readonly handoverOnShutdown: boolean;
}

/** What the scene needs from the demo run. */
export interface RolloutStage {
  /** Forks a replica and resolves once it is ready and follows the Lease. */
  addReplica(identity: string, options: RolloutReplicaOptions): Promise<void>;
  /** The replica leading now, if any. */
  leader(): string | undefined;
  /** SIGTERMs a replica and resolves once it exited and, if it led, another replica leads. */
  stop(identity: string): Promise<void>;
  /** Resolves once some replica leads. */
  untilLeader(): Promise<void>;
  /** Every leadership term so far. */
  terms(): LeaderTerm[];
  now(): number;
  say(text: string): void;
}

export const ROLLOUT_LABELS: Record<RolloutPhaseRecord['variant'], string> = {
  release: '(a) SIGTERM, old replicas release',
  newest: "(b) SIGTERM, old replicas with handoverOnShutdown: 'newest'",
};

/** The replicas a rollout forks run with handover on shutdown (the new version turns it on). */
export const NEW_REPLICA_OPTIONS: RolloutReplicaOptions = { handoverOnShutdown: true };

/**
 * Replaces `old` with `fresh` (same length), one by one, with SIGTERM only; `variant` says how the
 * old replicas were configured (the caller started them so). Returns what it did to leadership,
 * counted from the first new replica's start until the last old one is gone and a replica leads.
 */
export async function runRolloutPhase(stage: RolloutStage, variant: RolloutPhaseRecord['variant'], old: readonly string[], fresh: readonly string[]): Promise<RolloutPhaseRecord> {
  const label = ROLLOUT_LABELS[variant];
  const startAt = stage.now();
  stage.say(`rollout ${label}: replacing ${old.join(', ')} with ${fresh.join(', ')}, one at a time (new replicas run with handoverOnShutdown: 'newest')`);
  for (let i = 0; i < old.length; i++) {
    await stage.addReplica(fresh[i]!, NEW_REPLICA_OPTIONS);
    await stage.stop(old[i]!);
  }
  await stage.untilLeader();
  const endAt = stage.now();
  const count = countLeadership(stage.terms(), startAt, endAt);
  return { variant, label, startAt, endAt, ...count };
}

/** The rollout's lines for the closing summary. */
export function rolloutSummaryLines(phases: readonly RolloutPhaseRecord[]): string[] {
  return phases.map(
    (p) =>
      `rollout ${p.label}: ${p.changes} leadership change${p.changes === 1 ? '' : 's'}, leaderless ${formatDuration(p.leaderlessMs)} in all; led in turn: ${p.leaders.join(' > ') || 'nobody'}`,
  );
}
