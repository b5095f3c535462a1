/**
 * The only file that talks to @kubernetes/client-node: a {@link LeaseClient} over a KubeConfig.
 * client-node gives the server URL, credentials and TLS (`applyToHTTPSOptions`, asked before every
 * request, so rotated credentials are used); the requests are our own (kube-http.ts for the JSON
 * verbs, on a keep-alive connection pool; watches here), bounded, with errors mapped to
 * {@link ApiError} by the Status `reason` (a watch's bare HTTP status by its code) and connection
 * failures to NetworkError.
 */
import { randomInt } from 'node:crypto';
import { STATUS_CODES, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions as RequestOptionsHttps } from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { ApiError, NetworkError, RequestTimeoutError, apiErrorFromHttpStatus, makeStatus, parseRetryAfterSeconds, type KubeStatus } from './errors.js';
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
} from './lease.js';
import { KubeHttp, type Endpoint } from './kube-http.js';
import { eventBodyOf } from './record.js';
import { WatchLines } from './watch-lines.js';

export interface KubeLeaseClientOptions {
  /** Upper bound on every request, also when the caller passes its own signal. @default 10000 */
  requestTimeoutMs?: number;
}

/** True for a client-node KubeConfig (duck-typed, so two copies of client-node both work). */
export function isKubeConfig(value: unknown): value is KubeConfig {
  const kc = value as Partial<KubeConfig> | null;
  return kc != null && typeof kc.makeApiClient === 'function' && typeof kc.getCurrentCluster === 'function';
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
  private readonly http: KubeHttp;

  constructor(
    private readonly kubeConfig: KubeConfig,
    options: KubeLeaseClientOptions = {},
  ) {
    this.http = new KubeHttp(() => this.pooledEndpoint(), options.requestTimeoutMs ?? 10_000);
  }

  get(namespace: string, name: string, options?: RequestOptions): Promise<Lease> {
    return this.http.request('GET', leasePath(namespace, name), undefined, options);
  }

  create(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.http.request('POST', leasePath(namespace), lease, options);
  }

  update(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.http.request('PUT', leasePath(namespace, lease.metadata?.name ?? ''), lease, options);
  }

  /** Lists a namespace's Leases (`labelSelector` when given); one request, no paging. */
  async list(namespace: string, options?: ListRequestOptions): Promise<LeaseListResult> {
    const labelSelector = options?.labelSelector;
    const query = labelSelector !== undefined ? `?${new URLSearchParams({ labelSelector }).toString()}` : '';
    const list = await this.http.request<{ items?: Lease[] | null; metadata?: { resourceVersion?: string } }>('GET', `${leasePath(namespace)}${query}`, undefined, options);
    return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
  }

  /** Deletes one Lease, with the optional uid/resourceVersion preconditions (`Conflict` when they fail). */
  async delete(namespace: string, name: string, options?: DeleteRequestOptions): Promise<void> {
    const pre = options?.preconditions;
    const body = pre
      ? { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { ...(pre.uid !== undefined ? { uid: pre.uid } : {}), ...(pre.resourceVersion !== undefined ? { resourceVersion: pre.resourceVersion } : {}) } }
      : undefined;
    await this.http.request('DELETE', leasePath(namespace, name), body, options);
  }

  getCandidate(namespace: string, name: string, options?: RequestOptions): Promise<LeaseCandidate> {
    return this.http.request('GET', candidatePath(namespace, name), undefined, options);
  }

  createCandidate(namespace: string, candidate: LeaseCandidate, options?: RequestOptions): Promise<LeaseCandidate> {
    return this.http.request('POST', candidatePath(namespace), candidate, options);
  }

  updateCandidate(namespace: string, candidate: LeaseCandidate, options?: RequestOptions): Promise<LeaseCandidate> {
    return this.http.request('PUT', candidatePath(namespace, candidate.metadata?.name ?? ''), candidate, options);
  }

  /** Watches one LeaseCandidate by name, like {@link watch} (same request, abort and error behaviour). */
  watchCandidate(namespace: string, name: string, options: LeaseCandidateWatchOptions): Promise<void> {
    return this.watchOne('coordination.k8s.io/v1beta1', 'leasecandidates', namespace, { fieldSelector: `metadata.name=${name}` }, options);
  }

  async recordEvent(event: LeaseEventRecord, options?: RequestOptions): Promise<void> {
    const body = { apiVersion: 'v1', kind: 'Event', metadata: { name: eventName(event), namespace: event.namespace }, ...eventBodyOf(event) };
    await this.http.request('POST', `/api/v1/namespaces/${encodeURIComponent(event.namespace)}/events`, body, options);
  }

  /** Closes the pooled connections. The client stays usable: the next request connects again. */
  close(): void {
    this.http.close();
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
    return this.watchOne('coordination.k8s.io/v1', 'leases', namespace, { fieldSelector: `metadata.name=${name}` }, options);
  }

  /** Watches the Leases matching `options.labelSelector`, like {@link watch} (same request, abort and error behaviour). */
  watchSet(namespace: string, options: SetWatchOptions): Promise<void> {
    return this.watchOne('coordination.k8s.io/v1', 'leases', namespace, { labelSelector: options.labelSelector }, options);
  }

  /** One watch on `resource` by field or label selector (see {@link watch}). */
  private watchOne<E>(
    groupVersion: string,
    resource: string,
    namespace: string,
    selector: { fieldSelector: string } | { labelSelector: string },
    options: RequestOptions & { resourceVersion?: string; onEvent(event: E): void; onOpen?(): void },
  ): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.resolve();
    const query = new URLSearchParams({ watch: 'true', ...selector, allowWatchBookmarks: 'true' });
    if (options.resourceVersion !== undefined) query.set('resourceVersion', options.resourceVersion);
    const path = `/apis/${groupVersion}/namespaces/${encodeURIComponent(namespace)}/${resource}?${query.toString()}`;
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
          finish(watchHttpError(res, resource));
          return;
        }
        res.on('close', () => finish(res.complete ? null : new NetworkError('the watch stream was cut off')));
        if (options.onOpen) callHook(options.onOpen);
        const lines = new WatchLines((line) => {
          const event = parseWatchLine<E>(line);
          if (event && !ended) callHook(() => options.onEvent(event));
        });
        // A line past the cap ends the watch (a NetworkError: the follower reconnects).
        const feed = (take: () => void): void => {
          try {
            take();
          } catch (err) {
            finish(err instanceof Error ? err : new NetworkError(String(err)));
          }
        };
        res.on('data', (chunk: Buffer) => feed(() => lines.push(chunk)));
        res.on('end', () => feed(() => lines.end()));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.endpoint()
        .then(({ url, requestOptions }) => {
          // Aborted while client-node prepared the request (auth plugins may take a while): send nothing.
          if (ended) return;
          const send = url.startsWith('https:') ? httpsRequest : httpRequest;
          const headers = { ...requestOptions.headers, accept: 'application/json' };
          request = send(`${url}${path}`, { ...requestOptions, method: 'GET', headers }, onResponse);
          request.on('error', (err) => finish(mapClientError(err)));
          request.on('socket', (socket) => socket.setKeepAlive(true, WATCH_KEEPALIVE_MS));
          request.end();
        })
        .catch((err: unknown) => finish(mapClientError(err)));
    });
  }

  /**
   * The endpoint for pooled requests. client-node's `applyToHTTPSOptions` builds a new agent for
   * every call (so every request would open a new connection); without a proxy, its TLS options
   * and credentials are all in the request options too, so the agent is dropped and KubeHttp's
   * keep-alive pool is used. Through a proxy, client-node's proxy agent is kept.
   */
  private async pooledEndpoint(): Promise<Endpoint> {
    const { url, requestOptions } = await this.endpoint();
    if (this.kubeConfig.getCurrentCluster()?.proxyUrl) return { url, requestOptions };
    const { agent: _perCallAgent, ...options } = requestOptions;
    return { url, requestOptions: options };
  }

  /** The server URL and node:https options (credentials, TLS, proxy agent) the KubeConfig gives. */
  private async endpoint(): Promise<Endpoint> {
    const cluster = this.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('No currently active cluster');
    const requestOptions: RequestOptionsHttps = {};
    await this.kubeConfig.applyToHTTPSOptions(requestOptions);
    return { url: cluster.server.replace(/\/+$/, ''), requestOptions };
  }
}

function leasePath(namespace: string, name?: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

function candidatePath(namespace: string, name?: string): string {
  return `/apis/coordination.k8s.io/v1beta1/namespaces/${encodeURIComponent(namespace)}/leasecandidates${name === undefined ? '' : `/${encodeURIComponent(name)}`}`;
}

/** TCP keep-alive on a watch's socket, as client-node sets it (client-go uses 30 s too). */
const WATCH_KEEPALIVE_MS = 30_000;

/** An HTTP error answer to a watch: classified by its status code, `Retry-After` read. */
function watchHttpError(res: IncomingMessage, resource: string): ApiError {
  const statusCode = res.statusCode ?? 500;
  const statusText = res.statusMessage || STATUS_CODES[statusCode] || '';
  return apiErrorFromHttpStatus(statusCode, `watch ${resource}: HTTP ${statusCode}${statusText ? ` ${statusText}` : ''}`, {
    retryAfterSeconds: parseRetryAfterSeconds(res.headers['retry-after']),
  });
}

/** One line of a watch stream as an event; undefined for what is not one (as client-node skips it). */
function parseWatchLine<E>(line: string): E | undefined {
  try {
    const data = JSON.parse(line) as { type?: unknown; object?: unknown } | null;
    if (data && typeof data.type === 'string' && data.object && typeof data.object === 'object') return data as E;
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
