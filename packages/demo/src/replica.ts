/**
 * One replica of the demo's controller, run as a child process by `demo.ts`: the smallest real
 * controller built on `LeaderElectionComponent`. It serves `/metrics` and `/healthz` on a loopback
 * port, forwards every bus event to the parent, and shuts down the way a pod should: on SIGTERM
 * (or SIGINT from a terminal's Ctrl-C, or the parent going away) it stops leading, releases the
 * Lease (or, with `handoverOnShutdown`, hands it to the newest live replica), and exits 0. SIGKILL it to see a crash.
 */
import { REPLICA_CONFIG_ENV, nowMs, type ReplicaConfig, type ReplicaMessage } from './protocol.js';
import { createReplicaComponent } from './replica-component.js';
import { closeDown, loadKubeConfig, parentLogger, portOf, readConfig, report as send, serveMetricsAndHealth, shutdownSignal } from './replica-runtime.js';

const report = (message: ReplicaMessage): void => send(message);

async function main(): Promise<void> {
  const config = readConfig<ReplicaConfig>(REPLICA_CONFIG_ENV);
  const { identity } = config;
  // With `handoverOnShutdown` in the config, a leader's SIGTERM hands the Lease to the newest
  // live replica instead of releasing it; in coordinated mode the coordinator picks the holder.
  const { component: election, bus } = createReplicaComponent(config, loadKubeConfig(config.kubeconfig), {}, parentLogger(identity));

  // Timestamps are taken here rather than from the payload: the payload's Date has whole
  // milliseconds, and the listener runs synchronously when the event is published.
  bus.on('leader.election.started', () => report({ type: 'event', identity, event: 'leader.election.started', at: nowMs() }));
  bus.on('leader.became', ({ token }) => report({ type: 'event', identity, event: 'leader.became', at: nowMs(), token }));
  bus.on('leader.lost', ({ token, reason }) => report({ type: 'event', identity, event: 'leader.lost', at: nowMs(), token, reason }));
  bus.on('leader.observed', ({ newLeaderIdentity }) =>
    report({ type: 'event', identity, event: 'leader.observed', at: nowMs(), leader: newLeaderIdentity }),
  );

  const http = await serveMetricsAndHealth(election);
  report({ type: 'ready', identity, pid: process.pid, port: portOf(http), at: nowMs() });

  await election.run(shutdownSignal());
  report({ type: 'stopped', identity, at: nowMs() });
  await closeDown(http);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
