/**
 * The README's quick start runs as pasted: its TypeScript, compiled as it stands, is started as two
 * processes against the embedded Lease API server (a kubeconfig file, POD_NAME, POD_NAMESPACE, as
 * the README says), one leads and does its work, Ctrl-C hands over to the other, and both exit.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startLeaseApiServer, type LeaseApiServer } from '@leasekit/lease-apiserver';
import { codeBlocks, readRepoFile } from './docs.js';

const PACKAGE_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
// Inside this package, so the script resolves the packages as a user's project would.
const OUT_DIR = join(PACKAGE_DIR, '.quickstart');

/** The first ```ts block under the README's "## Quick start" heading. */
function quickStartCode(): string {
  const readme = readRepoFile('README.md').split('\n');
  const headingLine = readme.findIndex((l) => l.trim() === '## Quick start') + 1;
  expect(headingLine).toBeGreaterThan(0);
  const block = codeBlocks('README.md').find((b) => b.line > headingLine && b.lang === 'ts');
  if (!block) throw new Error('README.md has no ```ts block under "## Quick start"');
  return block.code;
}

/** A replica process with its output, and promises for the lines a test waits for. */
class Replica {
  readonly child: ChildProcess;
  output = '';
  private waiters: Array<{ text: string; resolve: () => void }> = [];
  readonly exited: Promise<number | null>;

  constructor(script: string, env: NodeJS.ProcessEnv) {
    this.child = spawn(process.execPath, [script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer): void => {
      this.output += chunk.toString();
      this.waiters = this.waiters.filter((w) => {
        if (!this.output.includes(w.text)) return true;
        w.resolve();
        return false;
      });
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    this.exited = new Promise((res) => this.child.once('exit', (code) => res(code)));
  }

  /** Resolves when the output contains `text` (now or later). */
  printed(text: string): Promise<void> {
    if (this.output.includes(text)) return Promise.resolve();
    return new Promise((res) => this.waiters.push({ text, resolve: res }));
  }
}

describe('the README quick start', () => {
  it("is the pure package README's example too, word for word", () => {
    const example = codeBlocks('packages/k8s-leaderelection/README.md').find((b) => b.lang === 'ts');
    expect(example?.code).toBe(quickStartCode());
  });

  let server: LeaseApiServer;
  let dir: string;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
    dir = mkdtempSync(join(tmpdir(), 'leasekit-quickstart-'));
    mkdirSync(OUT_DIR, { recursive: true });
  });

  afterAll(async () => {
    for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    await Promise.all(replicas.map((r) => r.exited));
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(OUT_DIR, { recursive: true, force: true });
  });

  it('elects one of two processes, runs its work, hands over on Ctrl-C and exits cleanly', async () => {
    const js = ts.transpileModule(quickStartCode(), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const script = join(OUT_DIR, 'elect.mjs');
    writeFileSync(script, js);
    const kubeconfig = await server.writeKubeconfig(join(dir, 'kubeconfig'));
    // A Lease left released by an earlier run, so the test does not sit out a first claim's 15 s.
    server.store.create('default', { metadata: { name: 'my-controller' }, spec: { holderIdentity: '', leaseDurationSeconds: 1 } });
    const env = (name: string): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, KUBECONFIG: kubeconfig, POD_NAME: name, POD_NAMESPACE: 'default' });

    const a = new Replica(script, env('quickstart-a'));
    replicas.push(a);
    await a.printed('reconciling as leader, fencing token 1');
    const b = new Replica(script, env('quickstart-b'));
    replicas.push(b);
    await b.printed('leader is quickstart-a');
    expect(b.output).not.toContain('reconciling');

    a.child.kill('SIGINT');
    expect(await a.exited).toBe(0);
    expect(a.output).toContain('stopped leading: released');
    await b.printed('reconciling as leader, fencing token 2');

    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    expect(b.output).toContain('stopped leading: released');
    expect(server.store.get('default', 'my-controller').spec?.holderIdentity).toBe('');
    expect(`${a.output}${b.output}`).not.toMatch(/Error|Unhandled/);
  });
});
