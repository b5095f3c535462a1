/**
 * The sharded component's configuration: the ShardedElector's, plus the metrics options. Validates
 * the additions, and rewrites the ShardedElector's ConfigErrors to name the field the user set
 * (`elector.leaseDurationMs`, `membership.durationMs`, `setName`, ...).
 */
import type { Registry } from 'prom-client';
import { ConfigError, shardLeaseName, type ShardedElectorConfig } from '@leasekit/k8s-leaderelection';
import { resolveConfig } from '@leasekit/k8s-leaderelection/internal';
import { resolveMetricsOptions } from './config.js';
import { DEFAULT_METRICS_PREFIX } from './metrics.js';

/** The ShardedElector's config plus the component's options. */
export interface ShardedLeaderElectionComponentConfig extends ShardedElectorConfig {
  /** Where the metrics are registered; may be shared with other components. @default a new Registry */
  readonly registry?: Registry;
  /** Prefix of the metric names (`<prefix>_leader_election_shards_held`, ...). @default 'leasekit' */
  readonly metricsPrefix?: string;
  /** The `name` label of the metrics. @default setName */
  readonly name?: string;
}

/** The component's own options, validated, with defaults applied. */
export interface ShardedComponentOptions {
  readonly registry: Registry;
  readonly metricsPrefix: string;
  /** The `name` label, or undefined for the set name (known once the ShardedElector accepted it). */
  readonly name: string | undefined;
  /** The config without the component's fields, for the ShardedElector. */
  readonly shardedConfig: ShardedElectorConfig;
}

/** Validates `registry`, `metricsPrefix` and `name`, in that order. */
export function resolveShardedComponentOptions(config: ShardedLeaderElectionComponentConfig): ShardedComponentOptions {
  const { registry, metricsPrefix = DEFAULT_METRICS_PREFIX, name, ...shardedConfig } = config;
  const metrics = resolveMetricsOptions(registry, metricsPrefix);
  if (name !== undefined) {
    if (typeof name !== 'string') throw new ConfigError('FIELD_TYPE', 'name', `name must be a string, got ${typeof name}`);
    if (name.trim() === '') throw new ConfigError('OPTION_INVALID', 'name', 'name cannot be empty');
  }
  return { ...metrics, name, shardedConfig };
}

/** Fields the ShardedElector names as the user set them. */
const SAME_FIELD = new Set(['config', 'identity', 'setName', 'namespace', 'shards', 'handoverIntervalMs', 'settleMs', 'clock', 'random', 'client']);
/** Fields the ShardedElector derives from a field of its own config. */
const DERIVED_FIELD: Readonly<Record<string, string>> = { leaseName: 'setName', leaseNamespace: 'namespace' };

/**
 * The ShardedElector's ConfigError, rethrown with the same code, the field the user set, the
 * message prefixed "failed to create sharded leader elector:" and the original as `cause`.
 * Its shard Electors and its Membership both report bare field names (`retryPeriodMs`,
 * `labels`, ...): a field the shard Electors' own check rejects is `elector.<field>`, any
 * other `membership.<field>`.
 */
export function wrapShardedElectorError(err: unknown, config: ShardedElectorConfig, client: unknown): unknown {
  if (!(err instanceof ConfigError)) return err;
  const field = SAME_FIELD.has(err.field)
    ? err.field
    : Object.hasOwn(DERIVED_FIELD, err.field)
      ? DERIVED_FIELD[err.field]!
      : `${electorRejects(err.field, config, client) ? 'elector' : 'membership'}.${err.field}`;
  return new ConfigError(err.code, field, `failed to create sharded leader elector: ${err.message}`, { cause: err });
}

/** True when the shard Electors' config check fails on `field` (the ShardedElector runs the same check first). */
function electorRejects(field: string, config: ShardedElectorConfig, client: unknown): boolean {
  try {
    resolveConfig(
      { ...config.elector, identity: config.identity, leaseName: shardLeaseName(config.setName, config.shards - 1), leaseNamespace: config.namespace, clock: config.clock, random: config.random },
      { client },
    );
    return false;
  } catch (e) {
    return e instanceof ConfigError && e.field === field;
  }
}
