// Prints, from the jest JSON results, the checks a reader of the CI log looks for: the promtool
// rule tests, the real-Prometheus test, the README quick start run and the Node 22 + client-node
// 2.x run, each with its test count and every test's title and status.
import { existsSync, readFileSync } from 'node:fs';

const SECTIONS = [
  { title: 'promtool rule tests (docs/prometheus-rules.test.yaml)', file: 'packages/docs-check/jest-results.json', suite: /promtool\.test\.ts$/ },
  { title: 'real Prometheus scraping three replicas', file: 'packages/demo/jest-results.json', suite: /prometheus\.test\.ts$/ },
  { title: 'README quick start run as two processes', file: 'packages/docs-check/jest-results.json', suite: /quickstart\.test\.ts$/ },
  ...['k8s-leaderelection', 'lease-apiserver', 'simulator'].map((pkg) => ({
    title: `Node 22 + client-node 2.x: ${pkg}`,
    file: `packages/${pkg}/jest-results-node22.json`,
    suite: /./,
    brief: true,
  })),
];

for (const { title, file, suite, brief } of SECTIONS) {
  if (!existsSync(file)) {
    console.log(`== ${title}: no results (${file} missing)`);
    continue;
  }
  const results = JSON.parse(readFileSync(file, 'utf8'));
  const tests = results.testResults.filter((r) => suite.test(r.name)).flatMap((r) => r.assertionResults);
  const passed = tests.filter((t) => t.status === 'passed').length;
  console.log(`== ${title}: ${passed} passed, ${tests.length - passed} not passed`);
  for (const t of tests) if (!brief || t.status !== 'passed') console.log(`   ${t.status === 'passed' ? 'ok  ' : 'FAIL'} ${t.title}`);
}
