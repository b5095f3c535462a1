/**
 * The network between one replica process and the API server. It wraps a MemoryLeaseClient (whose
 * latency and `fault` hook model the request's way to the server, on virtual time) and adds what
 * happens on the way back and inside the process:
 * - every response, watch event and stream end reaches the process through the replica's own
 *   clock (as an I/O callback), so a paused process handles it only after it resumes, and a
 *   crashed one never does;
 * - a write whose response is lost (fault `drop-response`) looks to the caller like a request that
 *   never answers, until its own deadline aborts it (an ambiguous write);
 * - watch streams can be stalled (events held back while the stream stays open, then delivered
 *   late) or dropped (the stream ends, as when a connection resets).
 */
import {
  RequestTimeoutError,
  type DeleteRequestOptions,
  type Lease,
  type LeaseClient,
  type LeaseListResult,
  type ListRequestOptions,
  type RequestOptions,
  type SetWatchOptions,
  type TimerHandle,
  type WatchOptions,
} from '@leasekit/k8s-leaderelection';
import type { LeaseWatchEvent } from '@leasekit/k8s-leaderelection';
import type { MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import type { ReplicaClock } from './replica-clock.js';

interface Stream {
  readonly controller: AbortController;
  stalled: boolean;
  readonly held: LeaseWatchEvent[];
  /** Delivery timers not yet fired (cleared when the caller stops the stream). */
  readonly deliveries: Set<TimerHandle>;
  /** Latency of this stream's events (constant per stream, so they arrive in order). */
  readonly latencyMs: number;
  deliver(fn: () => void): void;
  /** Hands one event to the caller (set once the stream is running). */
  handle: ((event: LeaseWatchEvent) => void) | undefined;
}

export type SentVerb = 'get' | 'create' | 'update' | 'watch';
/** The set requests a ShardedElector adds (its label-selector list and watch, and a membership's delete). */
export type SetVerb = 'list' | 'watchSet' | 'delete';

export interface SimClientOptions {
  /** Delay from the server's answer to the process handling it. */
  responseLatencyMs: () => number;
  /** Called synchronously when the process sends a request (`body`: the Lease it writes). */
  onSend?: (verb: SentVerb, body: Lease | undefined) => void;
  /** Called when an answer or a watch event's object reaches the process, before it handles it. */
  onReceive?: (value: unknown) => void;
  /** Called synchronously when the process sends a set request (list, watchSet, delete). */
  onSendSet?: (verb: SetVerb) => void;
}

function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new RequestTimeoutError('request aborted');
}

export class SimClient implements LeaseClient {
  private readonly streams = new Set<Stream>();
  private dead = false;
  /**
   * uid of the Lease in the last successful write answer this process handled: at the moment
   * onStartedLeading runs, the Lease object the new term's token was read from.
   */
  lastWriteUid: string | undefined;

  constructor(
    private readonly inner: MemoryLeaseClient,
    private readonly clock: ReplicaClock,
    private readonly options: SimClientOptions,
  ) {}

  /** Open watch streams (for faults). */
  get openStreams(): number {
    return this.streams.size;
  }

  get(namespace: string, name: string, options?: RequestOptions): Promise<Lease> {
    return this.call('get', undefined, options?.signal, (signal) => this.inner.get(namespace, name, { signal }));
  }

  create(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.call('create', lease, options?.signal, (signal) => this.inner.create(namespace, lease, { signal })).then((written) => this.wrote(written));
  }

  update(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.call('update', lease, options?.signal, (signal) => this.inner.update(namespace, lease, { signal })).then((written) => this.wrote(written));
  }

  private wrote(lease: Lease): Lease {
    this.lastWriteUid = lease.metadata?.uid;
    return lease;
  }

  list(namespace: string, options?: ListRequestOptions): Promise<LeaseListResult> {
    const labelSelector = options?.labelSelector;
    return this.call('list', undefined, options?.signal, (signal) => this.inner.list(namespace, { signal, ...(labelSelector !== undefined ? { labelSelector } : {}) }));
  }

  delete(namespace: string, name: string, options?: DeleteRequestOptions): Promise<void> {
    const preconditions = options?.preconditions;
    return this.call('delete', undefined, options?.signal, (signal) => this.inner.delete(namespace, name, { signal, ...(preconditions ? { preconditions } : {}) }));
  }

  watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    return this.stream('watch', options, (inner) => this.inner.watch(namespace, name, inner));
  }

  /** A label-selector watch over the set (ShardedElector): the same stream behaviour as {@link watch}. */
  watchSet(namespace: string, options: SetWatchOptions): Promise<void> {
    return this.stream('watchSet', options, (inner) => this.inner.watchSet(namespace, { ...inner, labelSelector: options.labelSelector }));
  }

  private stream(verb: 'watch' | 'watchSet', options: WatchOptions, open: (inner: WatchOptions) => Promise<void>): Promise<void> {
    if (this.dead) return new Promise<void>(() => {}); // a dead process opens nothing
    const { signal } = options;
    if (signal?.aborted) return Promise.resolve();
    if (verb === 'watch') this.options.onSend?.('watch', undefined);
    else this.options.onSendSet?.(verb);
    const controller = new AbortController();
    const latencyMs = this.options.responseLatencyMs();
    const stream: Stream = {
      controller,
      stalled: false,
      held: [],
      deliveries: new Set(),
      latencyMs,
      handle: undefined,
      deliver: (fn) => {
        const handle = this.clock.setIoTimeout(() => {
          stream.deliveries.delete(handle);
          fn();
        }, latencyMs);
        stream.deliveries.add(handle);
      },
    };
    this.streams.add(stream);
    const stopDeliveries = (): void => {
      for (const handle of stream.deliveries) this.clock.clearTimeout(handle);
      stream.deliveries.clear();
      stream.held.length = 0;
    };
    return new Promise<void>((resolve, reject) => {
      let ended = false;
      /** The caller has been told the stream ended (or stopped it): no more events for it. */
      let callerDone = false;
      const close = (): void => {
        ended = true;
        this.streams.delete(stream);
      };
      /** The caller has its answer: nothing more for it, no delivery left pending. */
      const finishCaller = (): void => {
        callerDone = true;
        signal?.removeEventListener('abort', onCallerAbort);
      };
      const end = (outcome: () => void): void => {
        if (ended) return;
        close();
        if (signal?.aborted || this.dead) {
          finishCaller();
          stopDeliveries();
          if (signal?.aborted) resolve();
          return;
        }
        stream.held.length = 0; // a reset connection loses what it held back
        // After the events already on their way; the caller may still stop first (onCallerAbort).
        stream.deliver(() => {
          finishCaller();
          outcome();
        });
      };
      const onCallerAbort = (): void => {
        // The caller is done with the stream: tell it at once, even if the server's end of the
        // stream is still on its way to the process, and leave no delivery pending.
        controller.abort();
        if (!ended) close();
        stopDeliveries();
        if (!callerDone) {
          finishCaller();
          resolve();
        }
      };
      signal?.addEventListener('abort', onCallerAbort, { once: true });
      stream.handle = (event: LeaseWatchEvent): void => {
        if (callerDone) return;
        this.options.onReceive?.(event.object);
        try {
          options.onEvent(event);
        } catch (err) {
          // Like MemoryLeaseClient: a throwing handler ends the stream with its error.
          finishCaller();
          controller.abort();
          if (!ended) close();
          stopDeliveries();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      };
      open({
          signal: controller.signal,
          ...(options.resourceVersion !== undefined ? { resourceVersion: options.resourceVersion } : {}),
          onOpen: () => stream.deliver(() => !callerDone && options.onOpen?.()),
          onEvent: (event) => {
            if (stream.stalled) stream.held.push(event);
            else stream.deliver(() => stream.handle?.(event));
          },
        }).then(
          () => end(resolve),
          (err: unknown) => end(() => reject(err instanceof Error ? err : new Error(String(err)))),
        );
    });
  }

  /** Holds back watch events on every open stream (the streams stay open). */
  stallWatches(): number {
    for (const stream of this.streams) stream.stalled = true;
    return this.streams.size;
  }

  /** Delivers what was held back, late, and lets events flow again. */
  unstallWatches(): void {
    for (const stream of this.streams) {
      stream.stalled = false;
      for (const event of stream.held.splice(0)) stream.deliver(() => stream.handle?.(event));
    }
  }

  /** Ends every open stream, as a connection reset would. Returns how many ended. */
  dropWatches(): number {
    const count = this.streams.size;
    for (const stream of [...this.streams]) stream.controller.abort();
    return count;
  }

  /** The process crashed: nothing reaches it any more and it sends nothing. */
  kill(): void {
    this.dead = true;
    for (const stream of [...this.streams]) stream.controller.abort();
  }

  private call<T>(verb: SentVerb | SetVerb, body: Lease | undefined, callerSignal: AbortSignal | undefined, send: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    if (this.dead) return new Promise<T>(() => {});
    if (callerSignal?.aborted) return Promise.reject(abortReason(callerSignal));
    // the request leaves the process
    if (verb === 'list' || verb === 'delete' || verb === 'watchSet') this.options.onSendSet?.(verb);
    else this.options.onSend?.(verb, body);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let delivery: TimerHandle | undefined;
      const finish = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        callerSignal?.removeEventListener('abort', onAbort);
        if (delivery !== undefined) this.clock.clearTimeout(delivery);
        fn();
      };
      const onAbort = (): void => finish(() => reject(abortReason(callerSignal)));
      callerSignal?.addEventListener('abort', onAbort, { once: true });
      const deliver = (fn: () => void): void => {
        if (settled) return;
        delivery = this.clock.setIoTimeout(() => {
          delivery = undefined;
          finish(fn);
        }, this.options.responseLatencyMs());
      };
      send(callerSignal).then(
        (value) =>
          deliver(() => {
            this.options.onReceive?.(value);
            resolve(value);
          }),
        (err: unknown) => {
          // drop-response: the write committed and the answer is lost; the caller hears nothing
          // until its own deadline aborts the request.
          if (err instanceof RequestTimeoutError && !callerSignal?.aborted && callerSignal !== undefined) return;
          deliver(() => reject(err instanceof Error ? err : new Error(String(err))));
        },
      );
    });
  }
}
