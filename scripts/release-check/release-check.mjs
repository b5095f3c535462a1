#!/usr/bin/env node
/**
 * pnpm release:check: are the public packages installable and usable as published?
 *
 * Packs @leasekit/k8s-leaderelection, @leasekit/controller-leaderelection and
 * @leasekit/lease-apiserver with `pnpm pack`, lints each tarball (attw --profile esm-only,
 * publint), installs the tarballs with npm into a scratch project in a fresh temp directory
 * outside the monorepo (with @kubernetes/client-node and the lowest prom-client and eventemitter3
 * the adapter's peer ranges allow, from the registry), checks what each tarball contains, runs the
 * installed `lease-apiserver --version`, and runs the consumers of fixtures/: an ESM one, a
 * CommonJS one using require(), and one TypeScript source type-checked with tsc under node16,
 * bundler, commonjs and nodenext-from-CJS settings. Every consumer elects a leader on the embedded
 * server, first with the Elector, then with the adapter's component.
 *
 * Prints one line per check and a summary; exits 1 when any check failed. The temp directory is
 * removed and no process is left running, also when interrupted. Environment:
 *   RELEASE_CHECK_CLIENT_NODE  client-node version to install (default 1.4.0)
 *   RELEASE_CHECK_KEEP=1       keep the temp directory and print its path
 * Expects the three packages built (the root script builds them first).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Checklist } from './lib/checklist.mjs';
import { checkContents } from './lib/contents.mjs';
import { attw, lintTarball } from './lib/lint.mjs';
import { pack } from './lib/pack.mjs';
import { killAll, limited, run } from './lib/processes.mjs';
import { TS_SETTINGS, createScratchProject } from './lib/scratch.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
const FIXTURES = join(HERE, 'fixtures');
const PACKAGES = ['k8s-leaderelection', 'controller-leaderelection', 'lease-apiserver'];
/** Files the adapter's build copies from docs/ into its tarball. */
const MONITORING = ['prometheus-rules.yaml', 'grafana-dashboard.json'];
const CONSUMER_TIMEOUT_MS = 60_000;

async function installedVersion(name) {
  return JSON.parse(await readFile(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** The lowest version a caret range allows (`^15.1.0` -> `15.1.0`): the release check tests the bottom of each peer range, the monorepo's lockfile the top. */
function lowestOf(range) {
  const match = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!match) throw new Error(`cannot take the lowest version of ${range}: expected ^X.Y.Z`);
  return match[1];
}

/** Runs the consumer `args` in `cwd` and returns its last output line, or throws with all of it. */
async function consume(cwd, args) {
  const result = await run(process.execPath, args, { cwd, timeoutMs: CONSUMER_TIMEOUT_MS });
  if (!result.ok) throw new Error(result.output);
  const last = result.output.trim().split('\n').at(-1) ?? '';
  if (!last.startsWith('elected:')) throw new Error(`no "elected:" line:\n${result.output}`);
  return last.replace(/ on http:\/\/\S+$/, '');
}

async function main(list, tmp) {
  console.log(`release-check: scratch project in ${tmp} (outside ${ROOT})`);

  const packed = await limited(3, PACKAGES.map((p) => () => pack(join(ROOT, 'packages', p), join(tmp, 'tarballs', p))));
  for (const p of packed) console.log(`  packed ${p.name}@${p.version}: ${relative(tmp, p.tarball)}`);

  const adapter = JSON.parse(await readFile(join(ROOT, 'packages', 'controller-leaderelection', 'package.json'), 'utf8'));
  const peers = {
    '@kubernetes/client-node': process.env.RELEASE_CHECK_CLIENT_NODE || '1.4.0',
    'prom-client': lowestOf(adapter.peerDependencies['prom-client']),
    eventemitter3: lowestOf(adapter.peerDependencies.eventemitter3),
  };
  const dependencies = { ...Object.fromEntries(packed.map((p) => [p.name, `file:${relative(tmp, p.tarball)}`])), ...peers };
  const devDependencies = { typescript: await installedVersion('typescript'), '@types/node': await installedVersion('@types/node') };

  // Linting needs only the tarballs; npm install needs the network. Both at once.
  const installed = list.check(`npm install of the tarballs with ${Object.entries(peers).map(([n, v]) => `${n}@${v}`).join(', ')}`, async () => {
    await createScratchProject(tmp, FIXTURES, dependencies, devDependencies);
    return `typescript@${devDependencies.typescript}, @types/node@${devDependencies['@types/node']}`;
  });
  await limited(2, packed.map((p) => () => list.check(`attw --profile esm-only ${p.name}`, () => attw(ROOT, p.tarball))));
  for (const p of packed) await list.check(`publint ${p.name}`, () => lintTarball(p.tarball));
  if (!(await installed)) return;

  for (const p of packed) {
    const expectedFiles = {};
    if (p.name === adapter.name) {
      for (const f of MONITORING) expectedFiles[`dist/monitoring/${f}`] = await readFile(join(ROOT, 'docs', f), 'utf8');
    }
    await list.check(`contents of ${p.name}`, () => checkContents(join(tmp, 'node_modules', ...p.name.split('/')), { expectedFiles, sourceDir: p.dir }));
  }

  const apiserver = packed.find((p) => p.name === '@leasekit/lease-apiserver');
  await list.check('lease-apiserver --version (installed bin)', async () => {
    const result = await run(join(tmp, 'node_modules', '.bin', 'lease-apiserver'), ['--version'], { cwd: tmp, timeoutMs: 30_000 });
    if (!result.ok || result.output !== `${apiserver.version}\n`) throw new Error(`expected "${apiserver.version}" and exit 0, got exit ${result.code}:\n${result.output}`);
    return `prints ${apiserver.version}, exits 0`;
  });

  const tsc = join(tmp, 'node_modules', '.bin', 'tsc');
  const consumers = [
    () => list.check('ESM consumer (consumer.mjs, import)', () => consume(tmp, ['consumer.mjs'])),
    () => list.check('CommonJS consumer (consumer.cjs, require)', () => consume(tmp, ['consumer.cjs'])),
    ...TS_SETTINGS.map(({ setting, note }) => () =>
      list.check(`TypeScript consumer, ${setting} (${note})`, async () => {
        const dir = join(tmp, `ts-${setting}`);
        const compiled = await run(tsc, ['-p', dir], { cwd: dir, timeoutMs: 180_000 });
        if (!compiled.ok) throw new Error(`tsc -p ts-${setting}:\n${compiled.output}`);
        return `tsc clean; ${await consume(dir, ['dist/consumer.js'])}`;
      }),
    ),
  ];
  // tsc is CPU-bound and the consumers mostly wait on lease timers: two at a time.
  await limited(2, consumers);
}

const started = performance.now();
const list = new Checklist();
const tmp = await mkdtemp(join(tmpdir(), 'leasekit-release-check-'));
const keep = process.env.RELEASE_CHECK_KEEP === '1';
const cleanup = async () => {
  await killAll();
  if (!keep) await rm(tmp, { recursive: true, force: true });
};
const interrupted = (signal) => {
  console.log(`release-check: ${signal}, cleaning up`);
  cleanup().finally(() => process.exit(130));
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

try {
  if (!relative(ROOT, tmp).startsWith('..')) throw new Error(`the temp directory ${tmp} is inside the monorepo ${ROOT}: set TMPDIR elsewhere`);
  await main(list, tmp);
} catch (err) {
  await list.check('release check ran to the end', () => Promise.reject(err));
} finally {
  await cleanup();
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);
}
if (keep) console.log(`release-check: kept ${tmp}`);
console.log(list.summary((performance.now() - started) / 1000));
process.exitCode = list.failed ? 1 : 0;
