/**
 * A replica's LeaseClient over its MemoryLeaseClient whose set watch streams can lag (events reach
 * the replica later) and be cut (as a server-side timeout ends them). It has just the methods a
 * ShardedElector needs (no Events, no close), each passed to the MemoryLeaseClient as is.
 */
import { sleep, type Clock, type TimerHandle } from '../clock.js';
import type { LeaseClient, SetWatchOptions } from '../lease.js';
import type { MemoryLeaseClient } from '../testing/memory-lease-client.js';

export class SetWatchFaults implements LeaseClient {
  /** Set watch events reach the replica this much later. */
  lagMs = 0;
  private readonly streams = new Set<AbortController>();
  /** The timers of lagged events still on their way. */
  private readonly lagged = new Set<TimerHandle>();

  constructor(
    private readonly inner: MemoryLeaseClient,
    private readonly clock: Clock,
  ) {}

  readonly get: LeaseClient['get'] = (ns, name, o) => this.inner.get(ns, name, o);
  readonly create: LeaseClient['create'] = (ns, lease, o) => this.inner.create(ns, lease, o);
  readonly update: LeaseClient['update'] = (ns, lease, o) => this.inner.update(ns, lease, o);
  readonly list: NonNullable<LeaseClient['list']> = (ns, o) => this.inner.list(ns, o);
  readonly delete: NonNullable<LeaseClient['delete']> = (ns, name, o) => this.inner.delete(ns, name, o);
  readonly watch: NonNullable<LeaseClient['watch']> = (ns, name, o) => this.inner.watch(ns, name, o);

  readonly watchSet = async (ns: string, o: SetWatchOptions): Promise<void> => {
    const stream = new AbortController();
    const onAbort = (): void => stream.abort();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    this.streams.add(stream);
    try {
      await this.inner.watchSet(ns, {
        ...o,
        signal: stream.signal,
        onEvent: (e) => (this.lagMs > 0 ? this.delay(() => o.onEvent(e)) : o.onEvent(e)),
      });
      // The stream's end comes after the events sent before it, as on one connection.
      if (this.lagMs > 0 && o.signal?.aborted !== true) await sleep(this.clock, this.lagMs, o.signal);
    } finally {
      this.streams.delete(stream);
      o.signal?.removeEventListener('abort', onAbort);
    }
  };

  /** Ends the replica's open set watch streams (as a server-side timeout does). */
  cutStreams(): void {
    this.streams.forEach((s) => s.abort());
  }

  /** For a replica about to stop: no more lag, and the lagged events still on their way are dropped (no timer left behind). */
  endLag(): void {
    this.lagMs = 0;
    for (const handle of this.lagged) this.clock.clearTimeout(handle);
    this.lagged.clear();
  }

  private delay(deliver: () => void): void {
    const handle = this.clock.setTimeout(() => {
      this.lagged.delete(handle);
      deliver();
    }, this.lagMs);
    this.lagged.add(handle);
  }
}
