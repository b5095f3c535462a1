/**
 * The built demo, end to end, as `pnpm demo` runs it: real replica processes over the embedded
 * server with short timings. Checks what the demo promises (it completes, reports the failover and
 * the handover, draws one lane per replica, leaves no process behind and the Lease released), never
 * how fast anything was: timing goals belong to the benchmark.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { toolForTests } from '../prometheus-tools.js';
import { xmlProblems } from './xml.js';

const DEMO = fileURLToPath(new URL('../../dist/demo.js', import.meta.url));
/** Valid and short: leaseDuration > renewDeadline > 1.2 x retryPeriod. */
const FAST = ['--lease-duration-ms', '1500', '--renew-deadline-ms', '1000', '--retry-period-ms', '250', '--settle-ms', '300'];

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the demo; `onLine` sees each stdout line as it comes (and may signal the process). The
 * test runner's NODE_OPTIONS are dropped, so the demo runs as a user would run it.
 */
function runDemo(args: string[], onLine?: (line: string, pid: number) => void, extraEnv: NodeJS.ProcessEnv = {}, killAfterMs = 80_000): Promise<Run> {
  const env = { ...process.env, ...extraEnv };
  delete env.NODE_OPTIONS;
  const child = spawn(process.execPath, [DEMO, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) onLine?.(line, child.pid!);
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Bounded: a demo that hangs fails the test instead of the CI job.
  const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function replicaPids(stdout: string): number[] {
  const forked = /forked (.*)$/m.exec(stdout)?.[1] ?? '';
  return [...forked.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

let dir: string;

beforeAll(async () => {
  if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: build first (pnpm --filter @leasekit/demo... build)`);
  dir = await mkdtemp(join(tmpdir(), 'leasekit-demo-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pnpm demo', () => {
  it('runs the whole scenario with three replicas, reports both takeovers and exits 0', async () => {
    const svgPath = join(dir, 'timeline.svg');
    const run = await runDemo(['--replicas', '3', ...FAST, '--lease-name', 'e2e', '--svg', svgPath]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/kubectl --kubeconfig \S+ get lease e2e -n default -w/);
    expect(run.stdout).toMatch(/failover: replica-\d leads [\d.]+ m?s after SIGKILL of replica-\d, [\d.]+ m?s after replica-\d's last successful renew/);
    expect(run.stdout).toMatch(/graceful handover: replica-\d leads [\d.]+ m?s after SIGTERM of replica-\d/);
    expect(run.stdout).toContain('at the end: holder empty (released)');
    expect(run.stdout).toMatch(/^failover \(SIGKILL\)\s+\S+/m);
    expect(run.stdout).toMatch(/^graceful handover \(SIGTERM\)\s+\S+/m);
    expect(run.stdout).toContain(`timeline picture: ${svgPath}`);

    const pids = replicaPids(run.stdout);
    expect(pids).toHaveLength(3);
    expect(pids.filter(isRunning)).toEqual([]);

    const svg = await readFile(svgPath, 'utf8');
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.match(/<g class="lane"/g)).toHaveLength(3);
    expect(svg).toContain('data-signal="SIGKILL"');
    expect(svg).toContain('data-kind="handover"');
  }, 60_000);

  it("with --rollout, replaces every replica twice by SIGTERM alone, (a) old replicas that release and (b) old replicas with handoverOnShutdown: 'newest', and counts both", async () => {
    const svgPath = join(dir, 'rollout.svg');
    const run = await runDemo(['--rollout', ...FAST, '--lease-name', 'e2e-rollout', '--svg', svgPath]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const a = /^rollout \(a\) SIGTERM, old replicas release: (\d+) leadership changes?, leaderless \S+ m?s in all/m.exec(run.stdout);
    const b = /^rollout \(b\) SIGTERM, old replicas with handoverOnShutdown: 'newest': (\d+) leadership changes?, leaderless \S+ m?s in all/m.exec(run.stdout);
    expect(a).not.toBeNull();
    expect(b).not.toBeNull();
    // (a) moves leadership at least once (the old leader goes), at most once per old replica.
    expect(Number(a![1])).toBeGreaterThanOrEqual(1);
    expect(Number(a![1])).toBeLessThanOrEqual(3);
    // (b): the leader of the fleet replaced second, SIGTERMed, hands over to the newest replica,
    // which stays; nobody else asked it to.
    expect(Number(b![1])).toBe(1);
    expect(run.stdout).toMatch(/rollout: SIGTERM replica-[456], the leader: it hands the Lease to the newest live replica/);
    expect(run.stdout).toMatch(/replica-[456] +leader\.lost \(reason handed_over/);
    expect(run.stdout).toMatch(/holder replica-[789], transitions \d+, leaseDurationSeconds \d+ \(handed over by replica-[456]/);
    expect(run.stdout).toContain('at the end: holder empty (released)');
    const forked = [...run.stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(new Set(forked).size).toBe(9);
    expect(forked.filter(isRunning)).toEqual([]);

    const svg = await readFile(svgPath, 'utf8');
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.match(/<g class="lane"/g)).toHaveLength(9);
    expect(svg.match(/<g class="rollout"/g)).toHaveLength(2);
  }, 120_000);

  it('with --coordinated, the coordinator names the oldest candidate, 1.33 never leads, and 1.31 takes over when it joins', async () => {
    const svgPath = join(dir, 'coordinated.svg');
    const run = await runDemo(['--coordinated', ...FAST, '--lease-name', 'e2e-coordinated', '--svg', svgPath]);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('coordinated: the coordinator named replica-2 (1.32.0), the oldest of 1.33.0 and 1.32.0');
    expect(run.stdout).toMatch(/preferredHolder replica-3/);
    expect(run.stdout).toMatch(/replica-2 +leader\.lost \(reason handed_over/);
    const summary = /^coordinated \(replica-1 1\.33\.0, replica-2 1\.32\.0, replica-3 1\.31\.0\): after replica-3 joined, (\d+) leadership changes?, leaderless \S+ m?s in all; led in turn: (.*)$/m.exec(run.stdout);
    expect(summary).not.toBeNull();
    expect(Number(summary![1])).toBe(1);
    expect(summary![2]).toBe('replica-2 > replica-3');
    expect(run.stdout).toContain('coordinated: never led: replica-1');
    expect(run.stdout).not.toMatch(/replica-1 +leader\.became/);
    // What kubectl (or, without it, the server's Table) lists: the three candidates and the holder.
    expect(run.stdout).toMatch(/replica-1 +e2e-coordinated +1\.33\.0 +1\.33\.0/);
    expect(run.stdout).toMatch(/replica-3 +e2e-coordinated +1\.31\.0 +1\.31\.0/);
    expect(run.stdout).toMatch(/e2e-coordinated +replica-3 +\d+s/);
    // The holder released on SIGTERM (the coordinator, still running, may name a candidate again after).
    expect(run.stdout).toMatch(/lease +released by replica-3: holder empty/);
    const forked = [...run.stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(new Set(forked).size).toBe(3);
    expect(forked.filter(isRunning)).toEqual([]);

    const svg = await readFile(svgPath, 'utf8');
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.match(/<g class="lane"/g)).toHaveLength(3);
    expect(svg).toMatch(/<g class="coordinated" data-changes="1"/);
  }, 120_000);

  it('with --shards, balances the set, has a SIGKILLed replica’s shards taken and a joiner handed its share, passes every check and exits 0', async () => {
    const run = await runDemo(['--shards', '8', '--replicas', '3', ...FAST, '--lease-name', 'e2e-shards'], undefined, {}, 170_000);

    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    // The picture: every shard with its holder, then the counts.
    expect(run.stdout).toMatch(/^ +\+[\d.]+s +shards +0:r\d 1:r\d .* 7:r\d +\| r\d \d, r\d \d, r\d \d +balanced$/m);
    const killed = /SIGKILL (replica-\d), holding shards ([\d ]+):/.exec(run.stdout);
    expect(killed).not.toBeNull();
    expect(run.stdout).toContain(`${killed![1]}   process killed by SIGKILL`);
    // Each of its shards is acquired by another replica after the kill.
    const afterKill = run.stdout.slice(run.stdout.indexOf(`${killed![1]}   process killed by SIGKILL`));
    for (const shard of killed![2]!.trim().split(' ')) expect(afterKill).toMatch(new RegExp(`replica-\\d +shard\\.acquired ${shard} \\(token`));
    // The joiner receives its share by directed handover.
    expect(run.stdout).toMatch(/replica-[123] +shard\.lost \d+ \(handed_over, token \d+\)[\s\S]*replica-4 +shard\.acquired \d+/);
    const crash = /^crash +replica-\d killed \(SIGKILL\) +2 +(\d+) \((\d+)\)/m.exec(run.stdout);
    const join = /^join +replica-4 joined +3 +(\d+) \((\d+)\)/m.exec(run.stdout);
    expect(Number(crash![1])).toBeGreaterThanOrEqual(Number(crash![2]));
    expect(Number(join![2])).toBe(2);
    expect(run.stdout.match(/^check: ok /gm)).toHaveLength(5);
    expect(run.stdout).not.toMatch(/^check: FAIL/m);
    expect(run.stdout).toContain('at the end: 8 shard Leases, none held (released)');
    expect(run.stdout).toMatch(/^Lease API requests the embedded server answered .*; total \d+$/m);
    const forked = [...run.stdout.matchAll(/forked replica-\d \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    expect(forked).toHaveLength(4);
    expect(forked.filter(isRunning)).toEqual([]);
  }, 180_000);

  it('stops cleanly on Ctrl-C: exit 130, every replica gone, the Lease released', async () => {
    let interrupted = false;
    const run = await runDemo(['--replicas', '3', ...FAST, '--settle-ms', '20000', '--lease-name', 'interrupted', '--svg', join(dir, 'interrupted.svg')], (line, pid) => {
      // Interrupt while a leader is in office, so a release is needed.
      if (!interrupted && line.includes('<== LEADER')) {
        interrupted = true;
        process.kill(pid, 'SIGINT');
      }
    });

    expect(interrupted).toBe(true);
    expect(run.code).toBe(130);
    expect(run.stdout).toContain('interrupted: stopping every replica');
    expect(run.stdout).toContain('at the end: holder empty (released)');
    const pids = replicaPids(run.stdout);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.filter(isRunning)).toEqual([]);
  }, 60_000);

  it('with --prometheus but no prometheus binary, fails at once naming the package to install', async () => {
    const run = await runDemo(['--prometheus', ...FAST, '--svg', join(dir, 'no-prometheus.svg')], undefined, { PATH: join(dir, 'empty-path') });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('install the Debian package "prometheus"');
    expect(run.stdout).not.toContain('forked');
  });

  it('refuses a bad flag with exit code 2 and says which', async () => {
    const run = await runDemo(['--replicas', '1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--replicas');
  });
});

const prometheus = toolForTests('prometheus');

describe('pnpm demo --prometheus', () => {
  if (prometheus.kind === 'fail') {
    it('finds the prometheus binary', () => {
      throw new Error(prometheus.message);
    });
    return;
  }
  const run = prometheus.kind === 'run' ? it : it.skip;

  run('runs a real Prometheus beside the demo, prints the is_leader series it scraped and draws them', async () => {
    const svgPath = join(dir, 'prometheus.svg');
    // Each leader holds for at least three 500 ms scrapes (FAST's 300 ms settle could fall between
    // two scrapes on a busy machine: a CI run once saw only the first leader).
    const result = await runDemo(['--replicas', '3', ...FAST, '--settle-ms', '1500', '--lease-name', 'e2e-prometheus', '--svg', svgPath, '--prometheus']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const url = /prometheus (http:\/\/127\.0\.0\.1:\d+) scrapes the 3 replicas every 500 ms/.exec(result.stdout)?.[1];
    expect(url).toBeDefined();

    // The text timeline: a row per replica, and the leaders Prometheus saw, the killed one first.
    const lines = result.stdout.split('\n');
    const header = lines.findIndex((l) => l.startsWith('leasekit_leader_election_is_leader as Prometheus scraped it every 500 ms'));
    expect(header).toBeGreaterThan(0);
    expect(lines.slice(header + 1, header + 4).map((l) => /^ {2}(replica-\d)\s+[#. ]*[#.]$/.exec(l)?.[1])).toEqual(['replica-1', 'replica-2', 'replica-3']);
    const killed = /SIGKILL (replica-\d), the leader/.exec(result.stdout)?.[1];
    const seen = /^is_leader=1 as Prometheus saw it: (.*)$/m.exec(result.stdout)?.[1] ?? '';
    const leaders = [...seen.matchAll(/(replica-\d) \+/g)].map((m) => m[1]);
    expect(leaders.length).toBeGreaterThanOrEqual(2);
    expect(leaders[0]).toBe(killed);
    expect(leaders[1]).not.toBe(killed);

    // The picture has the scraped lanes; Prometheus is gone afterwards.
    const svg = await readFile(svgPath, 'utf8');
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.match(/<g class="scraped-lane"/g)).toHaveLength(3);
    expect(svg.match(/<rect class="scraped-leader"/g)?.length).toBeGreaterThanOrEqual(2);
    await expect(fetch(`${url!}/-/ready`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    expect(replicaPids(result.stdout).filter(isRunning)).toEqual([]);
  }, 90_000);
});
