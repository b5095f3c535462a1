/**
 * Prometheus metrics of one replica's share of a shard set: shards held, shard transitions and
 * handovers given. One set of metric objects per (registry, prefix), series labelled by `name`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { StopReason } from '@leasekit/k8s-leaderelection';
import { assertFree } from './metrics.js';

interface ShardMetricObjects {
  shardsHeld: Gauge<'name'>;
  transitions: Counter<'name'>;
  rebalanceMoves: Counter<'name'>;
}

// Keyed weakly, so a registry the application drops takes its metric objects with it.
const byRegistry = new WeakMap<Registry, Map<string, ShardMetricObjects>>();

/** Options for {@link ShardMetrics}. */
export interface ShardMetricsOptions {
  readonly registry: Registry;
  /** Prefix of the metric names (`<prefix>_leader_election_shards_held`, ...). */
  readonly prefix: string;
  /** The `name` label value: which shard set these series describe. */
  readonly name: string;
}

/** The series of one replica in one shard set, driven by the component's shard callbacks. */
export class ShardMetrics {
  private readonly metrics: ShardMetricObjects;
  private readonly labels: { name: string };

  constructor(options: ShardMetricsOptions) {
    this.labels = { name: options.name };
    this.metrics = shardMetricObjects(options.registry, options.prefix);
    // Every series from construction, at 0: rate() and sum() work before anything happened.
    this.metrics.shardsHeld.set(this.labels, 0);
    this.metrics.transitions.inc(this.labels, 0);
    this.metrics.rebalanceMoves.inc(this.labels, 0);
  }

  /** A shard term began: `held` shards are held now. */
  acquired(held: number): void {
    this.metrics.transitions.inc(this.labels);
    this.metrics.shardsHeld.set(this.labels, held);
  }

  /** A shard term ended with `reason`: `held` shards are held now. A handover counts as a move given. */
  lost(reason: StopReason, held: number): void {
    this.metrics.transitions.inc(this.labels);
    if (reason === 'handed_over') this.metrics.rebalanceMoves.inc(this.labels);
    this.metrics.shardsHeld.set(this.labels, held);
  }

  /** The component stopped: nothing is held (idempotent, for every exit path). */
  stopped(): void {
    this.metrics.shardsHeld.set(this.labels, 0);
  }
}

function shardMetricObjects(registry: Registry, prefix: string): ShardMetricObjects {
  let byPrefix = byRegistry.get(registry);
  if (!byPrefix) {
    byPrefix = new Map();
    byRegistry.set(registry, byPrefix);
  }
  const base = `${prefix}_leader_election`;
  const existing = byPrefix.get(prefix);
  // Reuse unless someone cleared the registry since (then the cached objects are orphans).
  if (existing && registry.getSingleMetric(`${base}_shards_held`) === existing.shardsHeld) return existing;
  assertFree(registry, ['shards_held', 'shard_transitions_total', 'rebalance_moves_total'].map((n) => `${base}_${n}`));
  const metrics: ShardMetricObjects = {
    shardsHeld: new Gauge({
      name: `${base}_shards_held`,
      help: 'Shards of the set this replica leads now; 0 when stopped.',
      labelNames: ['name'],
      registers: [registry],
    }),
    transitions: new Counter({
      name: `${base}_shard_transitions_total`,
      help: 'Shard leadership transitions of this replica: one on acquiring a shard and one on losing it (as transitions_total for one lease).',
      labelNames: ['name'],
      registers: [registry],
    }),
    rebalanceMoves: new Counter({
      name: `${base}_rebalance_moves_total`,
      help: 'Shards this replica handed over to another member (rebalancing, or leaving on shutdown): terms ended with reason handed_over.',
      labelNames: ['name'],
      registers: [registry],
    }),
  };
  byPrefix.set(prefix, metrics);
  return metrics;
}
