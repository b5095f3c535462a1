import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ConfigError } from '@leasekit/k8s-leaderelection';
import { LeaseStore, MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { Registry } from 'prom-client';
import { scrape } from './__tests__/helpers.js';
import { LEASE_MS, NS, SET, TIMINGS, shardWorld, type SeenEvent, type ShardReplica, type ShardWorld } from './__tests__/sharded-helpers.js';
import { ShardedLeaderElectionComponent } from './sharded-component.js';
import type { ShardedLeaderElectionComponentConfig } from './sharded-config.js';
import { createShardedLeaderElectionBus } from './sharded-events.js';

// Many fake-clock steps: slow on a busy two-core machine, never a real wait.
jest.setTimeout(120_000);

const SHARDS = 12;
const HELD = 'leasekit_leader_election_shards_held';
const TRANSITIONS = 'leasekit_leader_election_shard_transitions_total';
const MOVES = 'leasekit_leader_election_rebalance_moves_total';

let current: ShardWorld | undefined;
afterEach(async () => {
  await current?.stopAll();
  current = undefined;
});

const eventsOf = (w: ShardWorld, r: ShardReplica, name?: string): SeenEvent[] => w.timeline.filter((e) => e.replica === r.id && (name === undefined || e.name === name));
const total = (counts: number[]): number => counts.reduce((a, b) => a + b, 0);

/**
 * Three replicas joining one after another, run until each leads 4 of the 12 shards. The first
 * runs alone until its member set has settled and it leads all 12, so the two joiners receive
 * theirs by directed handover (replicas starting within settleMs of each other would each take
 * their own share at once instead).
 */
async function balancedSet(): Promise<ShardWorld> {
  const w = shardWorld(SHARDS);
  current = w;
  w.add('a');
  await w.runUntil(() => w.replicas[0]!.component.heldShards().length === SHARDS, 60_000);
  w.add('b');
  await w.run(300);
  w.add('c');
  await w.runUntil(() => w.replicas.every((r) => r.component.heldShards().length === 4), 120_000);
  return w;
}

/**
 * For every shard, the events across all replicas read acquired, lost, acquired, lost, ...:
 * the old holder's `shard.lost` is published before the new holder's `shard.acquired`.
 */
function expectBracketedPerShard(timeline: SeenEvent[]): void {
  for (let s = 0; s < SHARDS; s++) {
    const seq = timeline.filter((e) => e.name !== 'shards.changed' && e.payload.shard === s);
    expect(seq.length).toBeGreaterThan(0);
    seq.forEach((e, i) => {
      expect(e.name).toBe(i % 2 === 0 ? 'shard.acquired' : 'shard.lost');
      if (i % 2 === 1) {
        expect(e.replica).toBe(seq[i - 1]!.replica);
        expect(e.payload.token).toBe(seq[i - 1]!.payload.token);
      }
    });
  }
}

/** Each replica's `shards.changed` follows each of its acquired/lost and carries the set held after it. */
function expectChangedTracksHeld(w: ShardWorld, r: ShardReplica): void {
  const own = eventsOf(w, r);
  const held = new Set<number>();
  own.forEach((e, i) => {
    if (e.name === 'shards.changed') return;
    if (e.name === 'shard.acquired') held.add(e.payload.shard as number);
    else held.delete(e.payload.shard as number);
    const next = own[i + 1];
    expect(next?.name).toBe('shards.changed');
    expect(next?.payload.held).toEqual([...held].sort((a, b) => a - b));
  });
}

describe('ShardedLeaderElectionComponent: events', () => {
  it('publishes shard.acquired, shard.lost and shards.changed in the order users rely on while three replicas balance 12 shards', async () => {
    const w = await balancedSet();
    expectBracketedPerShard(w.timeline);
    for (const r of w.replicas) {
      expectChangedTracksHeld(w, r);
      const last = eventsOf(w, r, 'shards.changed').at(-1)!;
      expect(last.payload.held).toEqual(r.component.heldShards());
      expect(last.payload.identity).toBe(r.id);
    }
    // The first replica claimed every shard, then handed 8 of them to the two that joined.
    const handovers = w.timeline.filter((e) => e.name === 'shard.lost' && e.payload.reason === 'handed_over');
    expect(handovers).toHaveLength(8);
    expect(new Set(handovers.map((e) => e.replica))).toEqual(new Set(['a']));
    const acquired = w.timeline.find((e) => e.name === 'shard.acquired')!;
    expect(acquired.payload).toEqual({ timestamp: expect.any(Date), identity: acquired.replica, shard: expect.any(Number), token: expect.any(Number) });
    expect((acquired.payload.timestamp as Date).getTime()).toBe(Date.UTC(2025, 0, 1) + acquired.atMs);
  });

  it('a leaving replica publishes shard.lost (handed_over) for each shard before the members taking them publish shard.acquired, and ends with an empty set', async () => {
    const w = await balancedSet();
    const leaver = w.replicas[1]!;
    const itsShards = leaver.component.heldShards();
    const from = w.timeline.length;
    await w.stop(leaver);
    await w.runUntil(() => total(w.replicas.filter((r) => r !== leaver).map((r) => r.component.heldShards().length)) === SHARDS, 10_000);
    const after = w.timeline.slice(from);
    for (const s of itsShards) {
      const lost = after.findIndex((e) => e.name === 'shard.lost' && e.payload.shard === s);
      const taken = after.findIndex((e) => e.name === 'shard.acquired' && e.payload.shard === s);
      expect(after[lost]).toMatchObject({ replica: 'b', payload: { reason: 'handed_over' } });
      expect(lost).toBeGreaterThanOrEqual(0);
      expect(taken).toBeGreaterThan(lost);
      expect(after[taken]!.replica).not.toBe('b');
    }
    expect(eventsOf(w, leaver, 'shards.changed').at(-1)!.payload.held).toEqual([]);
    expectBracketedPerShard(w.timeline);
  });

  it("a crashed replica's shard.lost (renew_failed) comes before another replica's shard.acquired of the same shard", async () => {
    const w = await balancedSet();
    const victim = w.replicas[2]!;
    const itsShards = victim.component.heldShards();
    const from = w.timeline.length;
    victim.crashed = true;
    const others = w.replicas.filter((r) => r !== victim);
    await w.runUntil(() => itsShards.every((s) => others.some((r) => r.component.isLeader(s))), 30_000);
    const after = w.timeline.slice(from);
    for (const s of itsShards) {
      const lost = after.findIndex((e) => e.name === 'shard.lost' && e.payload.shard === s);
      const taken = after.findIndex((e) => e.name === 'shard.acquired' && e.payload.shard === s);
      expect(after[lost]).toMatchObject({ replica: 'c', payload: { reason: 'renew_failed' } });
      expect(taken).toBeGreaterThan(lost);
    }
    expectBracketedPerShard(w.timeline);
  });

  it('a throwing listener does not keep later listeners from hearing shard.lost, and an async shard.lost listener is awaited before the next holder takes the shard', async () => {
    const w = shardWorld(2);
    current = w;
    const a = w.add('a');
    a.bus.on('shard.lost', () => {
      throw new Error('broken subscriber');
    });
    let release: (() => void) | undefined;
    let lostHeard = 0;
    a.bus.on('shard.lost', () => {
      lostHeard++;
      return new Promise<void>((resolve) => (release = resolve));
    });
    await w.runUntil(() => a.component.heldShards().length === 2, 30_000);
    const b = w.add('b');
    await w.runUntil(() => lostHeard === 1, 30_000);
    // The handover waits for the listener's promise: b cannot lead the shard yet.
    await w.run(3_000);
    expect(b.component.heldShards()).toEqual([]);
    release!();
    await w.runUntil(() => b.component.heldShards().length === 1, 10_000);
    expect(a.log.entries.some((e) => e.level === 'error' && e.message.includes('"shard.lost" listener failed'))).toBe(true);
  });
});

describe('ShardedLeaderElectionComponent: metrics', () => {
  it('shards_held sums to 12 once balanced, transitions count acquisitions and losses, rebalance moves count handovers given; all 0 held after shutdown', async () => {
    const w = await balancedSet();
    const held: number[] = [];
    for (const r of w.replicas) {
      const m = await scrape(r.component.registry);
      const labels = { name: SET };
      held.push(m.value(HELD, labels)!);
      expect(m.value(HELD, labels)).toBe(r.component.heldShards().length);
      const own = eventsOf(w, r).filter((e) => e.name !== 'shards.changed');
      expect(m.value(TRANSITIONS, labels)).toBe(own.length);
      expect(m.value(MOVES, labels)).toBe(own.filter((e) => e.payload.reason === 'handed_over').length);
      expect(m.type.get(HELD)).toBe('gauge');
      expect(m.type.get(TRANSITIONS)).toBe('counter');
      expect(m.type.get(MOVES)).toBe('counter');
    }
    expect(held).toEqual([4, 4, 4]);
    // a claimed 12 and gave 8: 12 + 8 transitions; b and c acquired 4 each.
    expect((await scrape(w.replicas[0]!.component.registry)).value(MOVES, { name: SET })).toBe(8);
    expect((await scrape(w.replicas[0]!.component.registry)).value(TRANSITIONS, { name: SET })).toBe(20);
    expect((await scrape(w.replicas[1]!.component.registry)).value(TRANSITIONS, { name: SET })).toBe(4);

    await w.stopAll();
    current = undefined;
    for (const r of w.replicas) expect((await scrape(r.component.registry)).value(HELD, { name: SET })).toBe(0);
    // The last replica released its shards (no member to hand them to): no move counted for those.
    const last = w.replicas.find((r) => eventsOf(w, r, 'shard.lost').some((e) => e.payload.reason === 'released'));
    expect(last).toBeDefined();
  });

  it('every series exists at 0 from construction; two sets share a registry under their own name labels', async () => {
    const registry = new Registry();
    const client = new MemoryLeaseClient(new LeaseStore());
    const bus = createShardedLeaderElectionBus();
    const one = new ShardedLeaderElectionComponent({ identity: 'a', setName: 'one', namespace: NS, shards: 2, registry }, client, bus);
    new ShardedLeaderElectionComponent({ identity: 'a', setName: 'two', namespace: NS, shards: 2, registry, name: 'second' }, client, bus);
    const m = await scrape(registry);
    for (const name of ['one', 'second']) {
      expect(m.value(HELD, { name })).toBe(0);
      expect(m.value(TRANSITIONS, { name })).toBe(0);
      expect(m.value(MOVES, { name })).toBe(0);
    }
    expect(one.name).toBe('one');
    expect(m.help.get(TRANSITIONS)).toContain('one on acquiring a shard and one on losing it');
  });

  it('rejects a registry that already holds a metric of that name registered by something else', () => {
    const registry = new Registry();
    registry.registerMetric({ name: HELD, get: () => Promise.resolve({}), reset: () => {} } as never);
    const make = (): unknown => new ShardedLeaderElectionComponent({ identity: 'a', setName: SET, namespace: NS, shards: 2, registry }, new MemoryLeaseClient(new LeaseStore()), createShardedLeaderElectionBus());
    expect(make).toThrow(expect.objectContaining({ code: 'OPTION_INVALID', field: 'registry' }));
  });
});

describe('ShardedLeaderElectionComponent: construction', () => {
  const client = new MemoryLeaseClient(new LeaseStore());
  const base: ShardedLeaderElectionComponentConfig = { identity: 'a', setName: SET, namespace: NS, shards: 4 };
  const thrown = (config: unknown, bus: unknown = createShardedLeaderElectionBus(), c: unknown = client): unknown => {
    try {
      new ShardedLeaderElectionComponent(config as ShardedLeaderElectionComponentConfig, c, bus as never);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it.each([
    ['config missing', undefined, undefined, 'CONFIG_MISSING', 'config'],
    ['bus missing', base, null, 'OPTION_INVALID', 'bus'],
    ['bus not an emitter', base, { emit() {} }, 'OPTION_INVALID', 'bus'],
    ['registry not a Registry', { ...base, registry: {} }, undefined, 'OPTION_INVALID', 'registry'],
    ['metricsPrefix invalid', { ...base, metricsPrefix: '1x' }, undefined, 'OPTION_INVALID', 'metricsPrefix'],
    ['name empty', { ...base, name: ' ' }, undefined, 'OPTION_INVALID', 'name'],
    ['name not a string', { ...base, name: 3 }, undefined, 'FIELD_TYPE', 'name'],
    ['shards out of range', { ...base, shards: 0 }, undefined, 'OPTION_INVALID', 'shards'],
    ['setName not a DNS subdomain', { ...base, setName: 'Work' }, undefined, 'LEASE_NAME_INVALID', 'setName'],
    ['identity empty', { ...base, identity: '' }, undefined, 'IDENTITY_EMPTY', 'identity'],
    ['handoverIntervalMs 0', { ...base, handoverIntervalMs: 0 }, undefined, 'OPTION_INVALID', 'handoverIntervalMs'],
    ['elector lease too short', { ...base, elector: { leaseDurationMs: 500 } }, undefined, undefined, 'elector.leaseDurationMs'],
    ['elector retry period 0', { ...base, elector: { retryPeriodMs: 0 } }, undefined, undefined, 'elector.retryPeriodMs'],
    ['membership retry period 0', { ...base, membership: { retryPeriodMs: 0 } }, undefined, undefined, 'membership.retryPeriodMs'],
    ['membership duration too short', { ...base, membership: { durationMs: 10 } }, undefined, 'OPTION_INVALID', 'membership.durationMs'],
  ] as const)('%s: ConfigError naming the field', (_, config, bus, code, field) => {
    const err = thrown(config, bus === undefined ? createShardedLeaderElectionBus() : bus);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err).toMatchObject({ field, ...(code ? { code } : {}) });
  });

  it('wraps the ShardedElector’s errors with their code and the original as cause', () => {
    const bare = { get: client.get.bind(client), create: client.create.bind(client), update: client.update.bind(client) };
    const err = thrown(base, createShardedLeaderElectionBus(), bare) as ConfigError;
    expect(err).toMatchObject({ code: 'CLIENT_INVALID', field: 'client' });
    expect(err.message).toMatch(/^failed to create sharded leader elector: /);
    expect(err.cause).toBeInstanceOf(ConfigError);
    expect(thrown({ ...base, ...TIMINGS })).toBeUndefined();
  });

  it('rejects a second run while running (ALREADY_RUNNING) and leaves no handle behind', async () => {
    const w = shardWorld(2);
    current = w;
    const a = w.add('a');
    await expect(a.component.run(new AbortController().signal)).rejects.toMatchObject({ code: 'ALREADY_RUNNING' });
    await w.run(LEASE_MS);
  });
});
