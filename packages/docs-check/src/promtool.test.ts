/**
 * The shipped alert rules meet Prometheus's own tools: `promtool check rules` accepts
 * docs/prometheus-rules.yaml, and `promtool test rules` passes docs/prometheus-rules.test.yaml,
 * whose groups make every alert fire where it should and stay silent in a healthy fleet.
 * Without promtool these tests skip (one line says what to install), or fail under CI=true.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { REPO_ROOT, readRepoFile } from './docs.js';
import { toolForTests } from '@leasekit/demo/prometheus-tools';

const RULES_FILE = 'docs/prometheus-rules.yaml';
const TESTS_FILE = 'docs/prometheus-rules.test.yaml';

interface AlertCheck {
  eval_time: string;
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string> }[];
}

interface TestGroup {
  name: string;
  alert_rule_test?: AlertCheck[];
}

const alerts = (parse(readRepoFile(RULES_FILE)) as { groups: { rules: { alert?: string }[] }[] }).groups
  .flatMap((g) => g.rules)
  .flatMap((r) => (r.alert === undefined ? [] : [r.alert]));
const spec = parse(readRepoFile(TESTS_FILE)) as { rule_files: string[]; tests: TestGroup[] };
const checksOf = (group: TestGroup): AlertCheck[] => group.alert_rule_test ?? [];
const fires = (check: AlertCheck): boolean => (check.exp_alerts ?? []).length > 0;
const totalChecks = spec.tests.reduce((n, g) => n + checksOf(g).length, 0);

/** Runs promtool in docs/, as a reader would; stdout and stderr together (failures go to both). */
function promtool(path: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(path, args, { cwd: join(REPO_ROOT, 'docs'), encoding: 'utf8', timeout: 60_000 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe(`${TESTS_FILE} covers ${RULES_FILE}`, () => {
  it('loads the shipped rules file', () => {
    expect(spec.rule_files).toEqual(['prometheus-rules.yaml']);
  });

  it('makes every alert fire in a group named after it, and checks it silent in the healthy fleet', () => {
    const healthy = spec.tests.find((g) => g.name === 'healthy fleet');
    expect(healthy).toBeDefined();
    expect(checksOf(healthy!).some(fires)).toBe(false);
    for (const alert of alerts) {
      const own = spec.tests.find((g) => g.name === alert);
      expect({ alert, fires: checksOf(own ?? { name: alert }).some((c) => c.alertname === alert && fires(c)) }).toEqual({ alert, fires: true });
      expect({ alert, silentWhenHealthy: checksOf(healthy!).some((c) => c.alertname === alert) }).toEqual({ alert, silentWhenHealthy: true });
    }
    // Each alert's group also checks a time at which it must not fire (before `for:`, below the threshold).
    for (const alert of alerts) {
      expect({ alert, silentCheck: checksOf(spec.tests.find((g) => g.name === alert)!).some((c) => !fires(c)) }).toEqual({ alert, silentCheck: true });
    }
  });
});

const tool = toolForTests('promtool');

describe(`promtool (${alerts.length} alerts, ${spec.tests.length} test groups, ${totalChecks} alert checks)`, () => {
  if (tool.kind === 'fail') {
    it('is installed', () => {
      throw new Error(tool.message);
    });
    return;
  }
  const run = tool.kind === 'run' ? it : it.skip;
  const path = tool.kind === 'run' ? tool.path : 'promtool';

  run(`check rules ${RULES_FILE}: SUCCESS, ${alerts.length} rules`, () => {
    const { status, output } = promtool(path, ['check', 'rules', 'prometheus-rules.yaml']);
    expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining(`SUCCESS: ${alerts.length} rules found`) });
    expect(output).not.toMatch(/WARNING|FAILED/);
  });

  describe(`test rules ${TESTS_FILE}`, () => {
    let result: { status: number | null; output: string } | undefined;
    const outcome = (): { status: number | null; output: string } => (result ??= promtool(path, ['test', 'rules', 'prometheus-rules.test.yaml']));

    run(`exits 0: all ${spec.tests.length} groups and ${totalChecks} alert checks pass`, () => {
      const { status, output } = outcome();
      expect({ status, output }).toEqual({ status: 0, output: expect.stringContaining('SUCCESS') });
    });

    for (const group of spec.tests) {
      const checks = checksOf(group);
      const firing = checks.filter(fires).length;
      run(`group "${group.name}": ${checks.length} checks pass (${firing} firing, ${checks.length - firing} silent)`, () => {
        expect(checks.length).toBeGreaterThan(0);
        const failure = outcome().output.split(/\n(?=\s*FAILED:)/).find((block) => block.includes(`name: ${group.name},`));
        expect(failure).toBeUndefined();
      });
    }
  });
});
