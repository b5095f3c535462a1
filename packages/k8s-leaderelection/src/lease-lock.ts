/**
 * The only file that talks to @kubernetes/client-node: a {@link LeaseClient} over a KubeConfig.
 * It bounds every request (client-node has no timeout of its own), maps `ApiException` to
 * {@link ApiError} by the Status `reason` (and a watch's bare HTTP status by its code), and turns
 * connection failures into NetworkError.
 */
import { randomInt } from 'node:crypto';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ApiException, CoordinationV1Api, CoreV1Api, Watch, type KubeConfig, type V1Lease, type CoreV1Event } from '@kubernetes/client-node';
import { ApiError, NetworkError, RequestTimeoutError, apiErrorFromHttpStatus, makeStatus, parseRetryAfterSeconds, type KubeStatus } from './errors.js';
import type { Lease, LeaseClient, LeaseEventRecord, RequestOptions, WatchOptions } from './lease.js';
import { eventBodyOf } from './record.js';

export interface KubeLeaseClientOptions {
  /** Upper bound on every request, also when the caller passes its own signal. @default 10000 */
  requestTimeoutMs?: number;
}

/** True for a client-node KubeConfig (duck-typed, so two copies of client-node both work). */
export function isKubeConfig(value: unknown): value is KubeConfig {
  const kc = value as Partial<KubeConfig> | null;
  return kc != null && typeof kc.makeApiClient === 'function' && typeof kc.getCurrentCluster === 'function';
}

/** A minimal Observable (all client-node's generated code asks of one) that yields `value`. */
function just<T>(value: T): { toPromise(): Promise<T>; pipe<S>(fn: (v: T) => S | Promise<S>): unknown } {
  return { toPromise: () => Promise.resolve(value), pipe: (fn) => just(Promise.resolve(value).then(fn)) };
}

type CallOptions = Parameters<CoordinationV1Api['readNamespacedLease']>[1];

/** Per-call options that attach an AbortSignal to the underlying fetch. */
function withSignal(signal: AbortSignal): CallOptions {
  return {
    middleware: [
      {
        pre: (ctx: { setSignal(s: AbortSignal): void }) => {
          ctx.setSignal(signal);
          return just(ctx);
        },
        post: <T>(ctx: T) => just(ctx),
      },
    ],
    middlewareMergeStrategy: 'append' as const,
  } as unknown as CallOptions;
}

/** client-node may hand out Date objects typed as MicroTime; the rest of leasekit wants plain JSON. */
function toPlainLease(lease: V1Lease): Lease {
  return JSON.parse(JSON.stringify(lease)) as Lease;
}

function headerValue(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
  return key === undefined ? undefined : headers[key];
}

/** Maps whatever client-node threw to a LeaseKit error. */
export function mapClientError(err: unknown, signal?: AbortSignal): Error {
  if (err instanceof ApiException) {
    const apiErr = err as ApiException<unknown>;
    let status: KubeStatus | undefined;
    const body = apiErr.body;
    try {
      const parsed: unknown = typeof body === 'string' ? JSON.parse(body) : body;
      if (parsed && typeof parsed === 'object' && (parsed as { kind?: unknown }).kind === 'Status') status = parsed as KubeStatus;
    } catch {
      // not JSON: synthesise below
    }
    status ??= makeStatus(apiErr.code, '', `HTTP ${apiErr.code}: ${typeof body === 'string' ? body.slice(0, 200) : apiErr.message}`);
    const retryAfterSeconds = parseRetryAfterSeconds(headerValue(apiErr.headers, 'retry-after'));
    return new ApiError(status, { cause: err, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });
  }
  if (signal?.aborted) {
    const reason: unknown = signal.reason;
    // AbortSignal.timeout() and a bare abort() leave a DOMException (TimeoutError / AbortError,
    // with a numeric `code`) as the reason. Passed through, a timed-out request surfaced as a
    // DOMException and the elector counted it as a NetworkError. Only a caller's own reason passes.
    if (reason instanceof Error && !isDomAbortReason(reason)) return reason;
    const timedOut = (reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
    return new RequestTimeoutError(timedOut ? 'request timed out' : 'request aborted', { cause: reason ?? err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new NetworkError(message, { cause: err });
}

/** A LeaseClient over client-node. Usually built for you by `new Elector(config, kubeConfig)`. */
export class KubeLeaseClient implements LeaseClient {
  private readonly leases: CoordinationV1Api;
  private readonly core: CoreV1Api;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly kubeConfig: KubeConfig,
    options: KubeLeaseClientOptions = {},
  ) {
    this.leases = kubeConfig.makeApiClient(CoordinationV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  get(namespace: string, name: string, options?: RequestOptions): Promise<Lease> {
    return this.send(options, (o) => this.leases.readNamespacedLease({ name, namespace }, o)).then(toPlainLease);
  }

  create(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.send(options, (o) => this.leases.createNamespacedLease({ namespace, body: lease as V1Lease }, o)).then(toPlainLease);
  }

  update(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    const name = lease.metadata?.name ?? '';
    return this.send(options, (o) => this.leases.replaceNamespacedLease({ name, namespace, body: lease as V1Lease }, o)).then(toPlainLease);
  }

  async recordEvent(event: LeaseEventRecord, options?: RequestOptions): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'Event', metadata: { name: eventName(event), namespace: event.namespace }, ...eventBodyOf(event) };
    await this.send(options, (o) => this.core.createNamespacedEvent({ namespace: event.namespace, body: body as unknown as CoreV1Event }, o));
  }

  /**
   * Watches one Lease through client-node's `Watch`. Resolves when the stream ends or `signal`
   * aborts (at once, also while the request still waits for its response headers: the request
   * and its socket are destroyed then); rejects with an {@link ApiError} for an HTTP error answer
   * (reason by status code, `Retry-After` read), a NetworkError when the server cannot be reached,
   * or whatever `onOpen` or `onEvent` threw (which also ends the stream).
   */
  watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.resolve();
    const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
    const query: Record<string, string | boolean> = { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: true };
    if (options.resourceVersion !== undefined) query.resourceVersion = options.resourceVersion;
    return new Promise<void>((resolve, reject) => {
      const exchange = new WatchExchange(this.kubeConfig, path);
      let ended = false;
      let controller: AbortController | undefined;
      let hookFailure: { error: unknown } | undefined;
      const finish = (err: unknown): void => {
        if (ended) return;
        ended = true;
        signal?.removeEventListener('abort', onAbort);
        controller?.abort();
        exchange.close();
        if (hookFailure) reject(hookFailure.error);
        else if (err != null && !signal?.aborted && !isAbortError(err)) reject(mapWatchError(err, exchange.responseHeaders));
        else resolve();
      };
      const onAbort = (): void => finish(null);
      // A throwing hook ends the watch with its error; it never escapes into client-node (which
      // would swallow it) or into a promise nobody awaits (an unhandled rejection).
      const callHook = (hook: () => void): void => {
        try {
          hook();
        } catch (error) {
          hookFailure ??= { error };
          finish(error);
        }
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      new Watch(exchange.kubeConfig)
        .watch(
          path,
          query,
          (type, object) => {
            if (!ended) callHook(() => options.onEvent({ type: type as 'ADDED', object: object as Lease }));
          },
          finish,
        )
        .then((c) => {
          controller = c;
          if (ended) c.abort();
          else if (options.onOpen) callHook(options.onOpen);
        }, finish);
    });
  }

  private async send<T>(options: RequestOptions | undefined, call: (o: CallOptions) => Promise<T>): Promise<T> {
    const signal = options?.signal
      ? AbortSignal.any([options.signal, AbortSignal.timeout(this.requestTimeoutMs)])
      : AbortSignal.timeout(this.requestTimeoutMs);
    try {
      return await call(withSignal(signal));
    } catch (err) {
      throw mapClientError(err, signal);
    }
  }
}

/** Maps what client-node's Watch reported: an HTTP error (a bare `statusCode`) or a failed connection. */
function mapWatchError(err: unknown, headers: IncomingHttpHeaders | undefined): Error {
  const statusCode = (err as { statusCode?: unknown } | null)?.statusCode;
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode)) return mapClientError(err);
  const statusText = err instanceof Error && err.message ? ` ${err.message}` : '';
  return apiErrorFromHttpStatus(statusCode, `watch leases: HTTP ${statusCode}${statusText}`, {
    cause: err,
    retryAfterSeconds: parseRetryAfterSeconds(headers?.['retry-after']),
  });
}

type AddRequest = (this: unknown, req: ClientRequest, ...rest: unknown[]) => unknown;

/**
 * What one watch needs from its HTTP exchange that client-node's Watch does not give: the
 * request (Watch hands out its AbortController only once response headers arrived, so an abort
 * before that could not stop it, and its socket stayed open until the server answered) and the
 * response headers (Watch reports an HTTP error as a bare `statusCode`; Retry-After is in the
 * headers). It hands Watch a view of the KubeConfig whose `applyToFetchOptions` notes the agent
 * made for this one request and hooks the agent's `addRequest` for the first request to the
 * watch path (a proxy agent sees the full URL, hence a substring match).
 */
class WatchExchange {
  /** The KubeConfig to give Watch. */
  readonly kubeConfig: KubeConfig;
  /** The response head, once it arrived. */
  responseHeaders: IncomingHttpHeaders | undefined;
  private request: ClientRequest | undefined;
  private closed = false;

  constructor(base: KubeConfig, private readonly path: string) {
    const view = Object.create(base) as KubeConfig;
    view.applyToFetchOptions = async (opts) => {
      const init = await base.applyToFetchOptions(opts);
      // Aborted while client-node prepared the request (auth plugins may take a while): send nothing.
      if (this.closed) throw Object.assign(new Error('The watch was aborted before it was sent'), { name: 'AbortError' });
      this.hook(init.agent);
      return init;
    };
    this.kubeConfig = view;
  }

  /** Ends the exchange: destroys the request and its socket, whatever state it is in. Idempotent. */
  close(): void {
    this.closed = true;
    this.request?.destroy();
  }

  private hook(agent: unknown): void {
    const target = agent as { addRequest?: AddRequest } | null | undefined;
    const addRequest = target?.addRequest;
    if (!target || typeof addRequest !== 'function') return;
    const hooked: AddRequest = (req, ...rest) => {
      if (this.request === undefined && typeof req.path === 'string' && req.path.includes(`${this.path}?`)) {
        if (target.addRequest === hooked) target.addRequest = addRequest;
        this.track(req);
      }
      return addRequest.call(target, req, ...rest);
    };
    target.addRequest = hooked;
  }

  private track(req: ClientRequest): void {
    this.request = req;
    req.once('response', (res: IncomingMessage) => {
      this.responseHeaders = res.headers;
    });
    if (this.closed) req.destroy();
  }
}

/**
 * client-go's `<object>.<unix nanoseconds in hex>`. We only have milliseconds, so the sub-millisecond
 * digits are random: with whole milliseconds, the old leader's "stopped leading" and the new
 * leader's "became leader" in the same millisecond had one name and the second got AlreadyExists.
 */
function eventName(event: LeaseEventRecord): string {
  const nanos = BigInt(Math.max(0, Math.floor(event.timeMs))) * 1_000_000n + BigInt(randomInt(1_000_000));
  return `${event.leaseName}.${nanos.toString(16)}`;
}

function isDomAbortReason(reason: Error): boolean {
  return reason.name === 'AbortError' || reason.name === 'TimeoutError';
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { type?: string }).type === 'aborted');
}

/** Builds the LeaseClient the elector uses for a KubeConfig. */
export function createKubeLeaseClient(kubeConfig: KubeConfig, options?: KubeLeaseClientOptions): LeaseClient {
  return new KubeLeaseClient(kubeConfig, options);
}
