import { describe, expect, it } from '@jest/globals';
import { isParentMessage } from './protocol.js';
import { rolloutSummaryLines, runRolloutPhase, type RolloutStage } from './rollout-scene.js';
import type { LeaderTerm } from './leadership.js';

/**
 * A made-up fleet on a made-up clock: adding a replica takes 100 ms, a handover 15 ms (the term
 * ends after 10, the target leads 5 later), a SIGTERM 10 ms; a released Lease goes after 20 ms to
 * the oldest replica still running, the worst case for a rollout (it is the next to be stopped).
 */
class FakeStage implements RolloutStage {
  t = 1000;
  readonly alive: string[];
  readonly log: string[] = [];
  private readonly all: { identity: string; startAt: number; endAt: number | undefined }[] = [];

  constructor(replicas: string[], leader: string) {
    this.alive = [...replicas];
    this.all.push({ identity: leader, startAt: 0, endAt: undefined });
  }

  addReplica(identity: string): Promise<void> {
    this.t += 100;
    this.alive.push(identity);
    this.log.push(`add ${identity}`);
    return Promise.resolve();
  }

  leader(): string | undefined {
    return this.all.find((term) => term.endAt === undefined)?.identity;
  }

  private lead(identity: string): void {
    this.all.push({ identity, startAt: this.t, endAt: undefined });
  }

  private endTerm(): void {
    this.all.find((term) => term.endAt === undefined)!.endAt = this.t;
  }

  handOver(from: string, to: string): Promise<void> {
    this.log.push(`handover ${from} -> ${to}`);
    this.t += 10;
    this.endTerm();
    this.t += 5;
    this.lead(to);
    return Promise.resolve();
  }

  stop(identity: string): Promise<void> {
    this.log.push(`SIGTERM ${identity}`);
    const led = this.leader() === identity;
    this.t += 10;
    this.alive.splice(this.alive.indexOf(identity), 1);
    if (led) {
      this.endTerm();
      this.t += 20;
      this.lead(this.alive[0]!);
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
  it('(a) with SIGTERM alone, leadership can hop over every old replica: one change and one gap per old leader', async () => {
    const stage = new FakeStage(OLD, 'replica-1');
    const phase = await runRolloutPhase(stage, 'release', OLD, NEW);
    expect(stage.log).toEqual(['add replica-4', 'SIGTERM replica-1', 'add replica-5', 'SIGTERM replica-2', 'add replica-6', 'SIGTERM replica-3']);
    expect(phase).toMatchObject({ variant: 'release', changes: 3, leaderlessMs: 3 * 20, leaders: ['replica-1', 'replica-2', 'replica-3', 'replica-4'] });
    expect(phase.endAt - phase.startAt).toBe(3 * (100 + 30));
  });

  it('(b) hands over to the newest replica before stopping the leader: leadership moves once, to a replica that stays', async () => {
    const stage = new FakeStage(OLD, 'replica-1');
    const phase = await runRolloutPhase(stage, 'directed', OLD, NEW);
    expect(stage.log).toEqual(['add replica-4', 'handover replica-1 -> replica-4', 'SIGTERM replica-1', 'add replica-5', 'SIGTERM replica-2', 'add replica-6', 'SIGTERM replica-3']);
    expect(phase).toMatchObject({ variant: 'directed', changes: 1, leaderlessMs: 5, leaders: ['replica-1', 'replica-4'] });
  });

  it('(b) asks only the leader to hand over, when its turn comes', async () => {
    const stage = new FakeStage(OLD, 'replica-3');
    const phase = await runRolloutPhase(stage, 'directed', OLD, NEW);
    expect(stage.log.filter((l) => l.startsWith('handover'))).toEqual(['handover replica-3 -> replica-6']);
    expect(phase).toMatchObject({ changes: 1, leaderlessMs: 5, leaders: ['replica-3', 'replica-6'] });
  });

  it('summarises each phase in one line', () => {
    const lines = rolloutSummaryLines([
      { variant: 'release', label: '(a) SIGTERM releases', startAt: 0, endAt: 1, changes: 3, leaderlessMs: 60, leaders: ['r1', 'r2', 'r3', 'r4'] },
      { variant: 'directed', label: '(b) handoverTo(newest), then SIGTERM', startAt: 1, endAt: 2, changes: 1, leaderlessMs: 5, leaders: ['r4', 'r7'] },
    ]);
    expect(lines).toEqual([
      'rollout (a) SIGTERM releases: 3 leadership changes, leaderless 60 ms in all; led in turn: r1 > r2 > r3 > r4',
      'rollout (b) handoverTo(newest), then SIGTERM: 1 leadership change, leaderless 5 ms in all; led in turn: r4 > r7',
    ]);
  });
});

describe('the handover request over IPC', () => {
  it('accepts a request naming a replica and refuses anything else', () => {
    expect(isParentMessage({ type: 'handover', to: 'replica-4' })).toBe(true);
    expect(isParentMessage({ type: 'handover', to: '' })).toBe(false);
    expect(isParentMessage({ type: 'handover' })).toBe(false);
    expect(isParentMessage({ type: 'stop', to: 'replica-4' })).toBe(false);
    expect(isParentMessage(null)).toBe(false);
  });
});
