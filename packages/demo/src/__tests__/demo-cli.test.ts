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
function runDemo(args: string[], onLine?: (line: string, pid: number) => void): Promise<Run> {
  const env = { ...process.env };
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
  const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
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

  it('refuses a bad flag with exit code 2 and says which', async () => {
    const run = await runDemo(['--replicas', '1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--replicas');
  });
});
