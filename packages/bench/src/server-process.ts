/**
 * The embedded server in a process of its own, for the scale scenario: measuring the electors'
 * memory, CPU and event-loop delay means the server must not share their process. Started
 * through the `lease-apiserver` executable of @leasekit/lease-apiserver (its published `bin`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

/** A running server process. */
export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  /** CPU seconds (user + system) the process has used so far; undefined where /proc is missing. */
  cpuSeconds(): number | undefined;
  /** SIGTERM, then SIGKILL if it has not exited within 5 s. */
  stop(): Promise<void>;
}

/** The `lease-apiserver` executable, from the package's own `bin` field. */
export function leaseApiServerBin(): string {
  const require = createRequire(import.meta.url);
  const manifestPath = require.resolve('@leasekit/lease-apiserver/package.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { bin?: string | Record<string, string> };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.['lease-apiserver'];
  if (!bin) throw new Error(`${manifestPath} declares no lease-apiserver executable`);
  return join(dirname(manifestPath), bin);
}

/** Starts the server on a free loopback port; resolves once it listens. */
export function startServerProcess(timeoutMs = 15_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [leaseApiServerBin(), '--host', '127.0.0.1', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: withoutNodeOptions(),
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`lease-apiserver did not start within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    const onExit = (code: number | null): void => fail(new Error(`lease-apiserver exited (${code}) before listening: ${stderr}`));
    const fail = (err: Error): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.kill('SIGKILL');
      reject(err);
    };
    child.once('exit', onExit);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const url = /listening on (http:\/\/\S+)/.exec(line)?.[1];
      if (!url) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      resolve({ url, pid: child.pid!, cpuSeconds: () => procCpuSeconds(child.pid!), stop: () => stopChild(child) });
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** The benchmark's own NODE_OPTIONS (a test runner's flags) are not the server's business. */
function withoutNodeOptions(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/** Linux: utime + stime from /proc/PID/stat, in seconds (clock ticks of 1/100 s, the Linux norm). */
function procCpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after its closing parenthesis are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}
