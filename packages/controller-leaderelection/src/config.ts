/**
 * The component's configuration: the elector's, plus the three things only an adapter needs.
 * The elector validates its own fields; this file validates the additions.
 */
import { Registry } from 'prom-client';
import { ConfigError, type ElectorConfig, type MembershipConfig } from '@leasekit/k8s-leaderelection';
import { DEFAULT_METRICS_PREFIX, isValidMetricsPrefix } from './metrics.js';

/** The elector's config plus the component's options. */
export interface LeaderElectionComponentConfig extends ElectorConfig {
  /**
   * `false` turns election off (one replica, local development): the component announces
   * leadership for identity `standalone` as soon as it runs and never touches the API. Then
   * the elector's checks are skipped and only `registry`, `metricsPrefix`, `name`, `clock`,
   * `observer`, `onStoppedLeadingTimeoutMs` (else `leaseDurationMs`) and, for the started event,
   * `leaseName`/`leaseNamespace` are read; identity, lease fields and the client may be missing.
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * Where the metrics are registered. Several components (leases) may share one. Pass
   * prom-client's global `register` only on purpose: by default nothing global is touched.
   * @default a new Registry owned by the component (read it from `component.registry`)
   */
  readonly registry?: Registry;
  /**
   * Prefix of the leasekit metric names (`<prefix>_leader_election_is_leader`, ...). client-go's
   * `leader_election_master_status` and `leader_election_slowpath_total` never take it.
   * @default 'leasekit'
   */
  readonly metricsPrefix?: string;
  /**
   * Directed handover on shutdown (issue 14). `'newest'`: every replica keeps a membership Lease
   * (`<leaseName>-member-<hash>`, see docs/membership.md); when `run()`'s signal aborts while this
   * replica leads, it hands the lease to the most recently joined live member (`leader.lost` with
   * reason `handed_over`), so a rolling update moves leadership once. With no other live member,
   * or when the list fails or times out (the renew deadline), it releases as usual. Needs a client
   * with `list` and `delete` (a KubeConfig has them) and RBAC `list`/`delete` on leases. Ignored
   * when `enabled` is false.
   * @default false
   */
  readonly handoverOnShutdown?: 'newest' | false;
  /** The membership's timings and labels when `handoverOnShutdown` is on. @default 60 s duration, 20 s renew interval */
  readonly membership?: MembershipOptions;
}

/** The membership options the component passes through (see `MembershipConfig`). */
export type MembershipOptions = Pick<MembershipConfig, 'durationMs' | 'renewIntervalMs' | 'labels'>;

/** The component's own options, validated, with defaults applied. */
export interface ComponentOptions {
  readonly enabled: boolean;
  readonly registry: Registry;
  readonly metricsPrefix: string;
  readonly handoverOnShutdown: 'newest' | false;
  readonly membership: MembershipOptions;
  /** The config without the component's fields, for the elector. */
  readonly electorConfig: ElectorConfig;
}

/** Validates the component's fields (enabled, registry, metricsPrefix, handoverOnShutdown, membership) in that order. */
export function resolveComponentOptions(config: LeaderElectionComponentConfig): ComponentOptions {
  const { enabled = true, registry, metricsPrefix = DEFAULT_METRICS_PREFIX, handoverOnShutdown = false, membership = {}, ...electorConfig } = config;
  if (typeof enabled !== 'boolean') {
    throw new ConfigError('FIELD_TYPE', 'enabled', `enabled must be a boolean, got ${typeof enabled}`);
  }
  const metrics = resolveMetricsOptions(registry, metricsPrefix);
  if (handoverOnShutdown !== false && handoverOnShutdown !== 'newest') {
    throw new ConfigError('OPTION_INVALID', 'handoverOnShutdown', `handoverOnShutdown must be 'newest' or false, got ${JSON.stringify(handoverOnShutdown) ?? String(handoverOnShutdown)}`);
  }
  if (handoverOnShutdown !== false && electorConfig.coordinated === true) {
    // The coordinator picks the holder in coordinated mode; resign({ to }) is refused there.
    throw new ConfigError('OPTION_INVALID', 'handoverOnShutdown', "handoverOnShutdown cannot be used with coordinated: true (the coordinator picks the next holder; a coordinated leader releases on shutdown)");
  }
  if (membership === null || typeof membership !== 'object' || Array.isArray(membership)) {
    throw new ConfigError('FIELD_TYPE', 'membership', 'membership must be an object ({ durationMs, renewIntervalMs, labels })');
  }
  return { enabled, registry: metrics.registry, metricsPrefix: metrics.metricsPrefix, handoverOnShutdown, membership, electorConfig };
}

/**
 * Validates `registry` then `metricsPrefix` (shared with the sharded component): a new Registry
 * when none was given. Throws ConfigError `OPTION_INVALID` naming the field.
 */
export function resolveMetricsOptions(registry: unknown, metricsPrefix: unknown): { registry: Registry; metricsPrefix: string } {
  if (registry != null && !isRegistry(registry)) {
    throw new ConfigError('OPTION_INVALID', 'registry', 'registry must be a prom-client Registry (registerMetric, getSingleMetric and metrics methods)');
  }
  if (!isValidMetricsPrefix(metricsPrefix)) {
    throw new ConfigError(
      'OPTION_INVALID',
      'metricsPrefix',
      `metricsPrefix (${JSON.stringify(metricsPrefix)}) must be a Prometheus metric name: letters, digits, '_' and ':', not starting with a digit`,
    );
  }
  return { registry: registry ?? new Registry(), metricsPrefix };
}

function isRegistry(value: unknown): value is Registry {
  const r = value as Partial<Registry> | null;
  return r != null && typeof r.registerMetric === 'function' && typeof r.getSingleMetric === 'function' && typeof r.metrics === 'function';
}
