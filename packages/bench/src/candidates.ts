/**
 * A group of in-process electors contending for one Lease on the embedded server, over real
 * HTTP with client-node (each elector builds its own API client from a KubeConfig, as a
 * controller would). Each elector sends its own bearer token, so the server's fault rules can cut
 * one off. Times are `performance.now()`: all electors share this process's monotonic clock.
 */
import { Elector, type FollowerStrategy, type Logger } from '@leasekit/k8s-leaderelection';
import type { LeaseApiServer } from '@leasekit/lease-apiserver';
import type { Timings } from './options.js';

/** One contender. */
export interface Candidate {
  readonly identity: string;
  /** Its bearer token: `faults.partition({ client: { token } })` cuts it off. */
  readonly token: string;
  readonly elector: Elector;
  readonly stop: AbortController;
  /** Resolves when its run() has returned. */
  done: Promise<void>;
  /** Monotonic times its onStartedLeading ran, in order. */
  readonly startedLeadingAt: number[];
  /** Monotonic time of its last successful renewal as the leader saw it (observer.onRenewed). */
  lastRenewAckAt: number | undefined;
}

/** What a group needs. */
export interface GroupOptions {
  readonly server: LeaseApiServer;
  readonly namespace: string;
  readonly leaseName: string;
  readonly mode: FollowerStrategy;
  readonly timings: Timings;
  readonly size: number;
  /** @default true */
  readonly releaseOnCancel?: boolean;
  /** Receives the electors' warnings and errors (counted by the caller). */
  readonly logger: Logger;
}

/** A first leader, or the next one. */
export interface Takeover {
  readonly candidate: Candidate;
  /** Monotonic time its onStartedLeading ran. */
  readonly at: number;
}

/** Electors contending for one Lease; see the file comment. */
export class CandidateGroup {
  readonly candidates: Candidate[] = [];
  private readonly waiters = new Set<(t: Takeover) => void>();
  private readonly takeovers: Takeover[] = [];

  constructor(options: GroupOptions) {
    for (let i = 1; i <= options.size; i++) {
      const identity = `${options.leaseName}-${i}`;
      const token = `${identity}-token`;
      // The callbacks close over `candidate`, which exists by the time run() can call them.
      const elector = new Elector(
        {
          identity,
          leaseName: options.leaseName,
          leaseNamespace: options.namespace,
          ...options.timings,
          followerStrategy: options.mode,
          releaseOnCancel: options.releaseOnCancel ?? true,
          observer: { onRenewed: () => (candidate.lastRenewAckAt = performance.now()) },
        },
        options.server.kubeConfig({ token, namespace: options.namespace }),
        { onStartedLeading: () => this.tookOver(candidate) },
        options.logger,
      );
      const candidate: Candidate = { identity, token, elector, stop: new AbortController(), done: Promise.resolve(), startedLeadingAt: [], lastRenewAckAt: undefined };
      this.candidates.push(candidate);
    }
  }

  private tookOver(candidate: Candidate): void {
    const takeover = { candidate, at: performance.now() };
    candidate.startedLeadingAt.push(takeover.at);
    this.takeovers.push(takeover);
    for (const waiter of [...this.waiters]) waiter(takeover);
  }

  /** Starts every elector at once. */
  start(): void {
    for (const c of this.candidates) c.done = c.elector.run(c.stop.signal);
  }

  /**
   * The first takeover at or after monotonic time `sinceMs` by a candidate not in `excluding`;
   * rejects after `timeoutMs`.
   */
  nextTakeover(sinceMs: number, excluding: readonly Candidate[], timeoutMs: number): Promise<Takeover> {
    const matches = (t: Takeover): boolean => t.at >= sinceMs && !excluding.includes(t.candidate);
    const earlier = this.takeovers.find(matches);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const waiter = (t: Takeover): void => {
        if (!matches(t)) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(t);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no takeover within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Stops every elector and waits until each has shut down (bounded by the renew deadline inside). */
  async stopAll(): Promise<void> {
    for (const c of this.candidates) c.stop.abort();
    await Promise.all(this.candidates.map((c) => c.done));
  }
}

/** A logger that counts warnings and errors and keeps the first few, for the report. */
export class CountingLogger implements Logger {
  warnings = 0;
  errors = 0;
  readonly samples: string[] = [];

  warn = (message: string, fields?: Record<string, unknown>): void => {
    this.warnings++;
    this.keep('warn', message, fields);
  };

  error = (message: string, fields?: Record<string, unknown>): void => {
    this.errors++;
    this.keep('error', message, fields);
  };

  private keep(level: string, message: string, fields?: Record<string, unknown>): void {
    if (this.samples.length >= 5) return;
    const error = typeof fields?.error === 'string' ? `: ${fields.error}` : '';
    this.samples.push(`${level} ${String(fields?.identity ?? '')} ${message}${error}`);
  }
}

/** Sleeps `ms` on the real clock. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
