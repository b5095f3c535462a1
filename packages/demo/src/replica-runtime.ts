/**
 * What every replica process of the demo (and of the bench's shard scenario) does the same way:
 * report to the parent over IPC, log warnings and errors there, load its kubeconfig, serve
 * `/metrics` and `/healthz` on a loopback port, turn every way a pod is told to stop into one
 * abort signal, and close down after `run()` resolved.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@leasekit/k8s-leaderelection';
import { nowMs } from './protocol.js';

/** Sends to the parent when it is still there; a replica outliving its parent must not crash on that. */
export function report(message: object): void {
  if (process.connected && process.send) process.send(message, undefined, {}, () => undefined);
}

/** Reads the replica's configuration (JSON) from `name`. */
export function readConfig<T>(name: string): T {
  const raw = process.env[name];
  if (!raw) throw new Error(`${name} is not set: this script is started by the demo (node dist/demo.js) or the bench`);
  return JSON.parse(raw) as T;
}

/** The kubeconfig file, or the in-cluster service account when there is none. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  if (file !== undefined) kubeConfig.loadFromFile(file);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

/** Warnings and errors go to the parent's timeline; the elector's debug chatter stays here. */
export function parentLogger(identity: string): Logger {
  const send = (level: 'warn' | 'error') => (message: string, fields?: Record<string, unknown>) => {
    const error = typeof fields?.error === 'string' ? `: ${fields.error}` : '';
    report({ type: 'log', identity, level, message: `${message}${error}`, at: nowMs() });
  };
  return { warn: send('warn'), error: send('error') };
}

/** What the HTTP endpoints need of a component (the single-Lease or the sharded one). */
export interface ServedComponent {
  /** The component's prom-client Registry. */
  readonly registry: { metrics(): Promise<string>; readonly contentType: string };
  healthHandler(): (req: IncomingMessage, res: ServerResponse) => void;
}

/** Serves the component's `/metrics` and `/healthz` on a free 127.0.0.1 port. */
export function serveMetricsAndHealth(component: ServedComponent): Promise<Server> {
  const health = component.healthHandler();
  const server = createServer((req, res) => {
    if (req.url === '/healthz') return health(req, res);
    if (req.url === '/metrics') {
      component.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': component.registry.contentType }).end(text),
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

/** The port a server from {@link serveMetricsAndHealth} listens on. */
export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/**
 * One shutdown path for every way a pod is told to stop; the parent vanishing counts too, so a
 * killed demo never leaves replicas behind. The signal handlers stay installed until the process
 * ends (`on`, not `once`): Ctrl-C in a terminal sends SIGINT to the replica and the parent then
 * sends SIGTERM, and a second signal must not kill a replica that is still releasing.
 */
export function shutdownSignal(): AbortSignal {
  const stop = new AbortController();
  const shutdown = (): void => stop.abort();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  process.once('disconnect', shutdown);
  return stop.signal;
}

/** After `run()` resolved: closes the HTTP server and the IPC channel, so the process ends by itself. */
export async function closeDown(http: Server): Promise<void> {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  if (process.connected) process.disconnect();
  // This unref'd timer only fires if some library left a handle open, and then it still exits
  // with the graceful status.
  setTimeout(() => process.exit(0), 2000).unref();
}
