/**
 * The only file that talks to @kubernetes/client-node: a {@link LeaseClient} over a KubeConfig.
 * It bounds every request (client-node has no timeout of its own), maps `ApiException` to
 * {@link ApiError} by the Status `reason`, and turns connection failures into NetworkError.
 */
import { randomInt } from 'node:crypto';
import { ApiException, CoordinationV1Api, CoreV1Api, Watch, type KubeConfig, type V1Lease, type CoreV1Event } from '@kubernetes/client-node';
import { ApiError, NetworkError, RequestTimeoutError, makeStatus, type KubeStatus } from './errors.js';
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
    const retryAfter = Number(headerValue(apiErr.headers, 'retry-after'));
    return new ApiError(status, { cause: err, ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}) });
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

  watch(namespace: string, name: string, options: WatchOptions): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.resolve();
    const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
    const query: Record<string, string | boolean> = { fieldSelector: `metadata.name=${name}`, allowWatchBookmarks: true };
    if (options.resourceVersion !== undefined) query.resourceVersion = options.resourceVersion;
    return new Promise<void>((resolve, reject) => {
      let ended = false;
      let controller: AbortController | undefined;
      const onAbort = (): void => controller?.abort();
      const finish = (err: unknown): void => {
        if (ended) return;
        ended = true;
        signal?.removeEventListener('abort', onAbort);
        if (err && !signal?.aborted && !isAbortError(err)) reject(mapClientError(err));
        else resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      new Watch(this.kubeConfig)
        .watch(
          path,
          query,
          (type, object) => {
            if (!ended) options.onEvent({ type: type as 'ADDED', object: object as Lease });
          },
          finish,
        )
        .then((c) => {
          controller = c;
          if (signal?.aborted || ended) c.abort();
          else options.onOpen?.();
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
