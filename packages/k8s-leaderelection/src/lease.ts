/**
 * The JSON shape of a `coordination.k8s.io/v1` Lease as it travels over the wire. Times are
 * MicroTime strings (`2024-05-01T12:34:56.123456Z`). Kept free of client-node types so the
 * in-memory store, the embedded server and any other backend share it.
 */
export interface LeaseSpec {
  holderIdentity?: string | null;
  leaseDurationSeconds?: number | null;
  acquireTime?: string | null;
  renewTime?: string | null;
  leaseTransitions?: number | null;
  strategy?: string | null;
  preferredHolder?: string | null;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  creationTimestamp?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [key: string]: unknown;
}

export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: LeaseSpec;
}

/** A watch notification, as in the Kubernetes watch protocol. */
export interface LeaseWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  /** The Lease (or, for ERROR, a Status object). */
  object: Lease | Record<string, unknown>;
}

/** A Kubernetes Event about a Lease (client-go records these on leadership changes). */
export interface LeaseEventRecord {
  namespace: string;
  leaseName: string;
  leaseUid?: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** The identity of the reporting replica. */
  reportingInstance: string;
  /** Wall time in epoch milliseconds. */
  timeMs: number;
}

/** Per-call options every {@link LeaseClient} method accepts. */
export interface RequestOptions {
  /** Aborts the request; the promise then rejects with a RequestTimeoutError or an AbortError. */
  signal?: AbortSignal;
}

export interface WatchOptions extends RequestOptions {
  /** Resume after this resourceVersion; omitted means "start from the current state". */
  resourceVersion?: string;
  /** Called for every event, in order. Exceptions thrown here are caught and end the watch. */
  onEvent(event: LeaseWatchEvent): void;
  /** Called once the stream is established (optional for implementers, but it lets a follower trust the watch sooner). */
  onOpen?(): void;
}

/**
 * The narrow storage interface the elector needs (client-go's resourcelock, for one Lease).
 * Implemented over client-node (`KubeLeaseClient`), over the in-memory store (testing kit), and
 * by anything else a user plugs in. Failures reject with {@link ApiError}, `RequestTimeoutError`
 * or `NetworkError`.
 */
export interface LeaseClient {
  /** Reads one Lease; rejects with an ApiError whose reason is `NotFound` when it does not exist. */
  get(namespace: string, name: string, options?: RequestOptions): Promise<Lease>;
  /** Creates a Lease; `AlreadyExists` when the name is taken. */
  create(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease>;
  /** Replaces a Lease, compare-and-swap on `metadata.resourceVersion` (`Conflict` when stale). */
  update(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease>;
  /** Records a Kubernetes Event about the Lease (optional; used with `recordEvents`). */
  recordEvent?(event: LeaseEventRecord, options?: RequestOptions): Promise<void>;
  /**
   * Watches one Lease (optional; used by watching followers). Resolves when the stream ends,
   * normally or because `signal` aborted; rejects when it cannot be opened.
   */
  watch?(namespace: string, name: string, options: WatchOptions): Promise<void>;
}
