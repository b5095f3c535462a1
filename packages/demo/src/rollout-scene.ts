/**
 * `pnpm demo --rollout`: replica processes replaced one by one the way a Deployment's
 * RollingUpdate does it with one surge pod and none unavailable (start a new replica, wait until
 * it follows the Lease, SIGTERM the oldest old one, repeat), twice:
 *
 * - (a) `release`: SIGTERM alone. A leader releases the Lease and any follower takes it, often
 *   another old replica that is stopped next, so leadership can move once per old replica.
 * - (b) `directed`: before an old replica that leads is stopped, the demo (which knows every
 *   identity) tells it over IPC to call `handoverTo(newest)`, and waits until the newest leads.
 *   That is what a user who knows the pod names can do today; picking the target automatically on
 *   SIGTERM needs replica membership, which is future work.
 *
 * The scene talks to the processes through {@link RolloutStage} (implemented by the demo run), so
 * its order of steps and its counting are tested with a made-up stage.
 */
import { countLeadership, type LeaderTerm } from './leadership.js';
import type { RolloutPhaseRecord } from './record.js';
import { formatDuration } from './timeline.js';

/** What the scene needs from the demo run. */
export interface RolloutStage {
  /** Forks a replica and resolves once it is ready and follows the Lease. */
  addReplica(identity: string): Promise<void>;
  /** The replica leading now, if any. */
  leader(): string | undefined;
  /** Asks the leader `from` to hand over to `to`; resolves once a replica other than `from` leads. */
  handOver(from: string, to: string): Promise<void>;
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
  release: '(a) SIGTERM releases',
  directed: '(b) handoverTo(newest), then SIGTERM',
};

/**
 * Replaces `old` with `fresh` (same length), one by one, the `variant` way; returns what it did to
 * leadership, counted from the first new replica's start until the last old one is gone and a
 * replica leads.
 */
export async function runRolloutPhase(stage: RolloutStage, variant: RolloutPhaseRecord['variant'], old: readonly string[], fresh: readonly string[]): Promise<RolloutPhaseRecord> {
  const label = ROLLOUT_LABELS[variant];
  const startAt = stage.now();
  stage.say(`rollout ${label}: replacing ${old.join(', ')} with ${fresh.join(', ')}, one at a time`);
  for (let i = 0; i < old.length; i++) {
    const leaving = old[i]!;
    const newest = fresh[i]!;
    await stage.addReplica(newest);
    if (variant === 'directed' && stage.leader() === leaving) await stage.handOver(leaving, newest);
    await stage.stop(leaving);
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
