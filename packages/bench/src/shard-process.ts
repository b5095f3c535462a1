/**
 * The parent's handle on one sharding replica process (`shard-replica.js`): fork it with its
 * configuration, collect what it reports (ready, warnings and errors, stopped) and its output,
 * stop it gracefully (SIGTERM) or crash it (SIGKILL), and know when it exited.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SHARD_REPLICA_ENV, type ShardReplicaConfig, type ShardReplicaMessage } from './shard-protocol.js';

/** The replica's entry point next to this module (dist/shard-replica.js once built). */
export const SHARD_REPLICA_SCRIPT = fileURLToPath(new URL('./shard-replica.js', import.meta.url));

/** A forked sharding replica. */
export class ShardProcess {
  readonly identity: string;
  /** Resolves once the process has exited, for any reason. */
  readonly exited: Promise<void>;
  /** Resolves when the replica's ShardedElector is running (its run() was called). */
  readonly ready: Promise<void>;
  /** Rebalancing handovers it started, from its `stopped` report (undefined until then: a crash never reports). */
  handovers: number | undefined;
  /** Lines it printed (a crash prints its stack). */
  readonly output: string[] = [];
  private readonly child: ChildProcess;
  private exitedYet = false;

  constructor(script: string, config: ShardReplicaConfig, onLog: (level: 'warn' | 'error', message: string) => void) {
    this.identity = config.identity;
    const env: NodeJS.ProcessEnv = { ...process.env, [SHARD_REPLICA_ENV]: JSON.stringify(config) };
    delete env.NODE_OPTIONS; // a test runner's flags are not the replica's
    this.child = fork(script, [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], execArgv: [] });
    let onReady: () => void = () => undefined;
    this.ready = new Promise((resolve) => (onReady = resolve));
    this.child.on('message', (message: ShardReplicaMessage) => {
      if (message.type === 'ready') onReady();
      else if (message.type === 'log') onLog(message.level, message.message);
      else if (message.type === 'stopped') this.handovers = message.handovers;
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => this.output.length < 50 && this.output.push(line));
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => {
        this.exitedYet = true;
        onReady();
        resolve();
      });
    });
    this.child.once('error', (err) => this.output.push(`cannot start: ${err.message}`));
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return !this.exitedYet && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM (graceful: hands its shards over) or SIGKILL (a crash: nothing released). */
  signal(signal: 'SIGTERM' | 'SIGKILL'): void {
    if (this.alive) this.child.kill(signal);
  }

  /** Waits for the exit at most `timeoutMs`; true when it exited in time. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (!this.alive) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.exited.then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.signal('SIGTERM');
    if (!(await this.waitForExit(graceMs))) {
      this.signal('SIGKILL');
      await this.exited;
    }
  }
}
