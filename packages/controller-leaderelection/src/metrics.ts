/**
 * Prometheus metrics for one lease, on a prom-client Registry.
 *
 * Several components may share a registry (one per lease), so the metric objects are created
 * once per (registry, prefix) and every series carries a `name` label. client-go's two metrics
 * have fixed names and are shared per registry whatever the prefix. No timers: leader time is
 * credited by a `collect()` hook when the registry is scraped, and at the end of each term.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { ConfigError, type ApiErrorReason, type Clock, type ElectorObserver, type RequestInfo } from '@leasekit/k8s-leaderelection';

/** The default metric name prefix (the Go original's is configurable too). */
export const DEFAULT_METRICS_PREFIX = 'leasekit';

/** client-go's help strings, verbatim, so existing dashboards and alerts read the same. */
const MASTER_STATUS_HELP =
  "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.";
const SLOWPATH_HELP =
  "Total number of slow path exercised in renewing leader leases. 'name' is the string used to identify the lease. Please make sure to group by name.";

/**
 * Every `reason` label the error counter can take. Its series start at 0, so the first error of a
 * reason is an increase `rate()` sees (a series born at 1 shows no increase into its first sample).
 * A Record, so the compiler says when the elector gains a reason this list lacks.
 */
const ERROR_REASONS = Object.keys({
  BadRequest: true, Unauthorized: true, Forbidden: true, NotFound: true, MethodNotAllowed: true, AlreadyExists: true,
  Conflict: true, Gone: true, Expired: true, Invalid: true, RequestEntityTooLarge: true, TooManyRequests: true,
  InternalError: true, ServiceUnavailable: true, Timeout: true, Unknown: true, NetworkError: true,
} satisfies Record<NonNullable<RequestInfo['errorReason']>, true>) as Array<ApiErrorReason | 'NetworkError'>;

/** The metrics whose names carry the configurable prefix. */
interface PrefixedMetrics {
  isLeader: Gauge<'name'>;
  transitions: Counter<'name'>;
  timeAsLeader: Counter<'name'>;
  requestDuration: Histogram<'name' | 'purpose'>;
  apiErrors: Counter<'name' | 'reason'>;
  lastRenew: Gauge<'name'>;
  leaderChanges: Counter<'name'>;
  workFailures: Counter<'name'>;
  /** Handles currently leading; the time counter's collect() credits their elapsed time. */
  leading: Set<LeaseMetrics>;
}

/** client-go's component-base metrics (fixed names, shared by every prefix on a registry). */
interface ClientGoMetrics {
  masterStatus: Gauge<'name'>;
  slowPath: Counter<'name'>;
}

// Keyed weakly, so a registry the application drops takes its metric objects with it.
const prefixedByRegistry = new WeakMap<Registry, Map<string, PrefixedMetrics>>();
const clientGoByRegistry = new WeakMap<Registry, ClientGoMetrics>();

/** Options for {@link LeaseMetrics}. */
export interface LeaseMetricsOptions {
  readonly registry: Registry;
  /** Prefix of the leasekit metric names. */
  readonly prefix: string;
  /** The `name` label value: which lease these series describe. */
  readonly name: string;
  /** Monotonic time source for leader time (the elector's clock, so fake clocks work). */
  readonly clock: Clock;
}

/**
 * The series of one lease. Driven by the elector's observer hooks ({@link observer}) and by the
 * component (observed leader changes); every method is cheap and never throws on valid input.
 */
export class LeaseMetrics {
  private readonly prefixed: PrefixedMetrics;
  private readonly clientGo: ClientGoMetrics;
  private readonly name: string;
  private readonly clock: Clock;
  /** Monotonic ms up to which this term's leader time has been added to the counter. */
  private creditedUntilMs: number | undefined;

  constructor(options: LeaseMetricsOptions) {
    this.name = options.name;
    this.clock = options.clock;
    this.prefixed = prefixedMetrics(options.registry, options.prefix);
    this.clientGo = clientGoMetrics(options.registry);
    this.initialiseSeries();
  }

  /** Observer hooks that feed these metrics; chain the user's observer after them. */
  readonly observer: Required<ElectorObserver> = {
    onRequest: (info) => this.request(info),
    onSlowPath: () => this.clientGo.slowPath.inc({ name: this.name }),
    onRenewed: ({ wallTimeMs }) => this.prefixed.lastRenew.set({ name: this.name }, wallTimeMs / 1000),
    onAcquired: () => this.leadershipStarted(),
    onLeadershipEnded: ({ reason }) => {
      if (reason === 'work_failed') this.prefixed.workFailures.inc({ name: this.name });
      this.leadershipEnded();
    },
  };

  /** A term began: leader gauges to 1, one more transition, leader time starts accruing. */
  leadershipStarted(): void {
    if (this.creditedUntilMs !== undefined) return;
    const labels = { name: this.name };
    this.prefixed.isLeader.set(labels, 1);
    this.clientGo.masterStatus.set(labels, 1);
    this.prefixed.transitions.inc(labels);
    this.creditedUntilMs = this.clock.now();
    this.prefixed.leading.add(this);
  }

  /**
   * A term ended (or the component stopped): credit the rest of the term, count the transition
   * (once per term) and put every gauge back to 0. Idempotent, so the component can call it on every exit path to be sure
   * (client-go's master_status stays 1 after a graceful stop; this one does not).
   */
  leadershipEnded(): void {
    const wasLeading = this.creditedUntilMs !== undefined;
    this.creditLeaderTime();
    this.creditedUntilMs = undefined;
    // The Go original counts a transition on losing leadership as well as on gaining it.
    if (wasLeading) this.prefixed.transitions.inc({ name: this.name });
    this.prefixed.leading.delete(this);
    const labels = { name: this.name };
    this.prefixed.isLeader.set(labels, 0);
    this.clientGo.masterStatus.set(labels, 0);
    this.prefixed.lastRenew.set(labels, 0);
  }

  /** The observed holder of the Lease changed. */
  leaderObserved(): void {
    this.prefixed.leaderChanges.inc({ name: this.name });
  }

  /** Adds the leader time since the last credit to the counter (a scrape or the term's end). */
  creditLeaderTime(): void {
    if (this.creditedUntilMs === undefined) return;
    const now = this.clock.now();
    const elapsedMs = now - this.creditedUntilMs;
    if (elapsedMs > 0) this.prefixed.timeAsLeader.inc({ name: this.name }, elapsedMs / 1000);
    this.creditedUntilMs = now;
  }

  private request(info: RequestInfo): void {
    // Cut short by stopping: no answer, so neither a duration nor an error of the API server.
    if (info.cancelled) return;
    this.prefixed.requestDuration.observe({ name: this.name, purpose: info.purpose }, Math.max(0, info.durationMs) / 1000);
    if (info.errorReason !== undefined) this.prefixed.apiErrors.inc({ name: this.name, reason: info.errorReason });
  }

  /**
   * Creates every series at 0 (the error counter once per reason), so `sum(is_leader) < 1` and
   * rate() work from the first scrape, before anything happened.
   */
  private initialiseSeries(): void {
    const labels = { name: this.name };
    this.prefixed.isLeader.set(labels, 0);
    this.clientGo.masterStatus.set(labels, 0);
    this.prefixed.lastRenew.set(labels, 0);
    this.prefixed.transitions.inc(labels, 0);
    this.prefixed.timeAsLeader.inc(labels, 0);
    this.prefixed.leaderChanges.inc(labels, 0);
    this.prefixed.workFailures.inc(labels, 0);
    this.clientGo.slowPath.inc(labels, 0);
    for (const reason of ERROR_REASONS) this.prefixed.apiErrors.inc({ name: this.name, reason }, 0);
  }
}

/** True for a metric name prefix Prometheus accepts (the names append `_leader_election_...`). */
export function isValidMetricsPrefix(prefix: unknown): prefix is string {
  return typeof prefix === 'string' && /^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix);
}

function prefixedMetrics(registry: Registry, prefix: string): PrefixedMetrics {
  let byPrefix = prefixedByRegistry.get(registry);
  if (!byPrefix) {
    byPrefix = new Map();
    prefixedByRegistry.set(registry, byPrefix);
  }
  const existing = byPrefix.get(prefix);
  // Reuse unless someone cleared the registry since (then the cached objects are orphans).
  if (existing && registry.getSingleMetric(`${prefix}_leader_election_is_leader`) === existing.isLeader) return existing;

  const base = `${prefix}_leader_election`;
  const names = ['is_leader', 'transitions_total', 'time_as_leader_seconds_total', 'request_duration_seconds', 'api_errors_total', 'last_renew_timestamp_seconds', 'leader_changes_total', 'work_failures_total'];
  assertFree(registry, names.map((n) => `${base}_${n}`));

  const leading = new Set<LeaseMetrics>();
  const metrics: PrefixedMetrics = {
    leading,
    isLeader: new Gauge({
      name: `${base}_is_leader`,
      help: 'Whether this replica leads the lease: 1 leader, 0 follower (or stopped).',
      labelNames: ['name'],
      registers: [registry],
    }),
    transitions: new Counter({
      name: `${base}_transitions_total`,
      help: 'Leadership transitions of this replica for the lease: one on becoming leader and one on losing leadership.',
      labelNames: ['name'],
      registers: [registry],
    }),
    timeAsLeader: new Counter({
      name: `${base}_time_as_leader_seconds_total`,
      help: 'Seconds this replica has spent as leader of the lease, including the current term up to the scrape.',
      labelNames: ['name'],
      registers: [registry],
      collect() {
        // Credit running terms at scrape time, so a long term shows up as it happens.
        for (const handle of leading) handle.creditLeaderTime();
      },
    }),
    requestDuration: new Histogram({
      name: `${base}_request_duration_seconds`,
      help: 'Latency of Lease API requests by purpose (acquire, renew, release, observe), failed ones included.',
      labelNames: ['name', 'purpose'],
      registers: [registry],
    }),
    apiErrors: new Counter({
      name: `${base}_api_errors_total`,
      help: 'Failed Lease API requests by Kubernetes Status reason (or Timeout, NetworkError, Unknown).',
      labelNames: ['name', 'reason'],
      registers: [registry],
    }),
    lastRenew: new Gauge({
      name: `${base}_last_renew_timestamp_seconds`,
      help: 'Unix time of the last successful renewal (or acquisition) of the current term; 0 when not leading.',
      labelNames: ['name'],
      registers: [registry],
    }),
    leaderChanges: new Counter({
      name: `${base}_leader_changes_total`,
      help: 'Number of times this replica observed a new holder of the lease (including the first observation).',
      labelNames: ['name'],
      registers: [registry],
    }),
    workFailures: new Counter({
      name: `${base}_work_failures_total`,
      help: "Number of terms this replica ended because its leader work (onStartedLeading) threw or rejected (onStartedLeadingFailure 'resign').",
      labelNames: ['name'],
      registers: [registry],
    }),
  };
  byPrefix.set(prefix, metrics);
  return metrics;
}

function clientGoMetrics(registry: Registry): ClientGoMetrics {
  const existing = clientGoByRegistry.get(registry);
  if (existing && registry.getSingleMetric('leader_election_master_status') === existing.masterStatus) return existing;
  assertFree(registry, ['leader_election_master_status', 'leader_election_slowpath_total']);
  const metrics: ClientGoMetrics = {
    masterStatus: new Gauge({ name: 'leader_election_master_status', help: MASTER_STATUS_HELP, labelNames: ['name'], registers: [registry] }),
    slowPath: new Counter({ name: 'leader_election_slowpath_total', help: SLOWPATH_HELP, labelNames: ['name'], registers: [registry] }),
  };
  clientGoByRegistry.set(registry, metrics);
  return metrics;
}

/** A metric of ours already registered by someone else would make prom-client throw late and vaguely. */
export function assertFree(registry: Registry, names: string[]): void {
  for (const name of names) {
    if (registry.getSingleMetric(name) !== undefined) {
      throw new ConfigError(
        'OPTION_INVALID',
        'registry',
        `metric ${name} is already registered on this registry by something other than leasekit: use another metricsPrefix or registry`,
      );
    }
  }
}
