/**
 * The scratch project: a directory outside the monorepo where the packed tarballs are installed
 * with npm, as a user would install them, next to the peers from the registry, and where the
 * consumers of fixtures/ are laid out: consumer.mjs and consumer.cjs as they are, and consumer.ts
 * once per TypeScript setting, each in a directory of its own with its tsconfig and a package.json
 * giving the module format.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './processes.mjs';

/** The TypeScript consumers: tsconfig fixture and package type of their directory. */
export const TS_SETTINGS = [
  { setting: 'node16', type: 'module', note: 'module node16, ESM' },
  { setting: 'bundler', type: 'module', note: 'module esnext, moduleResolution bundler' },
  { setting: 'commonjs', type: 'commonjs', note: 'module commonjs (node10 resolution), require() output' },
  { setting: 'nodenext-cjs', type: 'commonjs', note: 'module nodenext from a CommonJS file (TypeScript >= 5.8 types require(esm))' },
];

/**
 * Writes the scratch project into `dir` and installs it. `dependencies` maps package names to
 * what npm should install (a `file:` tarball path or a version). Throws with npm's output on failure.
 */
export async function createScratchProject(dir, fixtures, dependencies, devDependencies) {
  const manifest = { name: 'leasekit-release-check', version: '0.0.0', private: true, description: 'scratch project of pnpm release:check', dependencies, devDependencies };
  await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  for (const f of ['consumer.mjs', 'consumer.cjs', 'scenario.cjs']) await copyFile(join(fixtures, f), join(dir, f));
  for (const { setting, type } of TS_SETTINGS) {
    const sub = join(dir, `ts-${setting}`);
    await mkdir(sub);
    await copyFile(join(fixtures, 'consumer.ts'), join(sub, 'consumer.ts'));
    await copyFile(join(fixtures, `tsconfig.${setting}.json`), join(sub, 'tsconfig.json'));
    await writeFile(join(sub, 'package.json'), `${JSON.stringify({ private: true, type })}\n`);
  }
  const npm = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'], { cwd: dir, timeoutMs: 300_000 });
  if (!npm.ok) throw new Error(`npm install failed:\n${npm.output}`);
}
