import { describe, expect, it } from '@jest/globals';
import { ShardLedger } from './shard-ledger.js';
import { runShardsScene, shardsSummaryLines, type ShardsStage } from './shards-scene.js';

const LEASE_MS = 2000;

/**
 * A made-up shard set on a made-up clock: starting a replica takes 100 ms; balancing gives free
 * shards (and, one lease duration later, a dead replica's) to the least loaded live replica, then
 * moves one shard at a time (500 ms apart, 5 ms from lost to acquired) from the most loaded to the
 * least loaded until every count is floor or ceil; each move costs 10 requests.
 */
class FakeSet implements ShardsStage {
  t = 1000;
  readonly ledger: ShardLedger;
  readonly log: string[] = [];
  readonly said: string[] = [];
  private reqs = 0;
  private token = 1;

  constructor(
    shards: number,
    private readonly quirk: 'none' | 'never-balanced' | 'overlap' = 'none',
  ) {
    this.ledger = new ShardLedger(shards);
  }

  addReplica(identity: string): Promise<void> {
    this.t += 100;
    this.log.push(`add ${identity}`);
    return Promise.resolve();
  }

  kill(identity: string): Promise<void> {
    this.t += 10;
    this.ledger.died(identity, 'SIGKILL', this.t);
    this.log.push(`kill ${identity}`);
    return Promise.resolve();
  }

  untilBalanced(live: readonly string[]): Promise<boolean> {
    this.log.push(`balance ${live.join(',')}`);
    if (this.quirk === 'never-balanced') return Promise.resolve(false);
    const count = (id: string): number => this.ledger.heldBy(id).length;
    const least = (): string => [...live].sort((a, b) => count(a) - count(b))[0]!;
    const orphaned = this.ledger.holders.flatMap((h, s) => (live.includes(h) ? [] : [s]));
    if (orphaned.some((s) => this.ledger.holders[s] !== '')) this.t += LEASE_MS;
    for (const s of orphaned) this.ledger.acquired(least(), s, this.token++, this.t);
    for (;;) {
      const sorted = [...live].sort((a, b) => count(b) - count(a));
      const [most, fewest] = [sorted[0]!, sorted.at(-1)!];
      if (count(most) - count(fewest) <= 1) break;
      const shard = this.ledger.heldBy(most)[0]!;
      this.t += 500;
      // The overlap quirk: the new holder starts before the old one's term ended.
      const lostAt = this.quirk === 'overlap' ? this.t + 10 : this.t;
      this.ledger.lost(most, shard, 'handed_over', lostAt);
      this.ledger.acquired(fewest, shard, this.token++, this.t + 5);
      this.reqs += 10;
    }
    this.t += 2500; // the quiet period
    return Promise.resolve(true);
  }

  picture(): void {
    this.log.push('picture');
  }

  stopAll(live: readonly string[]): Promise<void> {
    for (const id of live) for (const s of this.ledger.heldBy(id)) this.ledger.lost(id, s, 'released', this.t);
    this.log.push('stop all');
    return Promise.resolve();
  }

  requests(): number {
    return this.reqs;
  }

  now(): number {
    return this.t;
  }

  say(text: string): void {
    this.said.push(text);
  }
}

describe('the shards scene', () => {
  it('starts the replicas, kills the one holding the most shards, adds one, waits for the balance after each, then stops everyone', async () => {
    const stage = new FakeSet(12);
    await runShardsScene(stage, 4);
    expect(stage.log).toEqual([
      'add replica-1',
      'add replica-2',
      'add replica-3',
      'add replica-4',
      'balance replica-1,replica-2,replica-3,replica-4',
      'picture',
      'kill replica-1',
      'balance replica-2,replica-3,replica-4',
      'picture',
      'add replica-5',
      'balance replica-2,replica-3,replica-4,replica-5',
      'picture',
      'stop all',
    ]);
    expect(stage.said.some((line) => line.startsWith('SIGKILL replica-1, holding shards '))).toBe(true);
  });

  it('counts each phase: the crashed replica’s shards moved after one lease duration unowned, the joiner’s floor share moved by handover', async () => {
    const stage = new FakeSet(12);
    const result = await runShardsScene(stage, 4);
    const [start, crash, join] = result.phases;
    expect(start).toMatchObject({ name: 'start', balanced: true, minimumMoves: 0, held: { 'replica-1': 3, 'replica-2': 3, 'replica-3': 3, 'replica-4': 3 } });
    expect(crash).toMatchObject({ name: 'crash', event: 'replica-1 killed (SIGKILL)', balanced: true, moves: 3, minimumMoves: 3, maxUnownedMs: LEASE_MS });
    expect(crash!.held).toEqual({ 'replica-2': 4, 'replica-3': 4, 'replica-4': 4 });
    expect(join).toMatchObject({ name: 'join', event: 'replica-5 joined', balanced: true, moves: 3, minimumMoves: 3, maxUnownedMs: 5, requests: 30 });
    expect(result.checks.map((c) => [c.name, c.ok])).toEqual([
      ['never two holders of one shard (by the replicas’ shard.acquired / shard.lost)', true],
      ['every shard led at the end', true],
      ['balanced after start (floor/ceil of 12/4)', true],
      ['balanced after crash (floor/ceil of 12/3)', true],
      ['balanced after join (floor/ceil of 12/4)', true],
    ]);
  });

  it('fails the balance checks and the every-shard-led check when the set never balances', async () => {
    const stage = new FakeSet(12, 'never-balanced');
    const result = await runShardsScene(stage, 4);
    const failed = result.checks.filter((c) => !c.ok).map((c) => c.name);
    expect(failed).toEqual(['every shard led at the end', 'balanced after start (floor/ceil of 12/4)', 'balanced after crash (floor/ceil of 12/3)', 'balanced after join (floor/ceil of 12/4)']);
    expect(stage.said.some((line) => line.includes('NOT balanced'))).toBe(true);
  });

  it('fails the two-holders check when a new holder’s term began before the old one’s ended', async () => {
    const stage = new FakeSet(12, 'overlap');
    const result = await runShardsScene(stage, 4);
    const check = result.checks[0]!;
    expect(check.ok).toBe(false);
    expect(check.detail).toMatch(/^shard \d+: replica-\d and replica-5/);
  });

  it('summarises the phases in a table, then the totals and one line per check', async () => {
    const result = await runShardsScene(new FakeSet(12), 4);
    const lines = shardsSummaryLines(result);
    expect(lines[0]).toMatch(/^phase +event +live +moves \(minimum\) +longest unowned +requests +held at the end$/);
    expect(lines[3]).toMatch(/^crash +replica-1 killed \(SIGKILL\) +3 +3 \(3\) +2\.000 s +0 +4 4 4$/);
    expect(lines).toContain('shards: 12; moves 6; longest a led shard went unowned: 2.000 s; Lease API requests 30');
    expect(lines.filter((l) => l.startsWith('check: ok   '))).toHaveLength(5);
  });
});
