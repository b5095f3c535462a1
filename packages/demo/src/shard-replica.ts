/**
 * One replica process of a shard set (`pnpm demo --shards`, `pnpm bench --only shards`): a
 * `ShardedLeaderElectionComponent` on the set named in its configuration (environment variable
 * {@link SHARD_REPLICA_ENV}), talking to the API server through a kubeconfig file. It serves
 * `/metrics` and `/healthz`, forwards `shard.acquired` and `shard.lost` to the parent, and on
 * SIGTERM (or SIGINT, or the parent going away) hands its shards over, leaves the membership and
 * exits 0. SIGKILL is the crash.
 */
import { ShardedLeaderElectionComponent, createShardedLeaderElectionBus } from '@leasekit/controller-leaderelection';
import { nowMs } from './protocol.js';
import { closeDown, loadKubeConfig, parentLogger, portOf, readConfig, report as send, serveMetricsAndHealth, shutdownSignal } from './replica-runtime.js';
import { SHARD_REPLICA_ENV, type ShardReplicaConfig, type ShardReplicaMessage } from './shard-protocol.js';

const report = (message: ShardReplicaMessage): void => send(message);

async function main(): Promise<void> {
  const config = readConfig<ShardReplicaConfig>(SHARD_REPLICA_ENV);
  const { identity } = config;
  const bus = createShardedLeaderElectionBus();
  const component = new ShardedLeaderElectionComponent(
    {
      identity,
      setName: config.setName,
      namespace: config.namespace,
      shards: config.shards,
      elector: config.elector,
      membership: config.membership,
      handoverIntervalMs: config.handoverIntervalMs,
      settleMs: config.settleMs,
    },
    loadKubeConfig(config.kubeconfig),
    bus,
    {},
    parentLogger(identity),
  );
  const stop = shutdownSignal();
  let handovers = 0;
  // Timestamps taken in the listener (it runs synchronously when the event is published): the
  // payload's Date has whole milliseconds.
  bus.on('shard.acquired', ({ shard, token }) => report({ type: 'shard', identity, event: 'shard.acquired', shard, token, at: nowMs() }));
  bus.on('shard.lost', ({ shard, token, reason }) => {
    if (reason === 'handed_over' && !stop.aborted) handovers++;
    report({ type: 'shard', identity, event: 'shard.lost', shard, token, reason, at: nowMs() });
  });

  const http = await serveMetricsAndHealth(component);
  const done = component.run(stop);
  report({ type: 'ready', identity, pid: process.pid, port: portOf(http), at: nowMs() });
  await done;
  report({ type: 'stopped', identity, handovers, at: nowMs() });
  await closeDown(http);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
