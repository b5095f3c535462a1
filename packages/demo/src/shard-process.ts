/**
 * The parent's handle on one shard replica process (`shard-replica.js`): fork it with its
 * configuration, hear what it reports (ready, `shard.acquired` / `shard.lost`, warnings and errors,
 * stopped) and its output, stop it gracefully (SIGTERM) or crash it (SIGKILL), know when it exited.
 * Used by `pnpm demo --shards` and `pnpm bench --only shards` (`@leasekit/demo/shard-process`).
 */
import { fileURLToPath } from 'node:url';
import { ForkedProcess, type ExitInfo } from './replica-process.js';
import { SHARD_REPLICA_ENV, isShardReplicaMessage, type ShardEventMessage, type ShardReplicaConfig, type ShardReplicaMessage } from './shard-protocol.js';

export type { ShardReplicaConfig } from './shard-protocol.js';

/** The replica's entry point next to this module (dist/shard-replica.js once built). */
export const SHARD_REPLICA_SCRIPT = fileURLToPath(new URL('./shard-replica.js', import.meta.url));

/** What the parent hears from a shard replica; each optional. */
export interface ShardProcessHandlers {
  onEvent?(message: ShardEventMessage): void;
  onLog?(level: 'warn' | 'error', message: string, at: number): void;
  onOutput?(line: string): void;
  onExit?(exit: ExitInfo): void;
}

/** A forked shard replica. */
export class ShardProcess extends ForkedProcess<ShardReplicaMessage> {
  /** Resolves when the replica's component is running (its run() was called), or it exited. */
  readonly ready: Promise<void>;
  /** Its /metrics and /healthz port, once ready. */
  port: number | undefined;
  /** Rebalancing handovers it gave, from its `stopped` report (undefined until then: a crash never reports). */
  handovers: number | undefined;
  /** The first lines it printed (a crash prints its stack). */
  readonly output: string[] = [];

  constructor(script: string, config: ShardReplicaConfig, handlers: ShardProcessHandlers = {}) {
    const env: NodeJS.ProcessEnv = { ...process.env, [SHARD_REPLICA_ENV]: JSON.stringify(config) };
    delete env.NODE_OPTIONS; // a test runner's flags are not the replica's
    let onReady: () => void = () => undefined;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    // Messages arrive only after the constructor returned; `self` is this process by then.
    const self: { process?: ShardProcess } = {};
    super(
      { script, identity: config.identity, env, isMessage: isShardReplicaMessage },
      {
        onMessage: (message) => {
          if (message.type === 'ready') {
            self.process!.port = message.port;
            onReady();
          } else if (message.type === 'shard') handlers.onEvent?.(message);
          else if (message.type === 'log') handlers.onLog?.(message.level, message.message, message.at);
          else self.process!.handovers = message.handovers;
        },
        onOutput: (line) => {
          if (self.process!.output.length < 50) self.process!.output.push(line);
          handlers.onOutput?.(line);
        },
        onExit: (exit) => {
          onReady();
          handlers.onExit?.(exit);
        },
      },
    );
    self.process = this;
    this.ready = ready;
  }
}
