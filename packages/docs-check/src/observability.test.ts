/**
 * The alert rules and the Grafana dashboard in docs/ parse, and every metric they reference is one
 * the adapter actually exports.
 */
import { describe, expect, it } from '@jest/globals';
import { LeaderElectionComponent, createLeaderElectionBus } from '@leasekit/controller-leaderelection';
import { LeaseStore, MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { codeBlocks, metricNamesIn, readRepoFile } from './docs.js';

async function exportedSeries(): Promise<Set<string>> {
  const registry = new Registry();
  new LeaderElectionComponent(
    { identity: 'a', leaseName: 'l', leaseNamespace: 'default', registry },
    new MemoryLeaseClient(new LeaseStore()),
    createLeaderElectionBus(),
  );
  const names = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix);
  }
  return names;
}

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: { severity?: string };
  annotations?: { summary?: string; description?: string };
}

describe('docs/prometheus-rules.yaml', () => {
  const rules = (parse(readRepoFile('docs/prometheus-rules.yaml')) as { groups: { name: string; rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

  it('has the alerts operators need: no leader, more than one leader, flapping, renew errors', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['LeaderElectionNoLeader', 'LeaderElectionMoreThanOneLeader', 'LeaderElectionFlapping', 'LeaderElectionRenewErrors']),
    );
    for (const rule of rules) {
      expect(rule.expr).toEqual(expect.any(String));
      expect(rule.labels?.severity).toEqual(expect.any(String));
      expect(rule.annotations?.summary).toEqual(expect.any(String));
    }
  });

  it('only references metrics the adapter exports', async () => {
    const exported = await exportedSeries();
    const used = rules.flatMap((r) => metricNamesIn(r.expr));
    expect(used.length).toBeGreaterThanOrEqual(rules.length);
    for (const name of used) expect(exported).toContain(name);
  });
});

describe('docs/grafana-dashboard.json', () => {
  const dashboard = JSON.parse(readRepoFile('docs/grafana-dashboard.json')) as {
    title: string;
    uid: string;
    panels: { title: string; targets: { expr: string }[] }[];
  };

  it('is an importable dashboard with leader per pod, transitions, renew latency and errors', () => {
    expect(dashboard.uid).toBe('leasekit-leader-election');
    const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
    expect(exprs).toContain('leasekit_leader_election_is_leader');
    expect(exprs).toContain('leasekit_leader_election_transitions_total');
    expect(exprs).toContain('leasekit_leader_election_request_duration_seconds_bucket');
    expect(exprs).toContain('leasekit_leader_election_api_errors_total');
  });

  it('only references metrics the adapter exports', async () => {
    const exported = await exportedSeries();
    const used = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNamesIn(t.expr)));
    expect(used.length).toBeGreaterThanOrEqual(dashboard.panels.length);
    for (const name of used) expect(exported).toContain(name);
  });
});

describe('PromQL in the docs', () => {
  it('only references metrics the adapter exports', async () => {
    const exported = await exportedSeries();
    const promql = ['docs/events-and-metrics.md', 'packages/controller-leaderelection/README.md']
      .flatMap((f) => codeBlocks(f))
      .filter((b) => b.lang === 'promql' || b.lang === 'yaml')
      .flatMap((b) => metricNamesIn(b.code));
    expect(promql.length).toBeGreaterThan(5);
    for (const name of promql) expect(exported).toContain(name);
  });
});
