/**
 * The README's usage example, kept here so the compiler checks it: a controller whose
 * reconciler runs only on the leader, with /metrics and /healthz on one node:http server.
 * Run it in a cluster (or with a kubeconfig) as `node dist/examples/controller.js`.
 */
import { createServer } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { identityFromEnv, namespaceFromEnv } from '@leasekit/k8s-leaderelection';
import { LeaderElectionComponent, createLeaderElectionBus } from '../index.js';

/** Stands in for your controller's leader-only work (informers, reconcile loop, ...). */
class Reconciler {
  private timer: ReturnType<typeof setInterval> | undefined;
  constructor(private readonly token: number) {}
  start(): void {
    this.timer = setInterval(() => console.log(`reconciling (fencing token ${this.token})`), 5_000);
  }
  async stop(): Promise<void> {
    clearInterval(this.timer);
  }
}

const kubeConfig = new KubeConfig();
kubeConfig.loadFromDefault();

// Off for `npm start` on a laptop: one replica, no API calls, leader at once as `standalone`.
const enabled = process.env.LEADER_ELECTION !== 'false';

const bus = createLeaderElectionBus();
const election = new LeaderElectionComponent(
  {
    enabled,
    identity: identityFromEnv(), // POD_NAME, else the hostname
    leaseName: 'my-controller',
    leaseNamespace: enabled ? namespaceFromEnv() : 'default', // POD_NAMESPACE, else the service account's
  },
  kubeConfig,
  bus,
);

// Leader-only work starts on leader.became and stops on leader.lost. Returning the promise makes
// the component wait for the stop before it releases the Lease (stop work first, release last).
let reconciler: Reconciler | undefined;
bus.on('leader.became', ({ token }) => {
  reconciler = new Reconciler(token);
  reconciler.start();
});
bus.on('leader.lost', async ({ reason }) => {
  console.log(`stopped leading: ${reason}`);
  await reconciler?.stop();
  reconciler = undefined;
});
bus.on('leader.observed', ({ newLeaderIdentity, isSelf }) => console.log(`leader is ${newLeaderIdentity}${isSelf ? ' (us)' : ''}`));

// /metrics from the component's registry, /healthz with client-go's liveness semantics.
const health = election.healthHandler({ toleranceMs: 20_000 });
const server = createServer((req, res) => {
  if (req.url === '/healthz') return health(req, res);
  if (req.url === '/metrics') {
    election.registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': election.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
    return;
  }
  res.writeHead(404).end();
});
server.listen(8080);

const shutdown = new AbortController();
process.once('SIGTERM', () => shutdown.abort());
process.once('SIGINT', () => shutdown.abort());
await election.run(shutdown.signal); // resolves once leader work stopped and the Lease was released
server.close();
