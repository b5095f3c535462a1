/**
 * The benchmark's CI smoke run: the built CLI with `--smoke` (every scenario, few trials, short
 * durations) must produce every figure of the JSON report. Nothing here judges a figure: timing
 * goals are read from a full run, never asserted (a loaded CI machine would make them flaky).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

const BENCH = fileURLToPath(new URL('../../dist/bench.js', import.meta.url));

let dir: string;

beforeAll(async () => {
  if (!existsSync(BENCH)) throw new Error(`${BENCH} is missing: build first (pnpm --filter @leasekit/bench... build)`);
  dir = await mkdtemp(join(tmpdir(), 'leasekit-bench-test-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // the test runner's flags are not the benchmark's
  const child = spawn(process.execPath, [BENCH, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 170_000);
  return new Promise((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const isNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value);

describe('pnpm bench --smoke', () => {
  it('produces every figure of the JSON report', async () => {
    const jsonPath = join(dir, 'bench.json');
    const run = await runBench(['--smoke', '--json', jsonPath]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`JSON written to ${jsonPath}`);

    const report = JSON.parse(await readFile(jsonPath, 'utf8')) as Record<string, Record<string, Record<string, unknown> | unknown>>;
    for (const key of ['handoverMs', 'directedHandoverMs', 'failoverMs'] as const) {
      for (const mode of ['watch', 'poll'] as const) {
        const q = (report[key] as Record<string, Record<string, unknown>>)[mode]!;
        expect({ key, mode, p50: isNumber(q.p50), p95: isNumber(q.p95), n: isNumber(q.n) && (q.n as number) > 0 }).toEqual({ key, mode, p50: true, p95: true, n: true });
      }
    }
    const rpm = report.requestsPerMinute as Record<string, unknown>;
    expect({ watch: isNumber(rpm.watch), poll: isNumber(rpm.poll) }).toEqual({ watch: true, poll: true });
    const scale = report.scale as Record<string, unknown>;
    for (const figure of ['electors', 'rssBytesPerElector', 'cpuPercent', 'eventLoopDelayP99Ms']) {
      expect({ figure, ok: isNumber(scale[figure]) }).toEqual({ figure, ok: true });
    }
    expect(scale.electors).toBeGreaterThan(0);
    const storm = report.retryStorm as { runs: { kind: string; strategy: string; followers: Record<string, unknown>[] }[] };
    expect(storm.runs.map((r) => `${r.kind} ${r.strategy}`)).toEqual(['500 watch', '500 poll', '503 watch', '503 poll', '403 watch', '403 poll', 'hang watch', 'hang poll']);
    for (const run of storm.runs) {
      for (const f of run.followers) {
        expect({ run: `${run.kind} ${run.strategy}`, counts: [f.gets, f.writes, f.watches, f.total].every(isNumber) }).toEqual({ run: `${run.kind} ${run.strategy}`, counts: true });
      }
    }
    const rollout = report.rollout as { rows: { variant: string; mode: string; changes: unknown[]; leaderlessMs: unknown[] }[] };
    expect(rollout.rows.map((r) => `${r.variant} ${r.mode}`)).toEqual(['release watch', 'release poll', 'newest watch', 'newest poll']);
    for (const row of rollout.rows) {
      const ok = row.changes.length > 0 && row.changes.every(isNumber) && row.leaderlessMs.length === row.changes.length && row.leaderlessMs.every(isNumber);
      expect({ row: `${row.variant} ${row.mode}`, ok }).toEqual({ row: `${row.variant} ${row.mode}`, ok: true });
    }
    // Sharding: every phase reached balance (a figure, not a bound) and the steady state was counted.
    const sharding = report.sharding as { phases: { name: string; balanceMs: unknown; moves: unknown; minimumMoves: unknown }[]; steady: Record<string, unknown> | null };
    expect(sharding.phases.map((p) => p.name)).toEqual(['start', 'join', 'crash', 'leave']);
    for (const p of sharding.phases) {
      expect({ phase: p.name, figures: [p.balanceMs, p.moves, p.minimumMoves].every(isNumber) }).toEqual({ phase: p.name, figures: true });
    }
    expect({ steady: isNumber(sharding.steady?.requestsPerMinute) && (sharding.steady!.requestsPerMinute as number) > 0 }).toEqual({ steady: true });
    expect(report.machine).toEqual(expect.objectContaining({ cpus: expect.any(Number), node: process.version }));
  }, 180_000);

  it('refuses an unknown scenario with exit code 2', async () => {
    const run = await runBench(['--only', 'nothing']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--only');
  });
});
