/**
 * attw and publint on a packed tarball. attw runs with `--profile esm-only`: the packages are
 * ES modules only and CommonJS callers load them with require(esm) (Node >= 20.19), which attw's
 * node16-from-CJS mode still reports as "dynamic import only"; that profile skips node10 and
 * node16-from-CJS and checks node16-from-ESM and bundler. publint must report nothing at all,
 * suggestions included.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { run } from './processes.mjs';

/** Resolves to a one-line result or throws with attw's report. */
export async function attw(root, tarball) {
  const result = await run(join(root, 'node_modules', '.bin', 'attw'), ['--profile', 'esm-only', '--no-color', '--format', 'table-flipped', tarball], {
    cwd: root,
    timeoutMs: 120_000,
  });
  if (!result.ok) throw new Error(result.output);
  const entrypoints = result.output.split('\n').filter((line) => /^│ "/.test(line)).length;
  return `no problems (${entrypoints} entry points)`;
}

/** Resolves to a one-line result or throws with every message publint has. */
export async function lintTarball(tarball) {
  const buffer = await readFile(tarball);
  const { messages, pkg } = await publint({ pack: { tarball: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) }, level: 'suggestion', strict: true });
  if (messages.length) throw new Error(messages.map((m) => `${m.type}: ${formatMessage(m, pkg) ?? m.code}`).join('\n'));
  return 'no errors, warnings or suggestions';
}
