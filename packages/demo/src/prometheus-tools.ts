/**
 * Finding Prometheus's binaries (`prometheus`, `promtool`): for `pnpm demo --prometheus`, and for
 * the tests that need them, with what such a test does when one is missing: under CI (`CI=true`)
 * it fails, naming the package to install, so a CI image without it cannot pass silently;
 * elsewhere it skips, with one line saying what to install. docs-check's promtool tests import it
 * as `@leasekit/demo/prometheus-tools`.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Debian/Ubuntu package that brings both `prometheus` and `promtool`. */
export const PROMETHEUS_PACKAGE = 'prometheus';

/** The executable `name` on `PATH`, or undefined. */
export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** True when running under CI (`CI=true`, as CI services and `.ci/run` set it). */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1';
}

/** What a test needing a tool should do. */
export type ToolForTests =
  | { readonly kind: 'run'; readonly path: string }
  | { readonly kind: 'skip'; readonly message: string }
  | { readonly kind: 'fail'; readonly message: string };

/**
 * Looks the tool up for a test file. Missing outside CI: prints `message` as one line on stderr
 * (once per call) and says skip; missing under CI: says fail, with the message to throw.
 */
export function toolForTests(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  printLine: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): ToolForTests {
  const path = findExecutable(name, env);
  if (path !== undefined) return { kind: 'run', path };
  if (isCi(env)) {
    return {
      kind: 'fail',
      message: `${name} is not on PATH and CI=true: install the Debian package "${PROMETHEUS_PACKAGE}" (apt-get install -y ${PROMETHEUS_PACKAGE}); these tests fail rather than skip under CI`,
    };
  }
  const message = `skipping the ${name} tests: ${name} is not on PATH (install the Debian package "${PROMETHEUS_PACKAGE}": sudo apt-get install ${PROMETHEUS_PACKAGE})`;
  printLine(message);
  return { kind: 'skip', message };
}
