/**
 * Packs a workspace package with `pnpm pack` (as publishing would: lifecycle scripts run,
 * `workspace:` ranges are rewritten, the root LICENSE is added) into a directory of its own.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './processes.mjs';

/** Resolves to `{ name, version, dir, tarball }` or throws with pnpm's output. */
export async function pack(packageDir, destination) {
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8'));
  await mkdir(destination, { recursive: true });
  const result = await run('pnpm', ['pack', '--pack-destination', destination], { cwd: packageDir, timeoutMs: 60_000 });
  if (!result.ok) throw new Error(`pnpm pack failed in ${packageDir}:\n${result.output}`);
  const tarballs = (await readdir(destination)).filter((f) => f.endsWith('.tgz'));
  if (tarballs.length !== 1) throw new Error(`expected one tarball in ${destination}, found ${tarballs.length}`);
  return { name: manifest.name, version: manifest.version, dir: packageDir, tarball: join(destination, tarballs[0]) };
}
