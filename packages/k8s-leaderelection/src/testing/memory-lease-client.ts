/**
 * A {@link LeaseClient} over the in-memory {@link LeaseStore}, with optional latency and injected
 * failures, and a log of every call (for asserting exact API call sequences).
 */
import { sleep, systemClock, type Clock } from '../clock.js';
import { ApiError, RequestTimeoutError } from '../errors.js';
import type {
  DeleteRequestOptions,
  Lease,
  LeaseCandidate,
  LeaseCandidateWatchOptions,
  LeaseClient,
  LeaseEventRecord,
  LeaseListResult,
  ListRequestOptions,
  RequestOptions,
  SetWatchOptions,
  WatchOptions,
} from '../lease.js';
import type { CandidateStore } from './candidate-store.js';
import type { LeaseStore, WatchFilter, WatchHandle } from './lease-store.js';

export type MemoryVerb =
  | 'get'
  | 'create'
  | 'update'
  | 'recordEvent'
  | 'watch'
  | 'watchSet'
  | 'list'
  | 'delete'
  | 'getCandidate'
  | 'createCandidate'
  | 'updateCandidate'
  | 'watchCandidate';

export interface MemoryCall {
  verb: MemoryVerb;
  namespace: string;
  /** The Lease's name; '' for `list`. */
  name: string;
  /** Monotonic time the call was made. */
  atMs: number;
}

/** What an injected fault does to one call. */
export type Fault =
  /** Reject with this error without touching the store. */
  | { kind: 'error'; error: Error }
  /** Never answer: the call settles only when its signal aborts. */
  | { kind: 'hang' }
  /** Perform the write, then lose the response: the caller sees a timeout (an ambiguous write). */
  | { kind: 'drop-response' };

export interface MemoryLeaseClientOptions {
  /** Clock for latency and timestamps. @default the system clock */
  clock?: Clock;
  /** Latency added to each request, before it reaches the store. @default 0 */
  latencyMs?: number | (() => number);
  /** Decides a fault per call; return undefined for a normal call. */
  fault?: (call: MemoryCall) => Fault | undefined;
  /**
   * LeaseCandidates (coordinated leader election): with a store, the client has the LeaseCandidate
   * methods (getCandidate, createCandidate, updateCandidate, watchCandidate) over it; without, it
   * lacks them, as a LeaseClient may.
   */
  candidates?: CandidateStore;
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  if (reason instanceof Error) return reason;
  return new RequestTimeoutError('request aborted');
}

export class MemoryLeaseClient implements LeaseClient {
  /** Every call made, in order. */
  readonly calls: MemoryCall[] = [];
  private readonly clock: Clock;
  /** Present only with the `candidates` option (see {@link MemoryLeaseClientOptions.candidates}). */
  readonly getCandidate?: (namespace: string, name: string, options?: RequestOptions) => Promise<LeaseCandidate>;
  readonly createCandidate?: (namespace: string, candidate: LeaseCandidate, options?: RequestOptions) => Promise<LeaseCandidate>;
  readonly updateCandidate?: (namespace: string, candidate: LeaseCandidate, options?: RequestOptions) => Promise<LeaseCandidate>;
  readonly watchCandidate?: (namespace: string, name: string, options: LeaseCandidateWatchOptions) => Promise<void>;

  constructor(
    readonly store: LeaseStore,
    private readonly options: MemoryLeaseClientOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    const candidates = options.candidates;
    if (candidates) {
      this.getCandidate = (namespace, name, opts) => this.request('getCandidate', namespace, name, opts, () => candidates.get(namespace, name));
      this.createCandidate = (namespace, candidate, opts) =>
        this.request('createCandidate', namespace, candidate.metadata?.name ?? '', opts, () => candidates.create(namespace, candidate));
      this.updateCandidate = (namespace, candidate, opts) => {
        const name = candidate.metadata?.name ?? '';
        return this.request('updateCandidate', namespace, name, opts, () => candidates.update(namespace, name, candidate).candidate);
      };
      this.watchCandidate = (namespace, name, opts) =>
        this.openWatch('watchCandidate', namespace, name, opts, (filter, onEvent, onClose) => candidates.watch(filter, onEvent, onClose));
    }
  }

  /** The verbs called so far, e.g. `['get', 'create', 'update']`. */
  verbs(): MemoryVerb[] {
    return this.calls.map((c) => c.verb);
  }

  get(namespace: string, name: string, options?: RequestOptions): Promise<Lease> {
    return this.request('get', namespace, name, options, () => this.store.get(namespace, name));
  }

  create(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.request('create', namespace, lease.metadata?.name ?? '', options, () => this.store.create(namespace, lease));
  }

  update(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    const name = lease.metadata?.name ?? '';
    return this.request('update', namespace, name, options, () => this.store.update(namespace, name, lease).lease);
  }

  /** Lists over {@link LeaseStore.list}; logged as verb `list` with name ''. */
  list(namespace: string, options?: ListRequestOptions): Promise<LeaseListResult> {
    const labelSelector = options?.labelSelector;
    return this.request('list', namespace, '', options, () => {
      const list = this.store.list(namespace, labelSelector !== undefined ? { labelSelector } : {});
      return { items: list.items, resourceVersion: list.metadata.resourceVersion };
    });
  }

  /** Deletes over {@link LeaseStore.delete} (preconditions included); resolves with nothing, as the interface says. */
  delete(namespace: string, name: string, options?: DeleteRequestOptions): Promise<void> {
    const preconditions = options?.preconditions;
    return this.request('delete', namespace, name, options, () => {
      this.store.delete(namespace, name, preconditions ? { preconditions } : {});
    });
  }

  recordEvent(event: LeaseEventRecord, options?: RequestOptions): Promise<void> {
    return this.request('recordEvent', event.namespace, event.leaseName, options, () => this.store.recordEvent(event));
  }

  watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    return this.openWatch('watch', namespace, name, options, (filter, onEvent, onClose) => this.store.watch(filter, onEvent, onClose));
  }

  /** Watches the Leases matching `labelSelector` over {@link LeaseStore.watch}; logged as verb `watchSet` with name ''. */
  watchSet(namespace: string, options: SetWatchOptions): Promise<void> {
    const { labelSelector } = options;
    return this.openWatch('watchSet', namespace, '', options, (filter, onEvent, onClose) => {
      const { name: _one, ...rest } = filter;
      return this.store.watch({ ...rest, labelSelector }, onEvent, onClose);
    });
  }

  /** One watch on `subscribe` (a store's watch), as the LeaseClient watch methods promise. */
  private async openWatch<E>(
    verb: 'watch' | 'watchSet' | 'watchCandidate',
    namespace: string,
    name: string,
    options: RequestOptions & { resourceVersion?: string; onEvent(event: E): void; onOpen?(): void },
    subscribe: (filter: WatchFilter, onEvent: (event: E) => void, onClose: () => void) => WatchHandle,
  ): Promise<void> {
    const { signal } = options;
    try {
      await this.preamble(verb, namespace, name, signal);
    } catch (err) {
      // LeaseClient.watch resolves when its signal aborts (as KubeLeaseClient does), also before
      // the stream opened; only a failure to open it rejects.
      if (signal?.aborted) return;
      throw err;
    }
    if (signal?.aborted) return;
    await new Promise<void>((resolve, reject) => {
      let handle: { stop(): void } | undefined;
      const finish = (): void => {
        handle?.stop();
        signal?.removeEventListener('abort', finish);
        resolve();
      };
      try {
        handle = subscribe(
          { namespace, name, ...(options.resourceVersion !== undefined ? { resourceVersion: options.resourceVersion } : {}) },
          (event) => {
            try {
              options.onEvent(event);
            } catch (err) {
              handle?.stop();
              signal?.removeEventListener('abort', finish);
              reject(err instanceof Error ? err : new Error(String(err)));
            }
          },
          finish,
        );
      } catch (err) {
        if (err instanceof ApiError && err.statusCode === 410) {
          // The real server reports a too-old resourceVersion as an ERROR event on an open stream.
          try {
            options.onEvent({ type: 'ERROR', object: { ...err.status } } as E);
          } catch {
            // ignore: the stream ends either way
          }
          resolve();
          return;
        }
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      signal?.addEventListener('abort', finish, { once: true });
      options.onOpen?.();
    });
  }

  private async preamble(verb: MemoryVerb, namespace: string, name: string, signal: AbortSignal | undefined): Promise<Fault | undefined> {
    const call: MemoryCall = { verb, namespace, name, atMs: this.clock.now() };
    this.calls.push(call);
    const latency = typeof this.options.latencyMs === 'function' ? this.options.latencyMs() : (this.options.latencyMs ?? 0);
    if (latency > 0) await sleep(this.clock, latency, signal);
    if (signal?.aborted) throw abortError(signal);
    const fault = this.options.fault?.(call);
    if (fault?.kind === 'error') throw fault.error;
    if (fault?.kind === 'hang') {
      await new Promise<void>((resolve) => {
        if (!signal) return; // hangs forever, as asked
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
      throw abortError(signal);
    }
    return fault;
  }

  private async request<T>(
    verb: MemoryVerb,
    namespace: string,
    name: string,
    options: RequestOptions | undefined,
    perform: () => T,
  ): Promise<T> {
    const signal = options?.signal;
    const fault = await this.preamble(verb, namespace, name, signal);
    const result = perform();
    if (fault?.kind === 'drop-response') {
      throw new RequestTimeoutError(`${verb} ${namespace}/${name}: the write committed but its response was lost`);
    }
    return result;
  }
}
