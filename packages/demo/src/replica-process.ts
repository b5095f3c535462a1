/**
 * The parent's handle on one replica child process: fork it with its configuration, relay its
 * IPC messages and output lines, send it signals, and know when (and how) it exited.
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
export interface ReplicaProcessHandlers {
  onMessage(message: ReplicaMessage): void;
  /** A line the replica printed (it normally prints nothing; a crash prints its stack). */
  onOutput(line: string): void;
  onExit(exit: ExitInfo): void;
}

/** A forked replica. */
export class ReplicaProcess {
  readonly identity: string;
  /** Resolves once the process has exited, for any reason. */
  readonly exited: Promise<ExitInfo>;
  private readonly child: ChildProcess;
  private exitInfo: ExitInfo | undefined;

  /**
   * @param script the replica's entry point (`dist/replica.js`).
   * @param config passed in the {@link REPLICA_CONFIG_ENV} environment variable.
   */
  constructor(script: string, config: ReplicaConfig, handlers: ReplicaProcessHandlers) {
    this.identity = config.identity;
    this.child = fork(script, [], {
      env: { ...process.env, [REPLICA_CONFIG_ENV]: JSON.stringify(config) },
      // stdout/stderr piped so a crash shows up in the timeline under the replica's name.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // The parent's own flags (a test runner's, say) are not the replica's business.
      execArgv: [],
    });
    this.child.on('message', (message: unknown) => {
      if (isReplicaMessage(message)) handlers.onMessage(message);
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
}

/** `exit 0`, `exit 1`, `SIGKILL`, ... */
export function describeExit(exit: ExitInfo): string {
  return exit.signal ? exit.signal : `exit ${exit.code ?? '?'}`;
}
