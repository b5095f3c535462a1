import { describe, expect, it } from '@jest/globals';
import { ROLLOUT_LABELS, rolloutSummaryLines, runRolloutPhase, type RolloutReplicaOptions, type RolloutStage } from './rollout-scene.js';
import type { LeaderTerm } from './leadership.js';

/**
 * A made-up fleet on a made-up clock that behaves like the replicas: adding a replica takes
 * 100 ms, a SIGTERM 10 ms. A leader that gets SIGTERM ends its term; then, if it runs with
 * `handoverOnShutdown` and another replica is alive, the most recently added one leads 5 ms later;
 * otherwise the released Lease goes after 20 ms to the oldest replica still running, the worst case
 * for a rollout (it is the next to be stopped).
 */
class FakeStage implements RolloutStage {
  t = 1000;
  readonly alive: string[];
  readonly log: string[] = [];
  private readonly handsOver = new Set<string>();
  private readonly all: { identity: string; startAt: number; endAt: number | undefined }[] = [];

  constructor(replicas: string[], leader: string, handoverOnShutdown: boolean) {
    this.alive = [...replicas];
    if (handoverOnShutdown) for (const r of replicas) this.handsOver.add(r);
    this.all.push({ identity: leader, startAt: 0, endAt: undefined });
  }

  addReplica(identity: string, options: RolloutReplicaOptions): Promise<void> {
    this.t += 100;
    this.alive.push(identity);
    if (options.handoverOnShutdown) this.handsOver.add(identity);
    this.log.push(`add ${identity}${options.handoverOnShutdown ? ' (handover on)' : ''}`);
    return Promise.resolve();
  }

  leader(): string | undefined {
    return this.all.find((term) => term.endAt === undefined)?.identity;
  }

  stop(identity: string): Promise<void> {
    this.log.push(`SIGTERM ${identity}`);
    const led = this.leader() === identity;
    this.t += 10;
    this.alive.splice(this.alive.indexOf(identity), 1);
    if (led) {
      this.all.find((term) => term.endAt === undefined)!.endAt = this.t;
      const handover = this.handsOver.has(identity) && this.alive.length > 0;
      this.t += handover ? 5 : 20;
      this.all.push({ identity: handover ? this.alive[this.alive.length - 1]! : this.alive[0]!, startAt: this.t, endAt: undefined });
    }
    return Promise.resolve();
  }

  untilLeader(): Promise<void> {
    return Promise.resolve();
  }

  terms(): LeaderTerm[] {
    return this.all.map((term) => ({ ...term }));
  }

  now(): number {
    return this.t;
  }

  say(): void {}
}

const OLD = ['replica-1', 'replica-2', 'replica-3'];
const NEW = ['replica-4', 'replica-5', 'replica-6'];

describe('the rollout scene', () => {
  it('only forks and SIGTERMs, one old replica per new one; every new replica runs with handover on shutdown', async () => {
    const stage = new FakeStage(OLD, 'replica-1', false);
    await runRolloutPhase(stage, 'release', OLD, NEW);
    expect(stage.log).toEqual([
      'add replica-4 (handover on)', 'SIGTERM replica-1',
      'add replica-5 (handover on)', 'SIGTERM replica-2',
      'add replica-6 (handover on)', 'SIGTERM replica-3',
    ]);
  });

  it('(a) old replicas that release: leadership can hop over every old replica, one change and one gap per old leader', async () => {
    const stage = new FakeStage(OLD, 'replica-1', false);
    const phase = await runRolloutPhase(stage, 'release', OLD, NEW);
    expect(phase).toMatchObject({ variant: 'release', label: ROLLOUT_LABELS.release, changes: 3, leaderlessMs: 3 * 20, leaders: ['replica-1', 'replica-2', 'replica-3', 'replica-4'] });
    expect(phase.endAt - phase.startAt).toBe(3 * (100 + 10) + 3 * 20);
  });

  it("(b) old replicas with handoverOnShutdown: 'newest': the SIGTERMed leader hands over to the newest replica, which stays, so leadership moves once", async () => {
    const stage = new FakeStage(OLD, 'replica-1', true);
    const phase = await runRolloutPhase(stage, 'newest', OLD, NEW);
    expect(stage.log.filter((l) => l.startsWith('SIGTERM'))).toEqual(['SIGTERM replica-1', 'SIGTERM replica-2', 'SIGTERM replica-3']);
    expect(phase).toMatchObject({ variant: 'newest', changes: 1, leaderlessMs: 5, leaders: ['replica-1', 'replica-4'] });
  });

  it('(b) with the leader stopped last, it hands over to the last replica added', async () => {
    const stage = new FakeStage(OLD, 'replica-3', true);
    const phase = await runRolloutPhase(stage, 'newest', OLD, NEW);
    expect(phase).toMatchObject({ changes: 1, leaderlessMs: 5, leaders: ['replica-3', 'replica-6'] });
  });

  it('summarises each phase in one line', () => {
    const lines = rolloutSummaryLines([
      { variant: 'release', label: ROLLOUT_LABELS.release, startAt: 0, endAt: 1, changes: 3, leaderlessMs: 60, leaders: ['r1', 'r2', 'r3', 'r4'] },
      { variant: 'newest', label: ROLLOUT_LABELS.newest, startAt: 1, endAt: 2, changes: 1, leaderlessMs: 5, leaders: ['r4', 'r7'] },
    ]);
    expect(lines).toEqual([
      'rollout (a) SIGTERM, old replicas release: 3 leadership changes, leaderless 60 ms in all; led in turn: r1 > r2 > r3 > r4',
      "rollout (b) SIGTERM, old replicas with handoverOnShutdown: 'newest': 1 leadership change, leaderless 5 ms in all; led in turn: r4 > r7",
    ]);
  });
});
