#!/usr/bin/env node
/**
 * One replica process of the sharding scenario (`pnpm bench --only shards`): a ShardedElector on
 * the set named in its configuration (environment variable {@link SHARD_REPLICA_ENV}), talking to
 * the embedded server through a kubeconfig file. SIGTERM aborts `run()` (the graceful leave: hand
 * the shards over, leave the membership); SIGKILL is the crash. The parent measures on the
 * server's Leases; this process only reports that it is running, what it logged and that it stopped.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { ShardedElector, type Logger } from '@leasekit/k8s-leaderelection';
import { SHARD_REPLICA_ENV, type ShardReplicaConfig, type ShardReplicaMessage } from './shard-protocol.js';

function send(message: ShardReplicaMessage): void {
  if (process.connected) process.send?.(message);
}

async function main(): Promise<void> {
  const config = JSON.parse(process.env[SHARD_REPLICA_ENV] ?? '') as ShardReplicaConfig;
  const { identity } = config;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(config.kubeconfig);
  const logger: Logger = {
    warn: (message, fields) => send({ type: 'log', identity, level: 'warn', message: `${message}${typeof fields?.error === 'string' ? `: ${fields.error}` : ''}` }),
    error: (message, fields) => send({ type: 'log', identity, level: 'error', message: `${message}${typeof fields?.error === 'string' ? `: ${fields.error}` : ''}` }),
  };
  const sharded = new ShardedElector(
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
    kubeConfig,
    {},
    logger,
  );
  const stop = new AbortController();
  process.once('SIGTERM', () => stop.abort());
  // The parent gone (its IPC channel closed): leave as on SIGTERM, never linger as an orphan.
  process.once('disconnect', () => stop.abort());
  const done = sharded.run(stop.signal);
  send({ type: 'ready', identity });
  await done;
  send({ type: 'stopped', identity, handovers: sharded.stats.handovers, electorsStarted: sharded.stats.electorsStarted });
  if (process.connected) process.disconnect();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
