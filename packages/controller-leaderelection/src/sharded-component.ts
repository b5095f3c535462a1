/**
 * The sharded leadership component: the pure ShardedElector wired to an event bus (`shard.acquired`,
 * `shard.lost`, `shards.changed`), prom-client metrics and a liveness check.
 *
 * Order for one shard's term, as for one Lease:
 *   onStartedLeading(shard) -> shard.acquired -> shards.changed
 *   ... term ...
 *   shard.lost -> shards.changed -> onStoppedLeading(shard) -> (handover or release)
 * So a component created inside onStartedLeading hears its shard.acquired, and every listener
 * hears shard.lost before the callback tears down and before the next holder can take the shard.
 */
import type { Registry } from 'prom-client';
import {
  ConfigError,
  DEFAULT_LEASE_DURATION_MS,
  LeaseKitError,
  ShardedElector,
  type Clock,
  type ElectorObserver,
  type LeadershipTerm,
  type Logger,
  type SafeLogger,
  type ShardCallbacks,
  type ShardedSnapshot,
  type StoppedLeadingInfo,
} from '@leasekit/k8s-leaderelection';
import { describeError, isPromiseLike, systemClock, toSafeLogger } from '@leasekit/k8s-leaderelection/internal';
import { deliver, isEventBus } from './events.js';
import { DEFAULT_HEALTH_TOLERANCE_MS, createHealthHandler, type HealthHandler, type HealthHandlerOptions } from './health.js';
import { resolveShardedComponentOptions, wrapShardedElectorError, type ShardedLeaderElectionComponentConfig } from './sharded-config.js';
import {
  SHARDED_LEADER_ELECTION_EVENTS,
  type ShardedLeaderElectionBus,
  type ShardedLeaderElectionEventName,
  type ShardedLeaderElectionEventPayload,
} from './sharded-events.js';
import { ShardLiveness } from './sharded-health.js';
import { ShardMetrics } from './sharded-metrics.js';

/** Fields of a payload other than the timestamp, which `publish` adds. */
type EventFields<K extends ShardedLeaderElectionEventName> = Omit<ShardedLeaderElectionEventPayload<K>, 'timestamp'>;

/**
 * Sharded leadership for a controller (issue 13): this replica's fair share of a set of N shard
 * Leases, as events on your bus, Prometheus metrics and a liveness check. One per replica and
 * set; call {@link run} with your shutdown signal.
 */
export class ShardedLeaderElectionComponent<Bus extends ShardedLeaderElectionBus = ShardedLeaderElectionBus> {
  /** The registry holding this component's metrics (a new one unless `config.registry` was given). */
  readonly registry: Registry;
  /** The bus events are published on (as passed in, with its own type). */
  readonly bus: Bus;
  readonly identity: string;
  /** The `name` label of the metrics (config.name, by default the set name). */
  readonly name: string;
  readonly setName: string;
  readonly namespace: string;
  /** How many shards the set has (N). */
  readonly shards: number;

  private readonly sharded: ShardedElector;
  private readonly metrics: ShardMetrics;
  private readonly liveness: ShardLiveness;
  private readonly clock: Clock;
  private readonly log: SafeLogger;
  /** The shards whose `shard.acquired` was published and `shard.lost` not yet: what `shards.changed` carries. */
  private readonly held = new Set<number>();
  private running = false;

  /**
   * Checks, first failure wins: config missing, bus missing or not an emitter, the component's
   * own fields (`registry`, `metricsPrefix`, `name`), then the ShardedElector's checks, rethrown as
   * {@link ConfigError}s with the same code, naming the field as set here (`elector.<field>`,
   * `membership.<field>` for the nested options), prefixed "failed to create sharded leader elector".
   *
   * @param config the ShardedElector's config plus `registry`, `metricsPrefix` and `name`.
   * @param kubeConfigOrLeaseClient a client-node `KubeConfig`, or a LeaseClient with `list`, `delete` and `watchSet`.
   * @param bus an eventemitter3 emitter ({@link createShardedLeaderElectionBus} makes one).
   * @param callbacks the ShardedElector's per-shard callbacks, each optional; called around the events.
   * @param logger console, pino, winston, ...; by default warnings and errors go to the console.
   */
  constructor(config: ShardedLeaderElectionComponentConfig, kubeConfigOrLeaseClient: unknown, bus: Bus, callbacks: ShardCallbacks = {}, logger?: Logger) {
    if (config == null || typeof config !== 'object') {
      throw new ConfigError('CONFIG_MISSING', 'config', 'config cannot be nil: pass a ShardedLeaderElectionComponentConfig object');
    }
    if (bus == null) {
      throw new ConfigError('OPTION_INVALID', 'bus', 'event bus cannot be nil: pass an eventemitter3 EventEmitter, e.g. createShardedLeaderElectionBus()');
    }
    if (!isEventBus(bus)) {
      throw new ConfigError('OPTION_INVALID', 'bus', 'event bus must be an eventemitter3 EventEmitter (emit, listeners and removeListener)');
    }
    const options = resolveShardedComponentOptions(config);
    const { shardedConfig } = options;
    this.bus = bus;
    this.registry = options.registry;
    // The hooks below run only from run(), by when every field is set.
    const observer = withRenewedHook(() => this.liveness.renewed(), shardedConfig.elector?.observer);
    try {
      this.sharded = new ShardedElector(
        { ...shardedConfig, elector: { ...shardedConfig.elector, observer } },
        kubeConfigOrLeaseClient,
        this.wrapCallbacks(callbacks ?? {}),
        logger,
      );
    } catch (err) {
      throw wrapShardedElectorError(err, shardedConfig, kubeConfigOrLeaseClient);
    }
    this.identity = shardedConfig.identity;
    this.setName = shardedConfig.setName;
    this.namespace = shardedConfig.namespace;
    this.shards = shardedConfig.shards;
    this.name = options.name ?? this.setName;
    this.clock = shardedConfig.clock ?? systemClock;
    this.log = toSafeLogger(logger, { identity: this.identity, shardSet: `${this.namespace}/${this.setName}` });
    this.metrics = new ShardMetrics({ registry: this.registry, prefix: options.metricsPrefix, name: this.name });
    this.liveness = new ShardLiveness({ clock: this.clock, leaseDurationMs: shardedConfig.elector?.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS, name: this.name });
  }

  /**
   * Joins the set and leads this replica's share of the shards until `signal` aborts; then hands
   * each shard to the member that will hold it (or releases it), leaves and resolves, with every
   * shard's work stopped (`shard.lost` listeners and onStoppedLeading settled, bounded) and
   * `shards_held` at 0. Never rejects because of API failures; rejects if already running.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new LeaseKitError('ALREADY_RUNNING', `sharded leader election for ${this.name} is already running`);
    this.running = true;
    try {
      await this.sharded.run(signal ?? new AbortController().signal);
    } finally {
      // Every term ends through onStoppedLeading; this covers any path that missed it.
      this.metrics.stopped();
      this.running = false;
    }
  }

  /** True while this replica leads `shard` and its lease is guaranteed. */
  isLeader(shard: number): boolean {
    return this.sharded.isLeader(shard);
  }

  /** The current term of `shard` (with its fencing token) while this replica leads it, else undefined. */
  getTerm(shard: number): LeadershipTerm | undefined {
    return this.sharded.getTerm(shard);
  }

  /** The shards this replica leads now, ascending (`isLeader` of each). */
  heldShards(): number[] {
    return this.sharded.heldShards();
  }

  /** The ShardedElector's snapshot: members, holders, held, following, handing over, suspected. */
  snapshot(): ShardedSnapshot {
    return this.sharded.snapshot();
  }

  /**
   * Liveness check with client-go's semantics for the replica: an Error when it leads at least one
   * shard but no shard was renewed for longer than the lease duration plus `toleranceMs` (it is
   * wedged); undefined otherwise.
   * @param toleranceMs @default 20000, the control plane's value
   */
  check(toleranceMs: number = DEFAULT_HEALTH_TOLERANCE_MS): Error | undefined {
    return this.liveness.check(toleranceMs);
  }

  /** A node:http handler for a liveness endpoint over {@link check}: 200 `ok` or 500 with the reason. */
  healthHandler(options: HealthHandlerOptions = {}): HealthHandler {
    return createHealthHandler(this, options);
  }

  /** The ShardedElector's callbacks, publishing events around the user's (see the file comment for the order). */
  private wrapCallbacks(user: ShardCallbacks): ShardCallbacks {
    return {
      onStartedLeading: (shard, signal, term) => {
        this.held.add(shard);
        this.liveness.started(shard);
        this.metrics.acquired(this.held.size);
        try {
          return user.onStartedLeading?.(shard, signal, term);
        } finally {
          // Also when the callback threw: the term has begun either way (see LeaderElectionComponent).
          this.publish(SHARDED_LEADER_ELECTION_EVENTS.acquired, { identity: term.identity, shard, token: term.token });
          this.publishHeld();
        }
      },
      onStoppedLeading: (shard, info) => this.stoppedLeading(user, shard, info),
    };
  }

  /**
   * Publishes `shard.lost` and `shards.changed`, then calls the user's onStoppedLeading. Returns a
   * promise (never rejecting) when a `shard.lost` listener or the callback is async: the shard
   * Elector awaits it, bounded, before handing the shard over or releasing it.
   */
  private stoppedLeading(user: ShardCallbacks, shard: number, info: StoppedLeadingInfo): Promise<void> | undefined {
    const { reason, term } = info;
    this.held.delete(shard);
    this.liveness.ended(shard);
    this.metrics.lost(reason, this.held.size);
    const pending = this.publish(SHARDED_LEADER_ELECTION_EVENTS.lost, { identity: term.identity, shard, reason, token: term.token });
    this.publishHeld();
    try {
      const result = user.onStoppedLeading?.(shard, info);
      if (isPromiseLike(result)) pending.push(Promise.resolve(result).then(() => undefined, (err: unknown) => this.callbackFailed('onStoppedLeading', err)));
    } catch (err) {
      this.callbackFailed('onStoppedLeading', err);
    }
    return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
  }

  private publishHeld(): void {
    const held = Object.freeze([...this.held].sort((a, b) => a - b));
    this.publish(SHARDED_LEADER_ELECTION_EVENTS.changed, { identity: this.identity, held });
  }

  /** Publishes one event to every listener, each isolated; returns the promises listeners returned. */
  private publish<K extends ShardedLeaderElectionEventName>(event: K, fields: EventFields<K>): Promise<void>[] {
    const payload = Object.freeze({ timestamp: new Date(this.clock.wallNow()), ...fields });
    return deliver(this.bus, event, payload, (err) => this.log.error(`A "${event}" listener failed`, { error: describeError(err) }));
  }

  private callbackFailed(name: string, err: unknown): void {
    this.log.error(`${name} callback failed`, { error: describeError(err) });
  }
}

/**
 * The user's shard observer with our `onRenewed` first (in a try/finally, so a bug here cannot
 * starve theirs); every other hook is theirs, called on their object.
 */
function withRenewedHook(renewed: () => void, user: ElectorObserver | undefined): ElectorObserver {
  return {
    onRequest: (info) => user?.onRequest?.(info),
    onSlowPath: () => user?.onSlowPath?.(),
    onRenewed: (info) => {
      try {
        renewed();
      } finally {
        user?.onRenewed?.(info);
      }
    },
    onAcquired: (info) => user?.onAcquired?.(info),
    onLeadershipEnded: (info) => user?.onLeadershipEnded?.(info),
  };
}
