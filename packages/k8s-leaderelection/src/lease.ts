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

/**
 * The JSON shape of a `coordination.k8s.io/v1beta1` LeaseCandidate (Kubernetes 1.33+, KEP-4355,
 * coordinated leader election): one per candidate and Lease, named after the candidate. Times are
 * MicroTime strings, as on a Lease.
 */
export interface LeaseCandidateSpec {
  /** The Lease this candidate runs for (same namespace). Required, immutable. */
  leaseName?: string;
  /** Set by the coordinator to ask the candidate to renew; answered by a renewTime after it. */
  pingTime?: string | null;
  /** When the candidate last refreshed this object. */
  renewTime?: string | null;
  /** The candidate's binary version (semver, e.g. `1.33.0`). Required. */
  binaryVersion?: string;
  /** The candidate's emulation version (semver); empty means the binary version. */
  emulationVersion?: string | null;
  /** The strategy the coordinator should use for this Lease (`OldestEmulationVersion`). Required. */
  strategy?: string;
}

export interface LeaseCandidate {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  spec?: LeaseCandidateSpec;
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

/** Options of {@link LeaseClient.watchSet}: a watch on every Lease whose labels match. */
export interface SetWatchOptions extends WatchOptions {
  /** Only Leases whose labels match (the API server's `labelSelector` syntax). */
  labelSelector: string;
}

/** A watch notification about one LeaseCandidate (for ERROR, a Status object). */
export interface LeaseCandidateWatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: LeaseCandidate | Record<string, unknown>;
}

/** Options of {@link LeaseClient.watchCandidate}. */
export interface LeaseCandidateWatchOptions extends RequestOptions {
  /** Called for every event, in order. Exceptions thrown here are caught and end the watch. */
  onEvent(event: LeaseCandidateWatchEvent): void;
  /** Called once the stream is established. */
  onOpen?(): void;
}

/** Options of {@link LeaseClient.list}. */
export interface ListRequestOptions extends RequestOptions {
  /** Only Leases whose labels match (the API server's `labelSelector` syntax). */
  labelSelector?: string;
}

/** What {@link LeaseClient.list} returns: the matching Leases and the list's resourceVersion. */
export interface LeaseListResult {
  items: Lease[];
  resourceVersion: string;
}

/** Options of {@link LeaseClient.delete}. */
export interface DeleteRequestOptions extends RequestOptions {
  /** Delete only when the object still has this uid / resourceVersion (`Conflict` otherwise). */
  preconditions?: { uid?: string; resourceVersion?: string };
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
  /**
   * Watches every Lease of a namespace whose labels match `options.labelSelector` (optional; used
   * by `ShardedElector` for one watch over a whole shard set). Same contract as {@link watch}:
   * resolves when the stream ends or `signal` aborts; rejects when it cannot be opened.
   */
  watchSet?(namespace: string, options: SetWatchOptions): Promise<void>;
  /**
   * Closes pooled connections (optional); the client stays usable, the next request connects
   * again. An elector calls it when run() ends, only on a client it built itself from a KubeConfig.
   */
  close?(): void;
  /** Lists the Leases of a namespace, optionally by label selector (optional; used by `Membership`). */
  list?(namespace: string, options?: ListRequestOptions): Promise<LeaseListResult>;
  /**
   * Deletes one Lease (optional; used by `Membership`). Rejects with an ApiError whose reason is
   * `NotFound` when it does not exist, and `Conflict` when a precondition does not hold.
   */
  delete?(namespace: string, name: string, options?: DeleteRequestOptions): Promise<void>;
  /**
   * The LeaseCandidate methods (optional; all four are required with `coordinated: true`).
   * Reads one LeaseCandidate (`NotFound` when missing).
   */
  getCandidate?(namespace: string, name: string, options?: RequestOptions): Promise<LeaseCandidate>;
  /** Creates a LeaseCandidate (`AlreadyExists` when the name is taken). */
  createCandidate?(namespace: string, candidate: LeaseCandidate, options?: RequestOptions): Promise<LeaseCandidate>;
  /** Replaces a LeaseCandidate, compare-and-swap on `metadata.resourceVersion` (`Conflict` when stale). */
  updateCandidate?(namespace: string, candidate: LeaseCandidate, options?: RequestOptions): Promise<LeaseCandidate>;
  /**
   * Watches one LeaseCandidate by name, from its current state (an ADDED event when it exists):
   * how a coordinated elector hears the coordinator's pings. Resolves when the stream ends or
   * `signal` aborts; rejects when it cannot be opened.
   */
  watchCandidate?(namespace: string, name: string, options: LeaseCandidateWatchOptions): Promise<void>;
}
