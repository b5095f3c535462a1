/**
 * Owns the one watch over a whole Lease set (label selector): list, then watch from the list's
 * resourceVersion, resume after a stream ends, relist after 410 Gone; a cache of the set; and the
 * per-Lease watches served from it (`clientFor`), so N shard electors cost one watch, not N.
 * Safety never depends on it: the electors act only through their own compare-and-swap writes.
 */
import { sleep, type Clock } from '../clock.js';
import { describeError, isApiError } from '../errors.js';
import type { Lease, LeaseClient, LeaseListResult, LeaseWatchEvent, SetWatchOptions, WatchOptions } from '../lease.js';
import type { SafeLogger } from '../logger.js';
import type { Random } from '../random.js';
import { boundedSignal, raceAbort } from '../request.js';
import { ABORT_ERROR } from '../signals.js';

/** The client calls the feed needs. */
export type SetFeedClient = LeaseClient & Required<Pick<LeaseClient, 'list' | 'watchSet'>>;

export interface SetFeedOptions {
  readonly client: SetFeedClient;
  readonly namespace: string;
  readonly labelSelector: string;
  readonly clock: Clock;
  readonly random: Random;
  /** The first wait after a failure (doubling, at most 4 times this); consecutive watches open at least this far apart after a short stream. */
  readonly retryPeriodMs: number;
  /** Bound on the list request. */
  readonly requestTimeoutMs: number;
  readonly log: SafeLogger;
  /** A Lease of the set changed (or was deleted: `lease` undefined), after the cache and the per-Lease watchers saw it. */
  readonly onChange?: (name: string, lease: Lease | undefined) => void;
}

/** A per-Lease watch served from the feed. */
interface Subscriber {
  readonly name: string;
  readonly options: WatchOptions;
  opened: boolean;
  end(error?: unknown): void;
}

/** True when resourceVersion `a` is newer than `b`: as integers when both are (etcd revisions), else when they differ. */
export function isNewerVersion(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || a === '') return false;
  if (b === undefined || b === '') return true;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

export class SetFeed {
  /** Requests made: lists and watch opens (for cost checks). */
  readonly requests = { lists: 0, watches: 0 };
  /** Reads served from the cache instead of a GET (see {@link clientFor}). */
  cachedReads = 0;
  private readonly cache = new Map<string, Lease>();
  private readonly subscribers = new Set<Subscriber>();
  /** The resourceVersion to resume from (undefined: relist). */
  private resourceVersion: string | undefined;
  private streamOpen = false;
  private stopped = false;
  private failures = 0;

  constructor(private readonly options: SetFeedOptions) {}

  /** True while the watch stream is open. */
  get open(): boolean {
    return this.streamOpen;
  }

  /** The cached Lease `name` (undefined when absent or not listed yet). */
  lease(name: string): Lease | undefined {
    return this.cache.get(name);
  }

  /** Every cached Lease. */
  leases(): IterableIterator<Lease> {
    return this.cache.values();
  }

  /**
   * Lists and watches until `signal` aborts. Never rejects: failures are logged and retried
   * after the retry period, doubling per consecutive failure up to 4 retry periods (jittered).
   */
  async run(signal: AbortSignal): Promise<void> {
    const { clock, retryPeriodMs, random } = this.options;
    this.stopped = false;
    try {
      while (!signal.aborted) {
        const startedAt = clock.now();
        let delivered = false;
        try {
          if (this.resourceVersion === undefined) await this.relist(signal);
          delivered = await this.watchOnce(signal);
        } catch (err) {
          if (signal.aborted) break;
          if (isApiError(err) && err.statusCode === 410) this.resourceVersion = undefined;
          this.options.log.warn('Shard set watch failed; retrying', { error: describeError(err), failures: this.failures + 1 });
        }
        if (signal.aborted) break;
        const healthy = delivered && clock.now() - startedAt >= retryPeriodMs;
        this.failures = healthy ? 0 : this.failures + 1;
        const steps = healthy ? 0 : Math.min(2 ** Math.min(this.failures - 1, 30), 4);
        // A healthy stream that ended (a server-side timeout) reconnects at once; else back off.
        const waitMs = healthy ? random() * Math.min(100, retryPeriodMs) : steps * retryPeriodMs * (1 + 0.5 * random());
        await sleep(clock, waitMs, signal);
      }
    } finally {
      this.stopped = true;
      this.setOpen(false);
      for (const sub of [...this.subscribers]) sub.end();
    }
  }

  /**
   * A LeaseClient for one Lease of the set: requests go to `base`; `watch` is served from this
   * feed (no request): it waits for the feed's stream, calls `onOpen`, delivers the cached state
   * when it is newer than the given resourceVersion, then every change, and ends with the feed's stream.
   * `firstGetFromCache`: the client's first `get`, made while the stream is open and the Lease is
   * cached, returns a copy of the cached Lease without a request (every later `get` is a request,
   * so a failed write always reads the Lease afresh).
   */
  clientFor(base: LeaseClient, options: { readonly firstGetFromCache?: boolean } = {}): LeaseClient {
    let cachedGetLeft = options.firstGetFromCache === true;
    return {
      get: (namespace, name, getOptions) => {
        // The first read of a new Elector, while the stream is open: what the set watch delivered
        // last, without a request. A hint like any watch event: the Elector's write is a
        // compare-and-swap against its resourceVersion, and a stale copy only costs a 409.
        const cached = cachedGetLeft && this.streamOpen ? this.cache.get(name) : undefined;
        cachedGetLeft = false;
        if (cached) {
          this.cachedReads++;
          return Promise.resolve(structuredClone(cached));
        }
        return base.get(namespace, name, getOptions);
      },
      create: (namespace, lease, options) => base.create(namespace, lease, options),
      update: (namespace, lease, options) => base.update(namespace, lease, options),
      watch: (_namespace, name, options) => this.watchOne(name, options),
    };
  }

  /** One per-Lease watch served from the feed (see {@link clientFor}). */
  watchOne(name: string, options: WatchOptions): Promise<void> {
    const { signal } = options;
    if (signal?.aborted || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const sub: Subscriber = {
        name,
        options,
        opened: false,
        end: (error?: unknown) => {
          if (!this.subscribers.delete(sub)) return;
          signal?.removeEventListener('abort', onAbort);
          if (error === undefined) resolve();
          else reject(error instanceof Error ? error : new Error(String(error)));
        },
      };
      const onAbort = (): void => sub.end();
      this.subscribers.add(sub);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.streamOpen) this.openSubscriber(sub);
    });
  }

  private openSubscriber(sub: Subscriber): void {
    sub.opened = true;
    this.call(sub, () => sub.options.onOpen?.());
    const cached = this.cache.get(sub.name);
    const given = sub.options.resourceVersion;
    if (cached && isNewerVersion(cached.metadata?.resourceVersion, given)) this.call(sub, () => sub.options.onEvent({ type: 'ADDED', object: cached }));
    else if (!cached && given !== undefined && isNewerVersion(this.resourceVersion, given)) {
      this.call(sub, () => sub.options.onEvent({ type: 'DELETED', object: { metadata: { name: sub.name, resourceVersion: this.resourceVersion } } }));
    }
  }

  /** Calls a subscriber's hook; a throwing hook ends that watch with its error, as a LeaseClient watch does. */
  private call(sub: Subscriber, hook: () => void): void {
    try {
      hook();
    } catch (err) {
      sub.end(err);
    }
  }

  private setOpen(open: boolean): void {
    if (this.streamOpen === open) return;
    this.streamOpen = open;
    if (open) {
      for (const sub of [...this.subscribers]) if (!sub.opened) this.openSubscriber(sub);
    } else {
      // The per-Lease watches end with the stream, so their followers do not trust a blind watch.
      for (const sub of [...this.subscribers]) if (sub.opened) sub.end();
    }
  }

  /** Lists the set and replaces the cache, reporting what changed or disappeared. */
  private async relist(signal: AbortSignal): Promise<void> {
    const { client, namespace, labelSelector, clock, requestTimeoutMs } = this.options;
    this.requests.lists++;
    const bound = boundedSignal(clock, requestTimeoutMs, signal);
    let list: LeaseListResult;
    try {
      list = await raceAbort(client.list(namespace, { labelSelector, signal: bound.signal }), bound.signal);
    } finally {
      bound.dispose();
    }
    const seen = new Set<string>();
    for (const lease of list.items) {
      const name = lease.metadata?.name;
      if (name === undefined) continue;
      seen.add(name);
      const before = this.cache.get(name);
      if (!before || isNewerVersion(lease.metadata?.resourceVersion, before.metadata?.resourceVersion)) this.apply({ type: before ? 'MODIFIED' : 'ADDED', object: lease });
    }
    for (const [name, lease] of [...this.cache]) {
      if (!seen.has(name)) this.apply({ type: 'DELETED', object: { ...lease, metadata: { ...lease.metadata, resourceVersion: list.resourceVersion } } });
    }
    this.resourceVersion = list.resourceVersion;
  }

  /** One watch stream from the current resourceVersion; true when it delivered an event. */
  private async watchOnce(signal: AbortSignal): Promise<boolean> {
    const { client, namespace, labelSelector, clock, requestTimeoutMs } = this.options;
    const stream = new AbortController();
    const onAbort = (): void => stream.abort(ABORT_ERROR);
    signal.addEventListener('abort', onAbort, { once: true });
    let delivered = false;
    let failure: unknown;
    this.requests.watches++;
    // A watch that does not open within the request timeout (a blackholed connection) is ended
    // and retried with backoff after a relist, as the elector's own follower watch is.
    let openTimer: ReturnType<Clock['setTimeout']> | undefined = clock.setTimeout(() => {
      openTimer = undefined;
      if (this.streamOpen || stream.signal.aborted) return;
      this.resourceVersion = undefined;
      failure = new Error(`set watch did not open within ${requestTimeoutMs} ms`);
      stream.abort(ABORT_ERROR);
    }, requestTimeoutMs);
    const opened = (): void => {
      if (openTimer !== undefined) clock.clearTimeout(openTimer);
      openTimer = undefined;
      this.setOpen(true);
    };
    const options: SetWatchOptions = {
      labelSelector,
      signal: stream.signal,
      ...(this.resourceVersion !== undefined ? { resourceVersion: this.resourceVersion } : {}),
      onOpen: () => {
        if (!stream.signal.aborted) opened();
      },
      onEvent: (event) => {
        if (stream.signal.aborted) return;
        if (event.type === 'ERROR') {
          const code = (event.object as { code?: unknown }).code;
          if (code === 410) this.resourceVersion = undefined;
          failure = new Error(`watch error event: ${JSON.stringify(event.object)}`);
          stream.abort(ABORT_ERROR);
          return;
        }
        delivered = true;
        opened();
        this.apply(event);
      },
    };
    try {
      // Raced against the stream's signal: a client that ignores it cannot hold the feed.
      await raceAbort(client.watchSet(namespace, options), stream.signal).catch((err: unknown) => {
        if (!stream.signal.aborted) throw err;
      });
    } finally {
      if (openTimer !== undefined) clock.clearTimeout(openTimer);
      signal.removeEventListener('abort', onAbort);
      this.setOpen(false);
    }
    if (failure !== undefined && !signal.aborted) throw failure;
    return delivered;
  }

  /** Applies one event to the cache, then tells the per-Lease watchers and `onChange`. */
  private apply(event: LeaseWatchEvent): void {
    const lease = event.object as Lease;
    const rv = lease.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '') this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    const name = lease.metadata?.name;
    if (name === undefined) return;
    if (event.type === 'DELETED') this.cache.delete(name);
    else this.cache.set(name, lease);
    for (const sub of [...this.subscribers]) {
      if (sub.name === name && sub.opened) this.call(sub, () => sub.options.onEvent(event));
    }
    this.options.onChange?.(name, event.type === 'DELETED' ? undefined : lease);
  }
}
