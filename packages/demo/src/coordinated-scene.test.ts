import { describe, expect, it } from '@jest/globals';
import { FIRST_CANDIDATES, LATE_CANDIDATE, coordinatedSummaryLines, oldestCandidate, runCoordinatedScene, type CoordinatedCandidate, type CoordinatedStage } from './coordinated-scene.js';
import type { LeaderTerm } from './leadership.js';

/**
 * A made-up coordinator on a made-up clock: starting a candidate takes 100 ms; once candidates
 * exist, the one with the oldest version (or, with `pick`, a given one) is named and leads 50 ms
 * later; when an older candidate joins, the holder yields 10 ms after it (its term ends) and the
 * newcomer leads 30 ms after that.
 */
class FakeCoordinator implements CoordinatedStage {
  t = 1000;
  readonly log: string[] = [];
  private readonly candidates: CoordinatedCandidate[] = [];
  private readonly all: { identity: string; startAt: number; endAt: number | undefined }[] = [];

  constructor(private readonly pick?: string) {}

  addCandidate(candidate: CoordinatedCandidate): Promise<void> {
    this.t += 100;
    this.candidates.push(candidate);
    this.log.push(`add ${candidate.identity} ${candidate.version}`);
    const holder = this.all.find((term) => term.endAt === undefined);
    const best = oldestCandidate(this.candidates);
    if (holder && best.identity !== holder.identity && best.identity === candidate.identity) {
      holder.endAt = this.t + 10;
      this.all.push({ identity: best.identity, startAt: this.t + 40, endAt: undefined });
    }
    return Promise.resolve();
  }

  startCoordinator(): void {
    this.log.push('coordinator');
  }

  leader(): string | undefined {
    return this.all.find((term) => term.endAt === undefined)?.identity;
  }

  untilLeader(): Promise<string> {
    const open = this.all.find((term) => term.endAt === undefined);
    if (open) return Promise.resolve(open.identity);
    this.t += 50;
    const identity = this.pick ?? oldestCandidate(this.candidates).identity;
    this.all.push({ identity, startAt: this.t, endAt: undefined });
    this.log.push(`leader ${identity}`);
    return Promise.resolve(identity);
  }

  untilLeads(identity: string): Promise<void> {
    const term = this.all.find((t) => t.identity === identity && t.endAt === undefined)!;
    this.t = Math.max(this.t, term.startAt);
    this.log.push(`leads ${identity}`);
    return Promise.resolve();
  }

  settle(): Promise<void> {
    this.t += 1000;
    return Promise.resolve();
  }

  terms(): LeaderTerm[] {
    return this.all.map((term) => ({ ...term }));
  }

  now(): number {
    return this.t;
  }

  readonly said: string[] = [];
  say(text: string): void {
    this.said.push(text);
  }
}

describe('the coordinated scene', () => {
  it('starts 1.33 and 1.32, then the coordinator, waits for a leader, then starts 1.31 and waits for it to lead', async () => {
    const stage = new FakeCoordinator();
    await runCoordinatedScene(stage);
    expect(stage.log).toEqual(['add replica-1 1.33.0', 'add replica-2 1.32.0', 'coordinator', 'leader replica-2', 'add replica-3 1.31.0', 'leads replica-3']);
  });

  it('counts one leadership change and the yield gap after the oldest joins, and finds that the newest never led', async () => {
    const stage = new FakeCoordinator();
    const result = await runCoordinatedScene(stage);
    expect(result).toMatchObject({
      oldest: 'replica-3',
      versions: { 'replica-1': '1.33.0', 'replica-2': '1.32.0', 'replica-3': '1.31.0' },
      changes: 1,
      leaderlessMs: 30,
      leaders: ['replica-2', 'replica-3'],
      neverLed: ['replica-1'],
    });
    expect(result.endAt - result.startAt).toBe(100 + 40);
    expect(stage.said.some((line) => line.includes('the coordinator named replica-2 (1.32.0), the oldest'))).toBe(true);
    expect(stage.said.some((line) => line.includes('replica-2 should yield'))).toBe(true);
  });

  it('says so when the first leader is not the oldest candidate, and counts what happened', async () => {
    const stage = new FakeCoordinator('replica-1');
    const result = await runCoordinatedScene(stage);
    expect(stage.said.some((line) => line.includes('replica-1 leads, not replica-2, the oldest (1.32.0)!'))).toBe(true);
    expect(result.neverLed).toEqual(['replica-2']);
  });

  it('ranks versions numerically, not as text', () => {
    expect(oldestCandidate([{ identity: 'a', version: '1.10.0' }, { identity: 'b', version: '1.9.0' }]).identity).toBe('b');
    expect(oldestCandidate([...FIRST_CANDIDATES, LATE_CANDIDATE]).identity).toBe('replica-3');
  });

  it('summarises the scene in two lines', () => {
    expect(
      coordinatedSummaryLines({ versions: { r1: '1.33.0', r3: '1.31.0' }, oldest: 'r3', neverLed: ['r1'], startAt: 0, endAt: 1, changes: 1, leaderlessMs: 30, leaders: ['r2', 'r3'] }),
    ).toEqual(['coordinated (r1 1.33.0, r3 1.31.0): after r3 joined, 1 leadership change, leaderless 30 ms in all; led in turn: r2 > r3', 'coordinated: never led: r1']);
  });
});
