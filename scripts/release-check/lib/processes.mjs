/**
 * Child processes of the release check: each runs in its own process group with a deadline, its
 * output collected; `killAll()` ends whatever is still running (by process group id), so an
 * interrupted or failed check leaves no process behind.
 */
import { spawn } from 'node:child_process';

/** Running children, each with a promise that settles when it has exited. */
const live = new Map();

/**
 * Runs `command args` in `cwd`. Resolves (never rejects) to `{ ok, code, signal, output, timedOut }`;
 * `output` is stdout and stderr interleaved.
 */
export function run(command, args, { cwd, env = process.env, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let exited;
    live.set(child, new Promise((resolve) => (exited = resolve)));
    let output = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      timedOut = true;
      kill(child);
    }, timeoutMs);
    const finish = (code, signal, error) => {
      clearTimeout(timer);
      live.delete(child);
      exited();
      if (error) output += `\n${error.message}`;
      if (timedOut) output += `\n(killed after ${timeoutMs} ms)`;
      resolve({ ok: code === 0 && !timedOut, code, signal, output, timedOut });
    };
    child.on('error', (error) => finish(null, null, error));
    child.on('close', (code, signal) => finish(code, signal));
  });
}

function kill(child) {
  try {
    process.kill(-child.pid, 'SIGKILL'); // the child's process group: npm, tsc and node spawn their own children
  } catch {
    child.kill('SIGKILL');
  }
}

/** Kills every child still running (their whole process groups); resolves once they have exited. */
export async function killAll() {
  const waiting = [...live.values()];
  for (const child of live.keys()) kill(child);
  await Promise.all(waiting);
}

/** Runs the async functions of `tasks` with at most `limit` at a time; resolves to their results in order. */
export async function limited(limit, tasks) {
  const results = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}
