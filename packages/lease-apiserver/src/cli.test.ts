/**
 * The CLI: its flag grammar, `runCli` (the whole program minus process signals), and the built
 * executable under a real SIGTERM (skipped, with a notice, when `dist/` has not been built).
 */
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliUsageError, parseCliArgs } from './cli-args.js';
import { runCli } from './cli-main.js';
import { send, waitFor } from './__tests__/helpers.js';

describe('parseCliArgs', () => {
  it('defaults to loopback, any free port, no faults', () => {
    expect(parseCliArgs([])).toEqual({
      host: '127.0.0.1',
      port: 0,
      allowRemote: false,
      kubeconfigOut: undefined,
      seed: undefined,
      maxBodyBytes: undefined,
      historyLimit: undefined,
      logRequests: false,
      coordinated: false,
      electionDurationMs: undefined,
      help: false,
      faults: [],
    });
  });

  it('reads the coordinator flags, and refuses an election duration without the coordinator', () => {
    expect(parseCliArgs(['--coordinated-leader-election', '--election-duration', '300'])).toMatchObject({ coordinated: true, electionDurationMs: 300 });
    expect(() => parseCliArgs(['--election-duration', '300'])).toThrow(CliUsageError);
    expect(() => parseCliArgs(['--coordinated-leader-election', '--election-duration', '0'])).toThrow(CliUsageError);
  });

  it('reads the server flags', () => {
    const options = parseCliArgs(['--host', '0.0.0.0', '--allow-remote', '--port', '8080', '--kubeconfig-out', 'k.yaml', '--seed', '7', '--max-body-bytes', '1024', '--history-limit', '10', '--log-requests']);
    expect(options).toMatchObject({ host: '0.0.0.0', allowRemote: true, port: 8080, kubeconfigOut: 'k.yaml', seed: 7, maxBodyBytes: 1024, historyLimit: 10, logRequests: true });
  });

  it('reads every fault flag, repeatable', () => {
    const { faults } = parseCliArgs([
      '--latency', '50',
      '--latency', 'update,get:20-80',
      '--error-rate', 'update:0.1:503',
      '--error-rate', '*:0.01:500',
      '--hang-rate', 'get:0.05',
      '--drop-response-rate', 'update:0.2',
      '--drop-response-rate', '*:0.1:reset',
      '--cut-watches-after', '2000-8000',
      '--partition', 'ua=elector-b:5000:10000',
      '--partition', 'token=a:3000',
      '--partition', 'header=X-Replica=b:1000',
    ]);
    expect(faults).toEqual([
      { kind: 'latency', fault: { ms: 50 } },
      { kind: 'latency', fault: { verbs: ['update', 'get'], minMs: 20, maxMs: 80 } },
      { kind: 'error', fault: { verbs: ['update'], rate: 0.1, code: 503 } },
      { kind: 'error', fault: { rate: 0.01, code: 500 } },
      { kind: 'hang', fault: { verbs: ['get'], rate: 0.05 } },
      { kind: 'drop-response', fault: { verbs: ['update'], rate: 0.2 } },
      { kind: 'drop-response', fault: { rate: 0.1, mode: 'reset' } },
      { kind: 'partition', fault: { client: { userAgent: 'elector-b' }, durationMs: 5000 }, afterMs: 10000 },
      { kind: 'partition', fault: { client: { token: 'a' }, durationMs: 3000 }, afterMs: 0 },
      { kind: 'partition', fault: { client: { header: { name: 'X-Replica', value: 'b' } }, durationMs: 1000 }, afterMs: 0 },
      { kind: 'watch-lifetime', lifetime: { minMs: 2000, maxMs: 8000 } },
    ]);
  });

  it('explains what is wrong with a bad flag', () => {
    const messageOf = (argv: string[]): string => {
      try {
        parseCliArgs(argv);
      } catch (err) {
        if (err instanceof CliUsageError) return err.message;
        throw err;
      }
      return 'accepted';
    };
    expect(messageOf(['--port', 'eighty'])).toMatch(/^--port: expected an integer from 0 to 65535/);
    expect(messageOf(['--port', '70000'])).toMatch(/^--port/);
    expect(messageOf(['--error-rate', 'update:2:503'])).toMatch(/RATE must be a number from 0 to 1/);
    expect(messageOf(['--error-rate', 'update:0.1:200'])).toMatch(/CODE: expected an integer from 400 to 599/);
    expect(messageOf(['--error-rate', 'fetch:0.1:503'])).toMatch(/unknown verb "fetch"/);
    expect(messageOf(['--latency', '80-20'])).toMatch(/MAX below MIN/);
    expect(messageOf(['--latency', 'soon'])).toMatch(/expected MS or MIN-MAX/);
    expect(messageOf(['--partition', 'elector-b:5000'])).toMatch(/CLIENT must be ua=TEXT/);
    expect(messageOf(['--partition', 'ua=b'])).toMatch(/expected CLIENT:FOR_MS/);
    expect(messageOf(['--drop-response-rate', 'update:0.1:sometimes'])).toMatch(/mode must be hang or reset/);
    expect(messageOf(['--bogus'])).toMatch(/Unknown option '--bogus'/);
  });
});

/** Runs the CLI in-process, collecting its lines, until `stop` aborts. */
function start(argv: string[]): { lines: string[]; stop: AbortController; exited: Promise<number>; url: () => string } {
  const lines: string[] = [];
  const stop = new AbortController();
  const exited = runCli(argv, { out: (l) => lines.push(l), err: (l) => lines.push(`ERR ${l}`) }, stop.signal);
  return { lines, stop, exited, url: () => /listening on (\S+)/.exec(lines.join('\n'))?.[1] ?? '' };
}

describe('runCli', () => {
  it('prints usage for --help', async () => {
    const cli = start(['--help']);
    expect(await cli.exited).toBe(0);
    expect(cli.lines[0]).toMatch(/^Usage: lease-apiserver/);
  });

  it('exits 2 on a usage error', async () => {
    const cli = start(['--port', 'x']);
    expect(await cli.exited).toBe(2);
    expect(cli.lines[0]).toMatch(/^ERR lease-apiserver: --port/);
  });

  it('refuses another host than loopback without --allow-remote', async () => {
    const cli = start(['--host', '0.0.0.0']);
    expect(await cli.exited).toBe(1);
    expect(cli.lines.join('\n')).toContain('--allow-remote');
  });

  it('serves, prints the URL and a temporary kubeconfig, applies faults, and removes the file on exit', async () => {
    const cli = start(['--error-rate', 'list:1:503', '--log-requests', '--partition', 'token=late:1000:60000']);
    await waitFor(() => cli.lines.some((l) => l.startsWith('kubeconfig:')), 'the kubeconfig line');
    const kubeconfig = cli.lines.find((l) => l.startsWith('kubeconfig:'))!.slice('kubeconfig: '.length);
    expect(kubeconfig).toBe(join(tmpdir(), `lease-apiserver-${new URL(cli.url()).port}.kubeconfig`));
    expect(await readFile(kubeconfig, 'utf8')).toContain(`server: "${cli.url()}"`);
    expect(cli.lines).toContain('fault: error: HTTP 503 on list');
    expect(cli.lines).toContain('fault: partition scheduled 60000 ms after start for 1000 ms');
    expect((await send(cli.url(), 'GET', '/apis/coordination.k8s.io/v1/leases')).status).toBe(503);
    await waitFor(() => cli.lines.some((l) => l.startsWith('GET /apis/coordination.k8s.io/v1/leases -> 503')), 'the request log line');
    cli.stop.abort();
    expect(await cli.exited).toBe(0);
    expect(cli.lines.at(-1)).toBe('lease-apiserver closed');
    expect(existsSync(kubeconfig)).toBe(false);
  });

  it('keeps a kubeconfig written where --kubeconfig-out says', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lease-apiserver-cli-'));
    try {
      const path = join(dir, 'kubeconfig');
      const cli = start(['--kubeconfig-out', path]);
      await waitFor(() => cli.lines.includes(`kubeconfig: ${path}`), 'the kubeconfig line');
      cli.stop.abort();
      expect(await cli.exited).toBe(0);
      expect(existsSync(path)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

const BUILT_CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');
const describeBuilt = existsSync(BUILT_CLI) ? describe : describe.skip;
if (!existsSync(BUILT_CLI)) console.log(`${BUILT_CLI} is not built (run the build first): skipping the executable test`);

describeBuilt('the lease-apiserver executable', () => {
  it('runs until SIGTERM and then closes cleanly', async () => {
    const child = spawn(process.execPath, [BUILT_CLI, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await waitFor(() => out.includes('kubeconfig:'), 'the server to start');
      const url = /listening on (\S+)/.exec(out)![1]!;
      expect((await send(url, 'GET', '/healthz')).text).toBe('ok');
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('lease-apiserver closed');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    }
  });
});
