/**
 * KubeLeaseClient in a child process against the embedded server in this one: the child must exit
 * by itself (nothing of ours keeps it alive) after it aborts a request the server still hangs, and
 * a throwing watch hook must not crash it (it runs with --unhandled-rejections=strict, so an
 * unhandled rejection would end it with a non-zero code). jest's sandbox hides unhandled
 * rejections and handles, hence the child. The bound on its exit is generous: it is a hang
 * detector, not a timing assertion.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startLeaseApiServer, type LeaseApiServer } from '../index.js';
import { waitFor } from './helpers.js';

/** The package directory: the child resolves @leasekit/k8s-leaderelection and client-node from here. */
const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const EXIT_BOUND_MS = 15_000;
const NS = 'default';
const NAME = 'my-lease';

/**
 * The child: one request in the given mode. `abort-*` modes send the request, wait for "abort"
 * on stdin (sent once the server holds the request), abort it and print how it settled.
 */
const CHILD = `
const { KubeLeaseClient } = await import('@leasekit/k8s-leaderelection/internal');
const { KubeConfig } = await import('@kubernetes/client-node');
const [mode, url] = process.argv.slice(1);
const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: url, skipTLSVerify: true }],
  users: [{ name: 'u' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});
const client = new KubeLeaseClient(kc, { requestTimeoutMs: 600000 });
const report = (p) => p.then(() => 'resolved', (e) => 'rejected:' + (e && (e.code || e.message)));
const boom = new Error('hook broke');
const hookReport = (p) => p.then(() => 'resolved', (e) => (e === boom ? 'rejected:hook-error' : 'rejected:' + e));
if (mode === 'throw-onopen') {
  console.log(await hookReport(client.watch('${NS}', '${NAME}', { signal: new AbortController().signal, onEvent() {}, onOpen() { throw boom; } })));
} else if (mode === 'throw-onevent') {
  console.log(await hookReport(client.watch('${NS}', '${NAME}', { signal: new AbortController().signal, onEvent() { throw boom; } })));
} else {
  const controller = new AbortController();
  const signal = controller.signal;
  const pending = mode === 'abort-watch'
    ? client.watch('${NS}', '${NAME}', { signal, onEvent() {} })
    : client.get('${NS}', '${NAME}', { signal });
  process.stdin.once('data', () => {
    process.stdin.destroy();
    controller.abort();
  });
  console.log(await report(pending));
}
`;

interface Child {
  process: ChildProcess;
  stdout: string;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

let server: LeaseApiServer;
const children: ChildProcess[] = [];

beforeEach(async () => {
  server = await startLeaseApiServer();
  server.store.create(NS, { metadata: { name: NAME }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } });
});

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await server.close();
});

function runChild(mode: string): Child {
  const proc = spawn(process.execPath, ['--unhandled-rejections=strict', '--input-type=module', '-e', CHILD, mode, server.url], {
    cwd: PACKAGE_DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(proc);
  const child: Child = {
    process: proc,
    stdout: '',
    stderr: '',
    exit: new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal }))),
  };
  proc.stdout!.on('data', (chunk: Buffer) => (child.stdout += chunk.toString('utf8')));
  proc.stderr!.on('data', (chunk: Buffer) => (child.stderr += chunk.toString('utf8')));
  return child;
}

/** The child's exit, or `hung` when it is still alive after the bound (then it is killed). */
async function exitOf(child: Child): Promise<{ code: number | null } | 'hung'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const bound = new Promise<'hung'>((resolve) => (timer = setTimeout(() => resolve('hung'), EXIT_BOUND_MS)));
  const outcome = await Promise.race([child.exit, bound]);
  clearTimeout(timer);
  if (outcome === 'hung') child.process.kill('SIGKILL');
  return outcome;
}

describe('a process using KubeLeaseClient', () => {
  it.each([
    ['watch', 'abort-watch', 'resolved'],
    ['get', 'abort-get', 'rejected:REQUEST_TIMEOUT'],
  ])('exits by itself after aborting a %s the server never answers', async (verb, mode, settled) => {
    server.faults.addHang({ verbs: [verb as 'watch' | 'get'] });
    const child = runChild(mode);
    await waitFor(() => server.counters.get(verb as 'watch' | 'get') === 1, `the ${verb} to reach the server`);
    child.process.stdin!.write('abort\n');
    // The server keeps hanging the request and stays up: only the client can let go of it.
    const exit = await exitOf(child);
    expect(child.stderr).toBe('');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stdout.trim()).toBe(settled);
  });

  it.each([
    ['onOpen', 'throw-onopen'],
    ['onEvent', 'throw-onevent'],
  ])('gets the error a throwing %s hook raised, without an unhandled rejection, and exits by itself', async (_hook, mode) => {
    const child = runChild(mode);
    const exit = await exitOf(child);
    expect(child.stderr).toBe('');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(child.stdout.trim()).toBe('rejected:hook-error');
    await waitFor(() => server.openWatchCount === 0, 'the server to see the stream closed');
  });
});
