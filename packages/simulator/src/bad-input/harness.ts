/**
 * Shared helpers for the bad-input matrix: one elector on a FakeClock over the in-memory store,
 * with a logger that records levels, and a check that stopping it leaves nothing behind.
 */
import { Elector, type ElectorConfig, type LeaseClient, type Logger } from '@leasekit/k8s-leaderelection';
import { FakeClock, LeaseStore, MemoryLeaseClient, seededRandom, type MemoryLeaseClientOptions } from '@leasekit/k8s-leaderelection/testing';

export const NS = 'default';
export const LEASE = 'bad-input';

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown> | undefined;
}

export function recordingLogger(lines: LogLine[]): Logger {
  const at = (level: LogLine['level']) => (message: string, fields?: Record<string, unknown>) => lines.push({ level, message, fields });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface Rig {
  clock: FakeClock;
  store: LeaseStore;
  memory: MemoryLeaseClient;
  elector: Elector;
  logs: LogLine[];
  stopped: string[];
  /** The leadership signal of every term, in order. */
  signals: AbortSignal[];
  controller: AbortController;
  /** Resolves like run(); `settled` tells whether it has. */
  done: Promise<void>;
  settled(): boolean;
  /** Stops the elector and asserts it shuts down cleanly: run() resolves, no timer pending. */
  stop(): Promise<{ pendingTimers: number; resolved: boolean }>;
}

export interface RigOptions {
  config?: Partial<ElectorConfig>;
  memory?: Omit<MemoryLeaseClientOptions, 'clock'>;
  /** Wraps the memory client (to return malformed data, say). */
  wrap?: (memory: MemoryLeaseClient) => LeaseClient;
  /** Create the Lease first (free, empty spec). @default true */
  preCreate?: boolean;
}

export function rig(options: RigOptions = {}): Rig {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  if (options.preCreate !== false) store.create(NS, { metadata: { name: LEASE } });
  const memory = new MemoryLeaseClient(store, { clock, ...options.memory });
  const logs: LogLine[] = [];
  const stopped: string[] = [];
  const signals: AbortSignal[] = [];
  const elector = new Elector(
    { identity: 'me', leaseName: LEASE, leaseNamespace: NS, clock, random: seededRandom(1), followerStrategy: 'poll', ...options.config },
    options.wrap ? options.wrap(memory) : memory,
    { onStartedLeading: (signal) => void signals.push(signal), onStoppedLeading: ({ reason }) => void stopped.push(reason) },
    recordingLogger(logs),
  );
  const controller = new AbortController();
  let settled = false;
  const done = elector.run(controller.signal).finally(() => {
    settled = true;
  });
  return {
    clock,
    store,
    memory,
    elector,
    logs,
    stopped,
    signals,
    controller,
    done,
    settled: () => settled,
    async stop() {
      controller.abort();
      const resolved = await clock.advanceUntil(() => settled, 120_000);
      await done;
      return { pendingTimers: clock.pendingTimers, resolved };
    },
  };
}
