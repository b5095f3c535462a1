/**
 * The parent's handle on one replica child process: fork it with its configuration, relay its
 * IPC messages and output lines, send it signals, and know when (and how) it exited.
 * {@link ForkedProcess} is the handle for any kind of replica (its configuration in one
 * environment variable, its messages checked by a guard); {@link ReplicaProcess} is the demo's
 * single-Lease replica, `ShardProcess` (shard-process.ts) the shard set's.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { REPLICA_CONFIG_ENV, isReplicaMessage, type ReplicaConfig, type ReplicaMessage } from './protocol.js';

/** How a process ended. */
export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** What the parent hears from a replica. */
export interface ReplicaProcessHandlers<M = ReplicaMessage> {
  onMessage(message: M): void;
  /** A line the replica printed (it normally prints nothing; a crash prints its stack). */
  onOutput(line: string): void;
  onExit(exit: ExitInfo): void;
}

/** How to start one replica process. */
export interface ForkSpec<M> {
  /** The replica's entry point (a `dist/*.js` file). */
  readonly script: string;
  readonly identity: string;
  /** The child's whole environment (its configuration included). */
  readonly env: NodeJS.ProcessEnv;
  /** Which IPC messages are the replica's (anything else is ignored). */
  readonly isMessage: (value: unknown) => value is M;
}

/** A forked replica process of any kind. */
export class ForkedProcess<M> {
  readonly identity: string;
  /** Resolves once the process has exited, for any reason. */
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcess;
  private exitInfo: ExitInfo | undefined;

  constructor(spec: ForkSpec<M>, handlers: ReplicaProcessHandlers<M>) {
    this.identity = spec.identity;
    this.child = fork(spec.script, [], {
      env: spec.env,
      // stdout/stderr piped so a crash shows up in the timeline under the replica's name.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // The parent's own flags (a test runner's, say) are not the replica's business.
      execArgv: [],
    });
    this.child.on('message', (message: unknown) => {
      if (spec.isMessage(message)) handlers.onMessage(message);
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      if (stream) createInterface({ input: stream }).on('line', (line) => handlers.onOutput(line));
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        handlers.onExit(this.exitInfo);
        resolve(this.exitInfo);
      });
    });
    // A fork that cannot start at all reports 'error' without 'exit'; surface it as output.
    this.child.once('error', (err) => handlers.onOutput(`cannot start: ${err.message}`));
  }

  /** The OS process id (undefined if the fork failed). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True until the process has exited. */
  get alive(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends a signal if the process is still alive; true when it was sent. */
  signal(signal: 'SIGTERM' | 'SIGKILL'): boolean {
    if (!this.alive) return false;
    return this.child.kill(signal);
  }

  /** Waits for the exit at most `timeoutMs`; true when it exited in time. */
  async waitForExit(timeoutMs: number): Promise<boolean> {
    if (!this.alive) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([this.exited.then(() => true as const), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`; resolves once it exited. */
  async stop(graceMs: number): Promise<void> {
    this.signal('SIGTERM');
    if (!(await this.waitForExit(graceMs))) {
      this.signal('SIGKILL');
      await this.exited;
    }
  }
}

/** A forked replica of the demo's single-Lease controller (`dist/replica.js`). */
export class ReplicaProcess extends ForkedProcess<ReplicaMessage> {
  /**
   * @param script the replica's entry point (`dist/replica.js`).
   * @param config passed in the {@link REPLICA_CONFIG_ENV} environment variable.
   */
  constructor(script: string, config: ReplicaConfig, handlers: ReplicaProcessHandlers) {
    super({ script, identity: config.identity, env: { ...process.env, [REPLICA_CONFIG_ENV]: JSON.stringify(config) }, isMessage: isReplicaMessage }, handlers);
  }
}

/** `exit 0`, `exit 1`, `SIGKILL`, ... */
export function describeExit(exit: ExitInfo): string {
  return exit.signal ? exit.signal : `exit ${exit.code ?? '?'}`;
}
