// Sums jest's JSON results of every package (jest-results.json from `pnpm test`, plus any
// jest-results-<run>.json from the extra runs in .ci/run) and prints "N passed, N failed".
// Exits 1 when a package with tests wrote no results, or when nothing ran at all.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

let passed = 0;
let failed = 0;
let missing = 0;
for (const dir of readdirSync('packages')) {
  const pkg = join('packages', dir);
  if (!existsSync(join(pkg, 'package.json'))) continue;
  const scripts = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).scripts ?? {};
  if (!scripts.test) continue;
  const file = join(pkg, 'jest-results.json');
  if (!existsSync(file)) {
    console.error(`no jest results from ${pkg} (its tests did not run or crashed)`);
    missing++;
    continue;
  }
  const extra = readdirSync(pkg).filter((f) => /^jest-results-[\w.-]+\.json$/.test(f));
  for (const name of [file, ...extra.map((f) => join(pkg, f))]) {
    const results = JSON.parse(readFileSync(name, 'utf8'));
    passed += results.numPassedTests;
    failed += results.numFailedTests + (results.numRuntimeErrorTestSuites ?? 0);
  }
}
failed += missing;
console.log(`${passed} passed, ${failed} failed`);
process.exit(passed === 0 || missing > 0 ? 1 : 0);
