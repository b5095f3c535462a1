/**
 * kubectl against the CLI server (started through `runCli`, the code behind the `lease-apiserver`
 * binary, with `--kubeconfig-out`). Skipped, with a printed notice, when kubectl is not on the PATH.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Elector } from '@leasekit/k8s-leaderelection';
import { runCli } from '../cli-main.js';
import { memoryLogger, microNow, send, waitFor } from './helpers.js';

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

const KUBECTL = findOnPath('kubectl');
if (!KUBECTL) console.log('kubectl is not on the PATH: skipping the kubectl tests');
const describeWithKubectl = KUBECTL ? describe : describe.skip;

describeWithKubectl('kubectl against the CLI server', () => {
  let dir: string;
  let kubeconfig: string;
  let url: string;
  let stop: AbortController;
  let exited: Promise<number>;
  const lines: string[] = [];

  const kubectl = (...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(KUBECTL!, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), ...args], { timeout: 20_000, env: { ...process.env, HOME: dir, KUBECONFIG: '' } }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lease-apiserver-kubectl-'));
    kubeconfig = join(dir, 'kubeconfig');
    stop = new AbortController();
    exited = runCli(['--port', '0', '--kubeconfig-out', kubeconfig, '--coordinated-leader-election', '--election-duration', '3000'], { out: (l) => lines.push(l), err: (l) => lines.push(l) }, stop.signal);
    await waitFor(() => lines.some((l) => l.startsWith('kubeconfig:')), 'the CLI to print its kubeconfig path');
    url = /listening on (\S+)/.exec(lines.join('\n'))![1]!;
    const created = await send(url, 'POST', '/apis/coordination.k8s.io/v1/namespaces/default/leases', {
      body: { metadata: { name: 'demo' }, spec: { holderIdentity: 'replica-a', leaseDurationSeconds: 15 } },
    });
    expect(created.status).toBe(201);
  });

  afterAll(async () => {
    stop.abort();
    expect(await exited).toBe(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the URL and the kubeconfig path it was given', () => {
    expect(lines).toContain(`kubeconfig: ${kubeconfig}`);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('lists leases with the NAME, HOLDER and AGE columns of a real cluster', async () => {
    const { code, stdout, stderr } = await kubectl('get', 'leases');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [header, row] = stdout.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'HOLDER', 'AGE']);
    expect(row!.split(/\s+/).slice(0, 2)).toEqual(['demo', 'replica-a']);
  });

  it('prints one lease as YAML', async () => {
    const { code, stdout } = await kubectl('get', 'lease', 'demo', '-o', 'yaml');
    expect(code).toBe(0);
    expect(stdout).toContain('kind: Lease');
    expect(stdout).toContain('apiVersion: coordination.k8s.io/v1');
    expect(stdout).toContain('holderIdentity: replica-a');
    expect(stdout).toMatch(/resourceVersion: "\d+"/);
  });

  it('deletes a lease', async () => {
    const { code, stdout } = await kubectl('delete', 'lease', 'demo');
    expect(code).toBe(0);
    expect(stdout.trim()).toBe('lease.coordination.k8s.io "demo" deleted');
    expect((await send(url, 'GET', '/apis/coordination.k8s.io/v1/namespaces/default/leases/demo')).status).toBe(404);
    const again = await kubectl('get', 'lease', 'demo');
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('Error from server (NotFound): leases.coordination.k8s.io "demo" not found');
  });

  it('refuses an unknown field under kubectl validation, as a real server does', async () => {
    const file = join(dir, 'typo.yaml');
    await writeFile(file, 'apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: typo\nspec:\n  holderIdentiy: x\n');
    const { code, stderr } = await kubectl('create', '-f', file);
    expect(code).not.toBe(0);
    expect(stderr).toContain('strict decoding error: unknown field "spec.holderIdentiy"');
  });

  it('applies a lease whose holder an elector then respects until it expires', async () => {
    const file = join(dir, 'lease.yaml');
    await writeFile(
      file,
      [
        'apiVersion: coordination.k8s.io/v1',
        'kind: Lease',
        'metadata:',
        '  name: applied',
        '  namespace: default',
        'spec:',
        '  holderIdentity: kubectl-holder',
        '  leaseDurationSeconds: 2',
        '  leaseTransitions: 7',
        `  renewTime: "${microNow()}"`,
        '',
      ].join('\n'),
    );
    const applied = await kubectl('apply', '-f', file);
    expect(applied.stderr).toBe('');
    expect(applied.stdout.trim()).toBe('lease.coordination.k8s.io/applied created');

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kubeconfig);
    const stopElector = new AbortController();
    const elector = new Elector(
      { identity: 'elector', leaseName: 'applied', leaseNamespace: 'default', leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 250, recordEvents: true },
      kubeConfig,
      {},
      memoryLogger(),
    );
    const startedAt = performance.now();
    const done = elector.run(stopElector.signal);
    try {
      await waitFor(() => elector.getLeader() === 'kubectl-holder', 'the elector to see the holder kubectl wrote');
      expect(elector.isLeader()).toBe(false);
      await waitFor(() => elector.isLeader(), 'the elector to take the expired lease', 15_000);
      // The holder kubectl wrote was respected for its full leaseDurationSeconds.
      expect(performance.now() - startedAt).toBeGreaterThanOrEqual(2000 - 50);
      const shown = await kubectl('get', 'lease', 'applied', '-o', 'jsonpath={.spec.holderIdentity} {.spec.leaseTransitions}');
      expect(shown.stdout).toBe('elector 8');
      await waitFor(async () => (await kubectl('get', 'events')).stdout.includes('elector became leader'), 'kubectl to show the event');
      const events = await kubectl('get', 'events');
      expect(events.stdout.split('\n')[0]!.split(/\s{2,}/)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
      expect(events.stdout).toMatch(/Normal\s+LeaderElection\s+lease\/applied\s+elector became leader/);
    } finally {
      stopElector.abort();
      await done;
    }
  });

  it('creates LeaseCandidates from YAML, lists them with the real columns, and shows the coordinator\'s choice', async () => {
    const file = join(dir, 'candidates.yaml');
    const doc = (name: string, emulation: string): string =>
      [
        'apiVersion: coordination.k8s.io/v1beta1',
        'kind: LeaseCandidate',
        'metadata:',
        `  name: ${name}`,
        'spec:',
        '  leaseName: coordinated',
        '  binaryVersion: 1.33.0',
        `  emulationVersion: ${emulation}`,
        '  strategy: OldestEmulationVersion',
        `  renewTime: "${microNow()}"`,
      ].join('\n');
    await writeFile(file, `${[doc('cand-132', '1.32.0'), doc('cand-131', '1.31.0'), doc('cand-133', '1.33.0')].join('\n---\n')}\n`);
    const created = await kubectl('create', '-f', file);
    expect(created.stderr).toBe('');
    expect(created.stdout.trim().split('\n')).toEqual([
      'leasecandidate.coordination.k8s.io/cand-132 created',
      'leasecandidate.coordination.k8s.io/cand-131 created',
      'leasecandidate.coordination.k8s.io/cand-133 created',
    ]);
    const { code, stdout, stderr } = await kubectl('get', 'leasecandidates');
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const [header, ...rows] = stdout.trim().split('\n');
    expect(header!.split(/\s+/)).toEqual(['NAME', 'LEASENAME', 'BINARYVERSION', 'EMULATIONVERSION', 'AGE']);
    expect(rows.map((row) => row.split(/\s+/).slice(0, 4))).toEqual([
      ['cand-131', 'coordinated', '1.33.0', '1.31.0'],
      ['cand-132', 'coordinated', '1.33.0', '1.32.0'],
      ['cand-133', 'coordinated', '1.33.0', '1.33.0'],
    ]);
    // The first candidate got the free Lease; the oldest emulation version is its preferred holder.
    const show = async (): Promise<string> => (await kubectl('get', 'lease', 'coordinated', '-o', 'jsonpath={.spec.holderIdentity} {.spec.preferredHolder} {.spec.strategy}')).stdout;
    await waitFor(async () => (await show()).startsWith('cand-132 cand-131'), 'the coordinator to prefer cand-131', 15_000);
    expect(await show()).toBe('cand-132 cand-131 OldestEmulationVersion');
  });

  describe('label selectors (-l)', () => {
    const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    const relabel = async (name: string, labels: Record<string, string>): Promise<void> => {
      const res = await send(url, 'PATCH', `${LEASES}/${name}`, { body: { metadata: { labels } }, headers: { 'Content-Type': 'application/merge-patch+json' } });
      expect(res.status).toBe(200);
    };

    beforeAll(async () => {
      for (const [name, app] of [['sel-web-1', 'web'], ['sel-web-2', 'web'], ['sel-db', 'db']]) {
        const res = await send(url, 'POST', LEASES, { body: { metadata: { name, labels: { app, suite: 'selectors' } }, spec: { holderIdentity: `${name}-holder` } } });
        expect(res.status).toBe(201);
      }
    });

    it('lists only the matching leases', async () => {
      const { code, stdout, stderr } = await kubectl('get', 'leases', '-l', 'app=web', '-o', 'name');
      expect(stderr).toBe('');
      expect(code).toBe(0);
      expect(stdout.trim().split('\n')).toEqual(['lease.coordination.k8s.io/sel-web-1', 'lease.coordination.k8s.io/sel-web-2']);
      const set = await kubectl('get', 'leases', '-A', '-l', 'suite=selectors,app notin (web)');
      expect(set.stdout.trim().split('\n').slice(1).map((row) => row.split(/\s+/).slice(0, 3))).toEqual([['default', 'sel-db', 'sel-db-holder']]);
    });

    it('shows the server refusing a selector that does not parse', async () => {
      const { code, stderr } = await kubectl('get', 'leases', '-l', 'app in (web');
      expect(code).not.toBe(0);
      expect(stderr).toContain("unable to parse requirement: found '', expected: ',' or ')'");
    });

    it('watches the matching leases with -w, a lease leaving the set as a DELETED event', async () => {
      const child = spawn(KUBECTL!, ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'get', 'leases', '-l', 'app=web', '-w', '--output-watch-events'], {
        env: { ...process.env, HOME: dir, KUBECONFIG: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let out = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      child.stderr.resume();
      const rows = (): string[][] => out.trim().split('\n').slice(1).map((row) => row.split(/\s+/).slice(0, 2));
      try {
        await waitFor(() => rows().length >= 2, 'kubectl to print the matching leases', 20_000);
        await relabel('sel-db', { app: 'web', suite: 'selectors' });
        await relabel('sel-web-1', { app: 'db', suite: 'selectors' });
        await waitFor(() => rows().length >= 4, 'kubectl to print the changes', 20_000);
        expect(rows()).toEqual([
          ['ADDED', 'sel-web-1'],
          ['ADDED', 'sel-web-2'],
          ['ADDED', 'sel-db'],
          ['DELETED', 'sel-web-1'],
        ]);
      } finally {
        child.kill();
        await exited;
      }
    });

    it('deletes the matching leases with delete -l', async () => {
      const { code, stdout } = await kubectl('delete', 'leases', '-l', 'suite=selectors,app=web');
      expect(code).toBe(0);
      expect(stdout.trim().split('\n').sort()).toEqual(['lease.coordination.k8s.io "sel-db" deleted', 'lease.coordination.k8s.io "sel-web-2" deleted']);
      const left = await kubectl('get', 'leases', '-l', 'suite=selectors', '-o', 'name');
      expect(left.stdout.trim()).toBe('lease.coordination.k8s.io/sel-web-1');
    });
  });
});
