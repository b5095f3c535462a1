/**
 * A client-go replica sharing the Lease (a mixed fleet: some replicas still run a Go controller
 * built on client-go's tools/leaderelection). A model of client-go's algorithm, written from its
 * documented behaviour (docs: /work/shared/REFERENCE.md section 2), not from its code:
 * - it notices a change only when the record, converted to client-go's LeaderElectionRecord and
 *   marshalled to JSON, differs from the last one it saw; acquireTime and renewTime are
 *   metav1.Time there, whole-second RFC 3339, so two renewals within one second look identical
 *   and do not reset its observation time;
 * - the lease is valid while observedTime + duration > now, with the record's duration (current
 *   client-go) or its own configured one (older client-go, `expiry: 'configured'`);
 * - acquire: a try at once, then every [R, 2.2 R) after each try ends; one GET and at most one
 *   write per try (POST when the Lease is missing: client-go creates it at once);
 * - when it acquires it leads like client-go: a round every R (fast-path PUT of its cached object,
 *   else GET and PUT), each round retried every R until the renew deadline, after which it stops
 *   leading (Run returns: its OnStartedLeading context is cancelled). It believes it leads, and
 *   counts for S1, from the acquiring write's answer until then.
 * Its requests go through its own SimClient (latency, faults, partitions), its time through its
 * own ReplicaClock (drift). It is never paused: client-go is not pause-safe, by its own design.
 */
import { isNotFound, type Clock, type Lease, type LeaseClient, type Random } from '@leasekit/k8s-leaderelection';
import { formatMicroTime, sleep } from '@leasekit/k8s-leaderelection/internal';

/** How a client-go follower judges expiry. */
export type GoExpiry = 'record' | 'configured';

export interface GoReplicaOptions {
  readonly identity: string;
  readonly namespace: string;
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly expiry: GoExpiry;
  /** Its process's clock (in the simulation: a drifting ReplicaClock, never paused). */
  readonly clock: Clock;
  readonly client: LeaseClient;
  readonly random: Random;
  /** It acquired: from now on it believes it leads. */
  onStartedLeading(token: number): void;
  /** Its renew round failed (or it stopped): it no longer believes it leads. */
  onStoppedLeading(): void;
}

/** client-go's LeaderElectionRecord, as it keeps it in memory. */
export interface GoRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** MicroTime strings as read or written (full precision in memory). */
  acquireTime: string | undefined;
  renewTime: string | undefined;
  leaderTransitions: number;
}

/** client-go's JitterFactor: acquire tries wait [R, (1 + 1.2) R). */
const JITTER_FACTOR = 1.2;

export class GoReplica {
  private observedRecord: GoRecord | undefined;
  /** The JSON client-go compares (whole-second times). */
  private observedRaw = '';
  private observedTime = -Infinity;
  /** The Lease object LeaseLock caches from its last Get, Create or Update. */
  private cached: Lease | undefined;
  private believesLeading = false;

  constructor(private readonly options: GoReplicaOptions) {}

  /** It believes it leads (its OnStartedLeading context is live). */
  get leading(): boolean {
    return this.believesLeading;
  }

  /**
   * What it last observed, for the guarantee check (S4): the compared JSON, the holder, and until
   * when (its own monotonic ms) it treats that record as valid.
   */
  observation(): { raw: string; holder: string; validUntilMs: number } | undefined {
    const record = this.observedRecord;
    if (!record || this.observedRaw === '') return undefined;
    const durationMs = this.options.expiry === 'configured' ? this.options.leaseDurationMs : record.leaseDurationSeconds * 1000;
    return { raw: this.observedRaw, holder: record.holderIdentity, validUntilMs: this.observedTime + durationMs };
  }

  /** client-go's Run: acquire, then renew until a round fails (or `stop` aborts); one-shot. */
  async run(stop: AbortSignal): Promise<void> {
    if (!(await this.acquire(stop))) return;
    this.believesLeading = true;
    this.options.onStartedLeading(this.observedRecord?.leaderTransitions ?? 0);
    try {
      await this.renew(stop);
    } finally {
      this.believesLeading = false;
      this.options.onStoppedLeading();
    }
  }

  private async acquire(stop: AbortSignal): Promise<boolean> {
    const { clock, retryPeriodMs: R, renewDeadlineMs } = this.options;
    while (!stop.aborted) {
      // No deadline of its own in client-go; the HTTP client's timeout bounds each request.
      if (await this.tryAcquireOrRenew(clock.now() + renewDeadlineMs, stop)) return true;
      await sleep(clock, R + this.options.random() * JITTER_FACTOR * R, stop);
    }
    return false;
  }

  private async renew(stop: AbortSignal): Promise<void> {
    const { clock, retryPeriodMs: R, renewDeadlineMs } = this.options;
    // wait.Until: a round at once, then R after each round ends.
    for (let first = true; !stop.aborted; first = false) {
      if (!first) await sleep(clock, R, stop);
      if (stop.aborted) return;
      // One round: PollImmediateUntil(R) bounded by the renew deadline.
      const deadline = clock.now() + renewDeadlineMs;
      let renewed = false;
      for (;;) {
        if (await this.tryAcquireOrRenew(deadline, stop)) {
          renewed = true;
          break;
        }
        const left = deadline - clock.now();
        if (left <= 0 || stop.aborted) break;
        await sleep(clock, Math.min(R, left), stop);
        if (clock.now() >= deadline) break;
      }
      if (!renewed) return; // leader election lost
    }
  }

  private isLeader(): boolean {
    return this.observedRecord?.holderIdentity === this.options.identity;
  }

  private isLeaseValid(nowMs: number): boolean {
    const record = this.observedRecord;
    if (!record) return false;
    const durationMs = this.options.expiry === 'configured' ? this.options.leaseDurationMs : record.leaseDurationSeconds * 1000;
    return this.observedTime + durationMs > nowMs;
  }

  private setObservedRecord(record: GoRecord): void {
    this.observedRecord = record;
    this.observedTime = this.options.clock.now();
  }

  private async tryAcquireOrRenew(deadlineMs: number, stop: AbortSignal): Promise<boolean> {
    const { identity, clock } = this.options;
    const now = clock.now();
    const wall = formatMicroTime(clock.wallNow());
    const record: GoRecord = {
      holderIdentity: identity,
      // int(LeaseDuration / time.Second): whole seconds, truncated.
      leaseDurationSeconds: Math.floor(this.options.leaseDurationMs / 1000),
      acquireTime: wall,
      renewTime: wall,
      leaderTransitions: 0,
    };

    // 1. Fast path: the leader updates its cached object without a GET.
    if (this.isLeader() && this.isLeaseValid(now) && this.observedRecord) {
      record.acquireTime = this.observedRecord.acquireTime;
      record.leaderTransitions = this.observedRecord.leaderTransitions;
      if (await this.update(record, deadlineMs, stop)) {
        this.setObservedRecord(record);
        return true;
      }
    }

    // 2. Get, or create when missing.
    let current: Lease;
    try {
      current = await this.request(deadlineMs, stop, (signal) => this.options.client.get(this.options.namespace, this.options.name, { signal }));
    } catch (err) {
      if (!isNotFound(err)) return false;
      try {
        const created = await this.request(deadlineMs, stop, (signal) => this.options.client.create(this.options.namespace, this.leaseOf(record, undefined), { signal }));
        this.cached = created;
        this.setObservedRecord(record);
        return true;
      } catch {
        return false;
      }
    }
    this.cached = current;
    const old = recordOf(current);
    const raw = rawRecord(old);
    if (raw !== this.observedRaw) {
      this.setObservedRecord(old);
      this.observedRaw = raw;
    }
    if (old.holderIdentity !== '' && this.isLeaseValid(now) && !this.isLeader()) return false;

    // 3. Take it, or renew it.
    if (this.isLeader()) {
      record.acquireTime = old.acquireTime;
      record.leaderTransitions = old.leaderTransitions;
    } else {
      record.leaderTransitions = old.leaderTransitions + 1;
    }
    if (!(await this.update(record, deadlineMs, stop))) return false;
    this.setObservedRecord(record);
    return true;
  }

  private async update(record: GoRecord, deadlineMs: number, stop: AbortSignal): Promise<boolean> {
    const base = this.cached;
    if (!base) return false; // "lease not initialized, call get or create first"
    try {
      this.cached = await this.request(deadlineMs, stop, (signal) => this.options.client.update(this.options.namespace, this.leaseOf(record, base), { signal }));
      return true;
    } catch {
      return false;
    }
  }

  /** LeaseLock: the record as the Lease spec, on the cached object's metadata. */
  private leaseOf(record: GoRecord, base: Lease | undefined): Lease {
    const spec: NonNullable<Lease['spec']> = {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      leaseTransitions: record.leaderTransitions,
    };
    if (record.acquireTime !== undefined) spec.acquireTime = record.acquireTime;
    if (record.renewTime !== undefined) spec.renewTime = record.renewTime;
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: base?.metadata ? { ...base.metadata } : { name: this.options.name, namespace: this.options.namespace },
      spec,
    };
  }

  /** One request, bounded by `deadlineMs` on its own clock (client-go's context). */
  private async request<T>(deadlineMs: number, stop: AbortSignal, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { clock } = this.options;
    const controller = new AbortController();
    const onStop = (): void => controller.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const timer = clock.setTimeout(() => controller.abort(), Math.max(0, deadlineMs - clock.now()));
    try {
      if (stop.aborted) throw new Error('stopped');
      return await send(controller.signal);
    } finally {
      clock.clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  }
}

/** The JSON a client-go follower would compare for this Lease. */
export function goRawRecordOf(lease: Lease): string {
  return rawRecord(recordOf(lease));
}

/** client-go's LeaseSpecToLeaderElectionRecord. */
function recordOf(lease: Lease): GoRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: typeof spec.acquireTime === 'string' ? spec.acquireTime : undefined,
    renewTime: typeof spec.renewTime === 'string' ? spec.renewTime : undefined,
    leaderTransitions: spec.leaseTransitions ?? 0,
  };
}

/**
 * The bytes client-go compares: json.Marshal of its record, where metav1.Time marshals as RFC 3339
 * in whole seconds (the fraction is dropped, not rounded) and a missing time as null.
 */
export function rawRecord(record: GoRecord): string {
  const seconds = (t: string | undefined): string | null => (t === undefined ? null : `${t.slice(0, 19)}Z`);
  return JSON.stringify({
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: seconds(record.acquireTime),
    renewTime: seconds(record.renewTime),
    leaderTransitions: record.leaderTransitions,
  });
}
