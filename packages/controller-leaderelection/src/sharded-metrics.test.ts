import { describe, expect, it, jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseExposition } from './__tests__/helpers.js';
import { shardWorld } from './__tests__/sharded-helpers.js';

jest.setTimeout(60_000);

/** promtool on the PATH, if any. */
const promtool = (process.env.PATH ?? '')
  .split(delimiter)
  .map((dir) => join(dir, 'promtool'))
  .find((path) => existsSync(path));
if (!promtool) {
  if (process.env.CI === 'true') throw new Error('promtool is not on PATH and CI=true: apt-get install prometheus');
  process.stderr.write('skipping the promtool check of the sharded metrics: promtool is not on PATH (apt-get install prometheus)\n');
}

/** Three replicas of a 12-shard set, balanced and then stopped; the first replica's scrapes while running and after. */
async function scrapes(): Promise<{ running: string; stopped: string }> {
  const w = shardWorld(12);
  w.add('a');
  // Alone until its member set settles and it leads all 12, so the joiners' shards come by handover.
  await w.runUntil(() => w.replicas[0]!.component.heldShards().length === 12, 60_000);
  w.add('b');
  await w.run(300);
  w.add('c');
  await w.runUntil(() => w.replicas.every((r) => r.component.heldShards().length === 4), 120_000);
  const running = await w.replicas[0]!.component.registry.metrics();
  await w.stopAll();
  return { running, stopped: await w.replicas[0]!.component.registry.metrics() };
}

describe('sharded metrics exposition', () => {
  let result: Promise<{ running: string; stopped: string }> | undefined;
  const texts = (): Promise<{ running: string; stopped: string }> => (result ??= scrapes());

  it('parses, with HELP and TYPE for each sharded metric and non-zero values while running', async () => {
    const { running, stopped } = await texts();
    const m = parseExposition(running);
    expect(m.value('leasekit_leader_election_shards_held', { name: 'work' })).toBe(4);
    expect(m.value('leasekit_leader_election_rebalance_moves_total', { name: 'work' })).toBe(8);
    for (const name of ['leasekit_leader_election_shards_held', 'leasekit_leader_election_shard_transitions_total', 'leasekit_leader_election_rebalance_moves_total']) {
      expect(m.help.get(name)).toEqual(expect.any(String));
      expect(m.type.get(name)).toEqual(expect.any(String));
    }
    expect(parseExposition(stopped).value('leasekit_leader_election_shards_held', { name: 'work' })).toBe(0);
  });

  (promtool ? it : it.skip)('passes promtool check metrics, running and stopped', async () => {
    const { running, stopped } = await texts();
    for (const text of [running, stopped]) {
      // promtool exits non-zero (execFileSync throws, with its output) on any problem it finds.
      const output = execFileSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
      expect(output).toBe('');
    }
  });
});
