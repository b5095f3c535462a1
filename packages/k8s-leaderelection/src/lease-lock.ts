/**
 * The only file that talks to @kubernetes/client-node: a {@link LeaseClient} over a KubeConfig.
 * It bounds every request (client-node has no timeout of its own), maps `ApiException` to
 * {@link ApiError} by the Status `reason` (and a watch's bare HTTP status by its code), and turns
 * connection failures into NetworkError.
 */
import { randomInt } from 'node:crypto';
import { STATUS_CODES, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions as RequestOptionsHttps } from 'node:https';
import { createInterface } from 'node:readline';
import { ApiException, CoordinationV1Api, CoreV1Api, type KubeConfig, type V1Lease, type CoreV1Event } from '@kubernetes/client-node';
import { ApiError, NetworkError, RequestTimeoutError, apiErrorFromHttpStatus, makeStatus, parseRetryAfterSeconds, type KubeStatus } from './errors.js';
import type { Lease, LeaseClient, LeaseEventRecord, LeaseWatchEvent, RequestOptions, WatchOptions } from './lease.js';
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
  return new NetworkError(describeFailure(err), { cause: err });
}

/**
 * The message of a failed connection. client-node 2.x (undici's fetch) says only "fetch failed"
 * and keeps what happened (connect ECONNREFUSED ...) in `cause`; 1.x (node-fetch) names it itself.
 */
function describeFailure(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause as { message?: unknown; code?: unknown } | undefined;
  const detail = cause?.message || cause?.code;
  return typeof detail === 'string' && !err.message.includes(detail) ? `${err.message}: ${detail}` : err.message;
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
   * Watches one Lease. Resolves when the stream ends or `signal` aborts (at once, also while the
   * request still waits for its response headers: the request and its socket are destroyed then);
   * rejects with an {@link ApiError} for an HTTP error answer (reason by status code, `Retry-After`
   * read), a NetworkError when the server cannot be reached or the stream is cut off, or whatever
   * `onOpen` or `onEvent` threw (which also ends the stream).
   *
   * The request is our own node:http(s) request, configured by client-node's public
   * `applyToHTTPSOptions` (credentials, TLS, proxy agent: what client-node's own WebSocket calls
   * use). client-node's `Watch` hands out its AbortController only once response headers arrived
   * and reports an HTTP error as a bare status code without headers, in 1.x (node-fetch) and 2.x
   * (undici) alike; owning the request gives both versions the same abort, Retry-After and
   * error behaviour, and no client-side watch timeout (2.x's Watch ends a quiet stream after 30 s).
   */
  watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.resolve();
    const query = new URLSearchParams({ watch: 'true', fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: 'true' });
    if (options.resourceVersion !== undefined) query.set('resourceVersion', options.resourceVersion);
    const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases?${query.toString()}`;
    return new Promise<void>((resolve, reject) => {
      let ended = false;
      let request: ClientRequest | undefined;
      let hookFailure: { error: unknown } | undefined;
      /** Ends the watch once: destroys the request and its socket, whatever state it is in. */
      const finish = (err: Error | null): void => {
        if (ended) return;
        ended = true;
        signal?.removeEventListener('abort', onAbort);
        request?.destroy();
        if (hookFailure) reject(hookFailure.error);
        else if (err && !signal?.aborted) reject(err);
        else resolve();
      };
      const onAbort = (): void => finish(null);
      // A throwing hook ends the watch with its error; it never escapes into a stream event
      // handler or into a promise nobody awaits (an unhandled rejection).
      const callHook = (hook: () => void): void => {
        try {
          hook();
        } catch (error) {
          hookFailure ??= { error };
          finish(null);
        }
      };
      const onResponse = (res: IncomingMessage): void => {
        res.on('error', (err) => finish(mapClientError(err)));
        if (res.statusCode !== 200) {
          finish(watchHttpError(res));
          return;
        }
        res.on('close', () => finish(res.complete ? null : new NetworkError('the watch stream was cut off')));
        if (options.onOpen) callHook(options.onOpen);
        // readline re-emits the stream's errors (a destroyed request's "aborted"): handled as above.
        createInterface({ input: res, crlfDelay: Infinity })
          .on('error', (err) => finish(mapClientError(err)))
          .on('line', (line: string) => {
            const event = parseWatchLine(line);
            if (event && !ended) callHook(() => options.onEvent(event));
          });
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.watchRequestOptions()
        .then(({ url, requestOptions }) => {
          // Aborted while client-node prepared the request (auth plugins may take a while): send nothing.
          if (ended) return;
          const send = url.startsWith('https:') ? httpsRequest : httpRequest;
          request = send(`${url}${path}`, requestOptions, onResponse);
          request.on('error', (err) => finish(mapClientError(err)));
          request.on('socket', (socket) => socket.setKeepAlive(true, WATCH_KEEPALIVE_MS));
          request.end();
        })
        .catch((err: unknown) => finish(mapClientError(err)));
    });
  }

  /** The server URL and node:https options (credentials, TLS, agent) the KubeConfig gives. */
  private async watchRequestOptions(): Promise<{ url: string; requestOptions: RequestOptionsHttps }> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('No currently active cluster');
    const requestOptions: RequestOptionsHttps = {};
    await this.kubeConfig.applyToHTTPSOptions(requestOptions);
    requestOptions.method = 'GET';
    requestOptions.headers = { ...requestOptions.headers, accept: 'application/json' };
    return { url: cluster.server.replace(/\/+$/, ''), requestOptions };
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

/** TCP keep-alive on a watch's socket, as client-node sets it (client-go uses 30 s too). */
const WATCH_KEEPALIVE_MS = 30_000;

/** An HTTP error answer to a watch: classified by its status code, `Retry-After` read. */
function watchHttpError(res: IncomingMessage): ApiError {
  const statusCode = res.statusCode ?? 500;
  const statusText = res.statusMessage || STATUS_CODES[statusCode] || '';
  return apiErrorFromHttpStatus(statusCode, `watch leases: HTTP ${statusCode}${statusText ? ` ${statusText}` : ''}`, {
    retryAfterSeconds: parseRetryAfterSeconds(res.headers['retry-after']),
  });
}

/** One line of a watch stream as an event; undefined for what is not one (as client-node skips it). */
function parseWatchLine(line: string): LeaseWatchEvent | undefined {
  try {
    const data = JSON.parse(line) as { type?: unknown; object?: unknown } | null;
    if (data && typeof data.type === 'string' && data.object && typeof data.object === 'object') return data as LeaseWatchEvent;
  } catch {
    // not JSON (a keep-alive blank line, a cut line): skip
  }
  return undefined;
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

/** Builds the LeaseClient the elector uses for a KubeConfig. */
export function createKubeLeaseClient(kubeConfig: KubeConfig, options?: KubeLeaseClientOptions): LeaseClient {
  return new KubeLeaseClient(kubeConfig, options);
}
