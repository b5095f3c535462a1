/**
 * A real Prometheus in the loop: it scrapes three replica processes (the demo's `dist/replica.js`,
 * each a LeaderElectionComponent serving /metrics) that elect a leader over the embedded Lease API
 * server, with the shipped alert rules loaded. The leader is SIGKILLed; through Prometheus's HTTP
 * API the test checks that the is_leader=1 series moves to another replica, that the rules
 * evaluate without error, and that every query of docs/grafana-dashboard.json returns data (a 503
 * injected into one of the new leader's renewals gives the API-errors panel its data honestly).
 *
 * Needs the `prometheus` binary (Debian package `prometheus`): without it the Prometheus tests skip
 * with one line saying so, or fail under CI=true. Waits are bounded polls; no durations are asserted.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createKubeLeaseClient } from '@leasekit/k8s-leaderelection';
import { startLeaseApiServer, type LeaseApiServer } from '@leasekit/lease-apiserver';
import { PrometheusServer, type Sample } from '../prometheus.js';
import { toolForTests } from '../prometheus-tools.js';
import type { ReplicaConfig, ReplicaMessage } from '../protocol.js';
import { ReplicaProcess } from '../replica-process.js';
import { leaderSequence, scrapeLeaderSeries } from '../scraped.js';
import { labelValuesVariables, panelQueries, substituteVariables, type DashboardJson } from './dashboard.js';

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));
const REPLICA_SCRIPT = fileURLToPath(new URL('../../dist/replica.js', import.meta.url));
const RULES_FILE = join(REPO, 'docs/prometheus-rules.yaml');
const dashboard = JSON.parse(readFileSync(join(REPO, 'docs/grafana-dashboard.json'), 'utf8')) as DashboardJson;

const NAMESPACE = 'default';
const LEASE = 'prometheus-e2e';
const SCRAPE_INTERVAL_MS = 1000;
/** Short but valid (leaseDuration > renewDeadline > 1.2 x retryPeriod), with room for a loaded machine. */
const TIMINGS = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 } as const;
/** Bound on every wait below (slow, shared CI machines; Prometheus's first scrape alone takes ~5 s). */
const WAIT_MS = 40_000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value, at most {@link WAIT_MS}; rejects naming `what`. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(250);
  }
}

const podsOf = (samples: Sample[]): string[] => samples.map((s) => s.labels.pod ?? '?').sort();

describe('the dashboard as Grafana runs it', () => {
  it('substitutes a multi-value variable as a regex alternation and refuses unknown variables', () => {
    expect(substituteVariables('x{name=~"$lease"} or y{name=~"${lease}"}', { lease: ['a.b', 'c'] })).toBe('x{name=~"(a\\\\.b|c)"} or y{name=~"(a\\\\.b|c)"}');
    expect(() => substituteVariables('rate(x[$__rate_interval])', { lease: ['a'] })).toThrow(/unknown dashboard variable \$__rate_interval/);
  });

  it('has queries for every panel and a label_values() variable for the lease', () => {
    expect(panelQueries(dashboard).length).toBeGreaterThanOrEqual(dashboard.panels.length);
    expect(labelValuesVariables(dashboard)).toEqual([{ name: 'lease', match: 'leasekit_leader_election_is_leader', label: 'name' }]);
  });
});

const tool = toolForTests('prometheus');

describe('a real Prometheus scraping three replicas on the embedded server', () => {
  if (tool.kind === 'fail') {
    it('finds the prometheus binary', () => {
      throw new Error(tool.message);
    });
    return;
  }
  const run = tool.kind === 'run' ? it : it.skip;

  let dir: string;
  let server: LeaseApiServer;
  let prometheus: PrometheusServer | undefined;
  const replicas: ReplicaProcess[] = [];
  const messages: ReplicaMessage[] = [];
  const output: string[] = [];
  let startedAt = 0;
  let firstLeader = '';
  let secondLeader = '';
  let leaseValues: string[] = [];

  beforeAll(async () => {
    if (tool.kind !== 'run') return;
    startedAt = Date.now();
    dir = await mkdtemp(join(tmpdir(), 'leasekit-prometheus-test-'));
    server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
    // Created free, as the demo does, so no NotFound error appears by itself.
    await createKubeLeaseClient(server.kubeConfig({ namespace: NAMESPACE })).create(NAMESPACE, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: LEASE, namespace: NAMESPACE },
    });
    for (const identity of ['replica-1', 'replica-2', 'replica-3']) {
      // The bearer token names the client, so a fault can target one replica.
      const kubeconfig = await server.writeKubeconfig(join(dir, `${identity}.kubeconfig`), { namespace: NAMESPACE, token: identity });
      const config: ReplicaConfig = { identity, leaseName: LEASE, leaseNamespace: NAMESPACE, ...TIMINGS, followerStrategy: 'watch', kubeconfig };
      replicas.push(
        new ReplicaProcess(REPLICA_SCRIPT, config, {
          onMessage: (m) => messages.push(m),
          onOutput: (line) => output.push(`${identity}: ${line}`),
          onExit: () => undefined,
        }),
      );
    }
    const ports = await eventually('three replicas ready', async () => {
      const ready = messages.flatMap((m) => (m.type === 'ready' ? [{ pod: m.identity, port: m.port }] : []));
      return ready.length === 3 ? ready : undefined;
    });
    prometheus = await PrometheusServer.start({ binary: tool.path, targets: ports, scrapeIntervalMs: SCRAPE_INTERVAL_MS, ruleFiles: [RULES_FILE] });
  }, 2 * WAIT_MS);

  afterAll(async () => {
    for (const r of replicas) r.signal('SIGTERM');
    const exited = await Promise.all(replicas.map((r) => r.waitForExit(TIMINGS.renewDeadlineMs + 5000)));
    replicas.filter((_, i) => !exited[i]).forEach((r) => r.signal('SIGKILL'));
    await Promise.all(replicas.map((r) => r.waitForExit(5000)));
    await prometheus?.stop();
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  run('scrapes all three replicas (a pod label each) and evaluates every shipped alert rule without error', async () => {
    const p = prometheus!;
    const targets = await eventually('every target up', async () => {
      const t = await p.targets();
      return t.length === 3 && t.every((x) => x.health === 'up') ? t : undefined;
    });
    expect(targets.map((t) => t.labels.pod).sort()).toEqual(['replica-1', 'replica-2', 'replica-3']);
    const rules = await eventually('every rule evaluated', async () => {
      const r = await p.rules();
      return r.length > 0 && r.every((x) => x.health !== 'unknown') ? r : undefined;
    });
    expect(rules.map((r) => ({ rule: r.name, health: r.health, lastError: r.lastError }))).toEqual(
      ['LeaderElectionNoLeader', 'LeaderElectionMoreThanOneLeader', 'LeaderElectionFlapping', 'LeaderElectionRenewErrors', 'LeaderElectionWorkFailures', 'LeaderElectionSlowPath'].map((rule) => ({
        rule,
        health: 'ok',
        lastError: '',
      })),
    );
  }, WAIT_MS + 5000);

  run('shows exactly one replica with is_leader 1: the one whose bus said leader.became', async () => {
    const p = prometheus!;
    const leaders = await eventually('one leader in Prometheus', async () => {
      const s = await p.query(`leasekit_leader_election_is_leader{name="${LEASE}"} == 1`);
      return s.length === 1 ? s : undefined;
    });
    firstLeader = leaders[0]!.labels.pod!;
    const became = messages.filter((m) => m.type === 'event' && m.event === 'leader.became').map((m) => m.identity);
    expect(became.at(-1)).toBe(firstLeader);
    expect(podsOf(await p.query(`leasekit_leader_election_is_leader{name="${LEASE}"}`))).toEqual(['replica-1', 'replica-2', 'replica-3']);
  }, WAIT_MS + 5000);

  run('moves the is_leader=1 series to another replica after the leader is SIGKILLed', async () => {
    const p = prometheus!;
    expect(firstLeader).not.toBe('');
    replicas.find((r) => r.identity === firstLeader)!.signal('SIGKILL');

    // The dead replica's target goes down and its series end (staleness); another reports 1.
    const next = await eventually('another replica with is_leader 1', async () => {
      const s = await p.query(`leasekit_leader_election_is_leader{name="${LEASE}"} == 1`);
      return s.length === 1 && s[0]!.labels.pod !== firstLeader ? s : undefined;
    });
    secondLeader = next[0]!.labels.pod!;
    await eventually(`${firstLeader} down`, async () => ((await p.query(`up{pod="${firstLeader}"} == 0`)).length === 1 ? true : undefined));
    expect(await p.query(`leasekit_leader_election_is_leader{pod="${firstLeader}"}`)).toEqual([]);

    // The recorded samples tell the same story: first one replica's term, then the other's.
    const record = await scrapeLeaderSeries(p, LEASE, startedAt, Date.now(), SCRAPE_INTERVAL_MS);
    const sequence = leaderSequence(record).map((l) => l.pod);
    expect(sequence).toEqual([firstLeader, secondLeader]);
    // transitions_total of the new leader counts its becoming leader.
    const transitions = await p.query(`leasekit_leader_election_transitions_total{pod="${secondLeader}"}`);
    expect(transitions.map((s) => s.value)).toEqual([1]);
  }, WAIT_MS + 5000);

  run("dashboard: lists the lease in the template variable's label_values() query", async () => {
    const p = prometheus!;
    const [variable] = labelValuesVariables(dashboard);
    leaseValues = await p.labelValues(variable!.label, variable!.match);
    expect(leaseValues).toEqual([LEASE]);
  });

  run('dashboard: shows a 503 injected into a renewal of the new leader as a rate of API errors (ServiceUnavailable) and as a slow path', async () => {
    const p = prometheus!;
    expect(secondLeader).not.toBe('');
    const errorsAtLeast = (n: number) => async () => {
      const s = await p.query(`leasekit_leader_election_api_errors_total{name="${LEASE}", reason="ServiceUnavailable"} >= ${n}`);
      return s.length > 0 ? s : undefined;
    };
    // Every reason's series exists at 0 from the first scrape, so a single error is an increase
    // rate() sees.
    server.faults.addError({ code: 503, verbs: ['update'], client: { token: secondLeader }, times: 1 });
    expect(podsOf(await eventually('the 503 scraped', errorsAtLeast(1)))).toEqual([secondLeader]);
    // The dashboard's own API-errors query shows it (other reasons, say a Conflict between
    // followers racing at the failover, may be there too).
    const errorsPanel = panelQueries(dashboard).find((q) => q.expr.includes('api_errors_total'))!;
    const rates = await p.query(substituteVariables(errorsPanel.expr, { lease: [LEASE] }));
    const unavailable = rates.filter((r) => r.labels.reason === 'ServiceUnavailable');
    expect(unavailable.map((r) => ({ name: r.labels.name, positive: r.value > 0 }))).toEqual([{ name: LEASE, positive: true }]);
    // The failed fast-path renewal was followed, as in client-go, by a slow-path write as the
    // holder (GET, then update): the slow-path panel's counter moved too.
    await eventually('the slow path scraped', async () => {
      const s = await p.query(`leader_election_slowpath_total{name="${LEASE}", pod="${secondLeader}"} >= 1`);
      return s.length > 0 ? s : undefined;
    });
  }, WAIT_MS + 5000);

  for (const q of panelQueries(dashboard)) {
    run(`dashboard panel "${q.panel}" (${q.refId}) returns data: ${q.expr}`, async () => {
      const expr = substituteVariables(q.expr, { lease: leaseValues });
      // A rate() over a series one scrape old can still be empty or NaN: give the panel a few
      // scrapes to have data, then check every value it shows.
      const samples = await eventually(`data for ${expr}`, async () => {
        const s = await prometheus!.query(expr);
        return s.length > 0 && s.every((x) => Number.isFinite(x.value)) ? s : undefined;
      }).catch(() => prometheus!.query(expr));
      expect({ expr, hasData: samples.length > 0 }).toEqual({ expr, hasData: true });
      for (const s of samples) expect({ labels: s.labels, finite: Number.isFinite(s.value) }).toEqual({ labels: s.labels, finite: true });
      for (const s of samples) if ('name' in s.labels) expect(s.labels.name).toBe(LEASE);
    }, WAIT_MS + 5000);
  }

  run('leaves the replicas quiet: none printed anything', () => {
    expect(output).toEqual([]);
  });
});
