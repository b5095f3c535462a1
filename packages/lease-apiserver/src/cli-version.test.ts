/**
 * `lease-apiserver --version` on the built executable: prints the version of the package.json it
 * ships with and exits 0 without starting a server. Needs `dist/` (the build runs before the tests);
 * outside CI a missing build skips it with a notice, under CI=true it fails.
 */
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILT_CLI = join(PACKAGE_DIR, 'dist', 'cli.js');
const built = existsSync(BUILT_CLI);
const describeBuilt = built || process.env.CI === 'true' ? describe : describe.skip;
if (!built) console.log(`${BUILT_CLI} is not built (run the build first): skipping the --version test`);

function runBuilt(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BUILT_CLI, ...args], { timeout: 20_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr });
    });
  });
}

describeBuilt('lease-apiserver --version', () => {
  const { version } = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string };

  it('prints the version from package.json and exits 0 without serving', async () => {
    const result = await runBuilt(['--version']);
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it('wins over the other flags, which are not parsed', async () => {
    const result = await runBuilt(['--port', 'not-a-port', '--version']);
    expect(result).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });
});
