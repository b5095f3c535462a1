/**
 * The watching follower: keeps a watch open on the one Lease it contends for and reports every
 * change, so a follower learns of a release or a renewal at once instead of polling. Safety never
 * depends on it: acquisition is always a fresh GET plus a compare-and-swap write. A broken watch
 * only degrades the follower towards polling: it reconnects with jittered backoff, resumes from
 * the last resourceVersion, and relists after 410 Gone.
 */
import { sleep } from './clock.js';
import type { ResolvedConfig } from './config.js';
import { describeError, isForbidden } from './errors.js';
import type { Lease, LeaseClient, LeaseWatchEvent } from './lease.js';
import type { SafeLogger } from './logger.js';

export interface LeaseFollowerOptions {
  client: LeaseClient;
  config: ResolvedConfig;
  log: SafeLogger;
  /** The Lease as the watch delivered it (ADDED or MODIFIED). */
  onLease(lease: Lease): void;
  /** The Lease was deleted. */
  onDeleted(): void;
  /** Where to resume from when (re)connecting: the resourceVersion last observed. */
  currentResourceVersion(): string | undefined;
}

const MIN_BACKOFF_MS = 100;

export class LeaseFollower {
  private controller: AbortController | undefined;
  private connected = false;
  private resumeFrom: string | undefined;
  private forbiddenLogged = false;

  constructor(private readonly options: LeaseFollowerOptions) {}

  /** True when the client can watch at all. */
  get supported(): boolean {
    return typeof this.options.client.watch === 'function';
  }

  /** True while a watch stream is open, so the follower may rely on it instead of polling. */
  get healthy(): boolean {
    return this.connected;
  }

  /** Starts watching (idempotent). Stops when `stop` aborts or {@link stop} is called. */
  start(stop: AbortSignal): void {
    if (this.controller || !this.supported || stop.aborted) return;
    const controller = new AbortController();
    this.controller = controller;
    const onStop = (): void => controller.abort();
    stop.addEventListener('abort', onStop, { once: true });
    this.resumeFrom = this.options.currentResourceVersion();
    this.watchLoop(controller.signal)
      .catch((err: unknown) => this.options.log.warn('Lease watch loop failed', { error: describeError(err) }))
      .finally(() => stop.removeEventListener('abort', onStop));
  }

  /** Stops watching (idempotent). */
  stop(): void {
    this.controller?.abort();
    this.controller = undefined;
    this.connected = false;
  }

  private async watchLoop(signal: AbortSignal): Promise<void> {
    const { client, config, log } = this.options;
    const maxBackoffMs = Math.max(MIN_BACKOFF_MS, config.retryPeriodMs);
    let backoffMs = MIN_BACKOFF_MS;
    while (!signal.aborted) {
      const stream = new AbortController();
      const onAbort = (): void => stream.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      let delivered = false;
      try {
        await client.watch!(config.leaseNamespace, config.leaseName, {
          signal: stream.signal,
          ...(this.resumeFrom !== undefined ? { resourceVersion: this.resumeFrom } : {}),
          onOpen: () => {
            if (!signal.aborted) this.connected = true;
          },
          onEvent: (event) => {
            if (signal.aborted) return;
            delivered = true;
            this.connected = true;
            if (!this.handle(event)) stream.abort();
          },
        });
      } catch (err) {
        if (signal.aborted) {
          // stopping: nothing to report
        } else if (isForbidden(err) && !this.forbiddenLogged) {
          // Followers still work without watch (they poll), but the operator should know why.
          this.forbiddenLogged = true;
          log.warn(`Not allowed to watch leases in namespace ${config.leaseNamespace}: grant watch on leases.coordination.k8s.io; following by polling until then`, { error: describeError(err) });
        } else {
          log.debug('Lease watch ended with an error; reconnecting', { error: describeError(err) });
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        this.connected = false;
      }
      if (signal.aborted) break;
      backoffMs = delivered ? MIN_BACKOFF_MS : Math.min(backoffMs * 2, maxBackoffMs);
      await sleep(config.clock, backoffMs * (0.5 + config.random()), signal);
    }
  }

  /** Handles one event; false ends the current stream (to reconnect). */
  private handle(event: LeaseWatchEvent): boolean {
    const object = event.object as Lease & { code?: number };
    const rv = object.metadata?.resourceVersion;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        if (rv) this.resumeFrom = rv;
        this.options.onLease(object);
        return true;
      case 'DELETED':
        if (rv) this.resumeFrom = rv;
        this.options.onDeleted();
        return true;
      case 'BOOKMARK':
        if (rv) this.resumeFrom = rv;
        return true;
      case 'ERROR':
        // 410 Gone / Expired: our resourceVersion was compacted away. Relist: watch from "now",
        // which starts with an ADDED event for the current state.
        if (object.code === 410) this.resumeFrom = undefined;
        this.options.log.debug('Lease watch reported an error; reconnecting', { status: event.object });
        return false;
      default:
        return true;
    }
  }
}
