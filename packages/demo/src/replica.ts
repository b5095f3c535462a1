/**
 * One replica of the demo's controller, run as a child process by `demo.ts`: the smallest real
 * controller built on `LeaderElectionComponent`. It serves `/metrics` and `/healthz` on a loopback
 * port, forwards every bus event to the parent, and shuts down the way a pod should: on SIGTERM
 * (or SIGINT from a terminal's Ctrl-C, or the parent going away) it stops leading, releases the
 * Lease (or, with `handoverOnShutdown`, hands it to the newest live replica), and exits 0. SIGKILL it to see a crash.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { LeaderElectionComponent } from '@leasekit/controller-leaderelection';
import type { Logger } from '@leasekit/k8s-leaderelection';
import { REPLICA_CONFIG_ENV, nowMs, type ReplicaConfig, type ReplicaMessage } from './protocol.js';
import { createReplicaComponent } from './replica-component.js';

/** Sends to the parent when it is still there; a replica outliving its parent must not crash on that. */
function report(message: ReplicaMessage): void {
  if (process.connected && process.send) process.send(message, undefined, {}, () => undefined);
}

function readConfig(): ReplicaConfig {
  const raw = process.env[REPLICA_CONFIG_ENV];
  if (!raw) throw new Error(`${REPLICA_CONFIG_ENV} is not set: this script is started by the demo (node dist/demo.js)`);
  return JSON.parse(raw) as ReplicaConfig;
}

function loadKubeConfig(config: ReplicaConfig): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig !== undefined) kubeConfig.loadFromFile(config.kubeconfig);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

/** Warnings and errors go to the parent's timeline; the elector's debug chatter stays here. */
function parentLogger(identity: string): Logger {
  const send = (level: 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    const error = typeof fields?.error === 'string' ? `: ${fields.error}` : '';
    report({ type: 'log', identity, level, message: `${message}${error}`, at: nowMs() });
  };
  return { warn: send('warn'), error: send('error') };
}

function serveMetricsAndHealth(election: LeaderElectionComponent): Promise<Server> {
  const health = election.healthHandler();
  const server = createServer((req, res) => {
    if (req.url === '/healthz') return health(req, res);
    if (req.url === '/metrics') {
      election.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': election.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    res.writeHead(404).end('not found: try /metrics or /healthz\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function main(): Promise<void> {
  const config = readConfig();
  const { identity } = config;
  // With `handoverOnShutdown` in the config, a leader's SIGTERM hands the Lease to the newest
  // live replica instead of releasing it; in coordinated mode the coordinator picks the holder.
  const { component: election, bus } = createReplicaComponent(config, loadKubeConfig(config), {}, parentLogger(identity));

  // Timestamps are taken here rather than from the payload: the payload's Date has whole
  // milliseconds, and the listener runs synchronously when the event is published.
  bus.on('leader.election.started', () => report({ type: 'event', identity, event: 'leader.election.started', at: nowMs() }));
  bus.on('leader.became', ({ token }) => report({ type: 'event', identity, event: 'leader.became', at: nowMs(), token }));
  bus.on('leader.lost', ({ token, reason }) => report({ type: 'event', identity, event: 'leader.lost', at: nowMs(), token, reason }));
  bus.on('leader.observed', ({ newLeaderIdentity }) =>
    report({ type: 'event', identity, event: 'leader.observed', at: nowMs(), leader: newLeaderIdentity }),
  );

  const http = await serveMetricsAndHealth(election);
  report({ type: 'ready', identity, pid: process.pid, port: (http.address() as AddressInfo).port, at: nowMs() });

  // One shutdown path for every way a pod is told to stop; the parent vanishing counts too, so
  // a killed demo never leaves replicas behind.
  // The signal handlers stay installed until the process ends (`on`, not `once`): Ctrl-C in a
  // terminal sends SIGINT to the replica and the parent then sends SIGTERM, and a second signal
  // must not kill a replica that is still releasing the Lease.
  const stop = new AbortController();
  const shutdown = (): void => stop.abort();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.once('disconnect', shutdown);

  await election.run(stop.signal);
  report({ type: 'stopped', identity, at: nowMs() });
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  if (process.connected) process.disconnect();
  // Everything is closed, so the process ends by itself; this unref'd timer only fires if some
  // library left a handle open, and then it still exits with the graceful status.
  setTimeout(() => process.exit(0), 2000).unref();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
