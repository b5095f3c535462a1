/**
 * The leader-election component: the pure Elector (or, with election disabled, a standalone
 * stand-in) wired to an event bus, prom-client metrics and a liveness check.
 *
 * Event order for a term, and why:
 *   leader.observed (the Lease names us) -> onStartedLeading -> leader.became
 *   ... term ...
 *   leader.lost -> onStoppedLeading -> (release, on shutdown or resign)
 * The user's callback runs *before* `leader.became`, so leader-only components that subscribe
 * from inside onStartedLeading (synchronously) hear it, exactly once; the Go original gets the
 * same effect by buffering the bus around the callback. Symmetrically `leader.lost` comes
 * *before* onStoppedLeading, so those components hear it before the callback tears them down.
 * When either is published, `isLeader()` already tells the truth.
 */
import type { Registry } from 'prom-client';
import {
  ConfigError,
  DEFAULT_LEASE_DURATION_MS,
  Elector,
  LeaseKitError,
  Membership,
  type Clock,
  type ElectorObserver,
  type ElectorSnapshot,
  type LeaderCallbacks,
  type LeadershipTerm,
  type Logger,
  type ResignOptions,
  type SafeLogger,
  type StoppedLeadingInfo,
} from '@leasekit/k8s-leaderelection';
import { describeError, isPromiseLike, systemClock, toSafeLogger } from '@leasekit/k8s-leaderelection/internal';
import { resolveComponentOptions, type LeaderElectionComponentConfig, type MembershipOptions } from './config.js';
import {
  LEADER_ELECTION_EVENTS,
  deliver,
  isEventBus,
  type LeaderElectionBus,
  type LeaderElectionEventName,
  type LeaderElectionEventPayload,
} from './events.js';
import { DEFAULT_HEALTH_TOLERANCE_MS, createHealthHandler, type HealthHandler, type HealthHandlerOptions } from './health.js';
import { LeaseMetrics } from './metrics.js';
import { ShutdownHandover } from './shutdown-handover.js';
import { STANDALONE_IDENTITY, Standalone } from './standalone.js';

/** The component's state: the elector's snapshot plus what the component adds. */
export interface LeaderElectionSnapshot extends ElectorSnapshot {
  /** False when election is disabled (`config.enabled === false`). */
  readonly enabled: boolean;
  readonly leaseName: string;
  readonly leaseNamespace: string;
}

/** What the component drives: the Elector, or the Standalone stand-in when disabled. */
type Engine = Pick<Elector, 'isLeader' | 'getLeader' | 'getTerm' | 'check' | 'snapshot'> & {
  run(signal: AbortSignal): Promise<void>;
  resign(options?: ResignOptions): Promise<void>;
};

/** Fields of a payload other than the timestamp, which `publish` adds. */
type EventFields<K extends LeaderElectionEventName> = Omit<LeaderElectionEventPayload<K>, 'timestamp'>;

/**
 * Leader election for a controller: leadership as events on your bus, as Prometheus metrics,
 * and as a liveness check. Construct one per lease; call {@link run} with your shutdown signal.
 */
export class LeaderElectionComponent<Bus extends LeaderElectionBus = LeaderElectionBus> {
  /** The registry holding this component's metrics (a new one unless `config.registry` was given). */
  readonly registry: Registry;
  /** The bus events are published on (as passed in, with its own type). */
  readonly bus: Bus;
  /** False when election is disabled. */
  readonly enabled: boolean;
  /** This replica's identity (`standalone` when election is disabled). */
  readonly identity: string;
  /** The `name` label of the metrics (config.name, by default the lease name). */
  readonly name: string;
  readonly leaseName: string;
  readonly leaseNamespace: string;

  private readonly engine: Engine;
  private readonly metrics: LeaseMetrics;
  private readonly clock: Clock;
  private readonly log: SafeLogger;
  /** Set with `handoverOnShutdown: 'newest'` (and election enabled). */
  private readonly shutdownHandover: ShutdownHandover | undefined;
  private running = false;

  /**
   * Checks, first failure wins: config missing, bus missing or not an emitter, the component's
   * own fields, then (election enabled) the elector's checks, rethrown as {@link ConfigError}s
   * with the same code and field, prefixed "failed to create leader elector".
   *
   * @param config the elector's config plus `enabled`, `registry` and `metricsPrefix`.
   * @param kubeConfigOrLeaseClient a client-node `KubeConfig` or any `LeaseClient`; unused (may
   *   be undefined) when election is disabled.
   * @param bus an eventemitter3 emitter ({@link createLeaderElectionBus} makes one).
   * @param callbacks the elector's callbacks, each optional; called around the events.
   * @param logger console, pino, winston, ...; by default warnings and errors go to the console.
   */
  constructor(
    config: LeaderElectionComponentConfig,
    kubeConfigOrLeaseClient: unknown,
    bus: Bus,
    callbacks: LeaderCallbacks = {},
    logger?: Logger,
  ) {
    if (config == null || typeof config !== 'object') {
      throw new ConfigError('CONFIG_MISSING', 'config', 'config cannot be nil: pass a LeaderElectionComponentConfig object');
    }
    if (bus == null) {
      throw new ConfigError('OPTION_INVALID', 'bus', 'event bus cannot be nil: pass an eventemitter3 EventEmitter, e.g. createLeaderElectionBus()');
    }
    if (!isEventBus(bus)) {
      throw new ConfigError('OPTION_INVALID', 'bus', 'event bus must be an eventemitter3 EventEmitter (emit, listeners and removeListener)');
    }
    const options = resolveComponentOptions(config);
    const userCallbacks = callbacks ?? {};
    this.bus = bus;
    this.enabled = options.enabled;
    this.registry = options.registry;

    const wrapped = this.wrapCallbacks(userCallbacks);
    // The metrics do not exist yet (they need the resolved name and clock); the engine calls
    // the observer only from run(), by when they do.
    const observer = chainObservers(() => this.metrics.observer, options.electorConfig.observer);
    const electorConfig = { ...options.electorConfig, observer };

    let elector: Elector | undefined;
    if (options.enabled) {
      try {
        elector = new Elector(electorConfig, kubeConfigOrLeaseClient, wrapped, logger);
      } catch (err) {
        throw wrapElectorError(err);
      }
      this.clock = elector.config.clock;
      this.identity = elector.config.identity;
      this.name = elector.config.name;
      this.leaseName = elector.config.leaseName;
      this.leaseNamespace = elector.config.leaseNamespace;
    } else {
      this.clock = config.clock ?? systemClock;
      this.identity = STANDALONE_IDENTITY;
      this.leaseName = typeof config.leaseName === 'string' ? config.leaseName : '';
      this.leaseNamespace = typeof config.leaseNamespace === 'string' ? config.leaseNamespace : '';
      this.name = typeof config.name === 'string' && config.name !== '' ? config.name : this.leaseName || STANDALONE_IDENTITY;
    }
    this.log = toSafeLogger(logger, { identity: this.identity, lease: `${this.leaseNamespace}/${this.leaseName}` });
    this.shutdownHandover =
      elector && options.handoverOnShutdown === 'newest' ? new ShutdownHandover(membershipFor(elector, options.membership, kubeConfigOrLeaseClient, logger), this.identity, this.log) : undefined;
    this.engine =
      elector ??
      new Standalone({
        name: this.name,
        clock: this.clock,
        callbacks: wrapped,
        observer,
        log: this.log,
        onStoppedLeadingTimeoutMs: config.onStoppedLeadingTimeoutMs ?? config.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS,
      });
    this.metrics = new LeaseMetrics({ registry: this.registry, prefix: options.metricsPrefix, name: this.name, clock: this.clock });
  }

  /**
   * Publishes `leader.election.started` (always, also when `signal` is already aborted), then
   * contends for leadership until `signal` aborts. Resolves after shutdown is complete: leader
   * work stopped (onStoppedLeading and promise-returning `leader.lost` listeners settled, within
   * `onStoppedLeadingTimeoutMs`), the lease released, every gauge back at 0. Never rejects because
   * of API failures; rejects if already running.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new LeaseKitError('ALREADY_RUNNING', `leader election for ${this.name} is already running`);
    this.running = true;
    const stop = signal ?? new AbortController().signal;
    try {
      this.publish(LEADER_ELECTION_EVENTS.started, { identity: this.identity, leaseName: this.leaseName, leaseNamespace: this.leaseNamespace });
      if (this.shutdownHandover) await this.shutdownHandover.run(this.engine, stop);
      else await this.engine.run(stop);
    } finally {
      // The engine ends every term through onLeadershipEnded; this covers any path it missed.
      this.metrics.leadershipEnded();
      this.running = false;
    }
  }

  /** True only while this replica leads and its lease is guaranteed (the elector's `isLeader`). */
  isLeader(): boolean {
    return this.engine.isLeader();
  }

  /** The holder of the last observed Lease ('' before any; `standalone` while leading disabled). */
  getLeader(): string {
    return this.engine.getLeader();
  }

  /** The current term (with its fencing token) while leading, else undefined. */
  getTerm(): LeadershipTerm | undefined {
    return this.engine.getTerm();
  }

  /** A consistent snapshot of the state, for status pages. */
  snapshot(): LeaderElectionSnapshot {
    return { ...this.engine.snapshot(), enabled: this.enabled, leaseName: this.leaseName, leaseNamespace: this.leaseNamespace };
  }

  /**
   * Liveness check with client-go's semantics: an Error when this replica believes it leads but
   * has not renewed for longer than the lease duration plus `toleranceMs`; undefined otherwise
   * (always undefined when election is disabled).
   * @param toleranceMs @default 20000, the control plane's value
   */
  check(toleranceMs: number = DEFAULT_HEALTH_TOLERANCE_MS): Error | undefined {
    return this.engine.check(toleranceMs);
  }

  /** A node:http handler for a liveness endpoint over {@link check}: 200 `ok` or 500 with the reason. */
  healthHandler(options: HealthHandlerOptions = {}): HealthHandler {
    return createHealthHandler(this, options);
  }

  /**
   * Steps down on purpose (`leader.lost` with reason `resigned`), releases the lease and keeps
   * running as a follower, not contending for `cooldownMs`. A no-op when not leading, and when
   * election is disabled.
   */
  resign(options: ResignOptions = {}): Promise<void> {
    return this.engine.resign(options);
  }

  /**
   * Directed handover (the elector's `resign({ to: identity })`): steps down (`leader.lost` with
   * reason `handed_over`, awaited like any `leader.lost`), then writes a Lease naming `identity`.
   * A watching `identity` takes it at once with one write, a polling one at its next poll; the
   * other replicas wait one lease duration, so a dead or wrong target costs at most that. Resolves
   * once the handover write is done (a failed write is logged; the lease then expires). Rejects
   * with a ConfigError (`OPTION_INVALID`, field `to`) for an empty identity or this replica's own.
   * A no-op when not leading, and when election is disabled.
   */
  handoverTo(identity: string): Promise<void> {
    return this.engine.resign({ to: identity });
  }

  /** The elector's callbacks, publishing events around the user's (see the file comment for the order). */
  private wrapCallbacks(user: LeaderCallbacks): LeaderCallbacks {
    return {
      onStartedLeading: (signal, term) => {
        try {
          return user.onStartedLeading?.(signal, term);
        } finally {
          // Also when the callback threw: the term has begun either way. The elector logs the
          // throw and, with onStartedLeadingFailure 'resign' (the default), then ends the term
          // (leader.lost, reason work_failed), so the announcements stay bracketed.
          this.publish(LEADER_ELECTION_EVENTS.became, { identity: term.identity, token: term.token });
        }
      },
      onStoppedLeading: (info) => this.stoppedLeading(user, info),
      onNewLeader: (identity) => {
        this.metrics.leaderObserved();
        this.publish(LEADER_ELECTION_EVENTS.observed, { newLeaderIdentity: identity, isSelf: identity === this.identity });
        return user.onNewLeader?.(identity);
      },
    };
  }

  /**
   * Publishes `leader.lost`, then calls the user's onStoppedLeading. Returns a promise (never
   * rejecting) when any of them is async: the elector awaits it, bounded, before releasing.
   */
  private stoppedLeading(user: LeaderCallbacks, info: StoppedLeadingInfo): Promise<void> | undefined {
    const { reason, term } = info;
    const pending = this.publish(LEADER_ELECTION_EVENTS.lost, { identity: term.identity, reason, token: term.token });
    try {
      const result = user.onStoppedLeading?.(info);
      if (isPromiseLike(result)) pending.push(Promise.resolve(result).then(() => undefined, (err: unknown) => this.callbackFailed('onStoppedLeading', err)));
    } catch (err) {
      this.callbackFailed('onStoppedLeading', err);
    }
    return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
  }

  /** Publishes one event to every listener, each isolated; returns the promises listeners returned. */
  private publish<K extends LeaderElectionEventName>(event: K, fields: EventFields<K>): Promise<void>[] {
    const payload = Object.freeze({ timestamp: new Date(this.clock.wallNow()), ...fields });
    return deliver(this.bus, event, payload, (err) => this.log.error(`A "${event}" listener failed`, { error: describeError(err) }));
  }

  private callbackFailed(name: string, err: unknown): void {
    this.log.error(`${name} callback failed`, { error: describeError(err) });
  }
}

/**
 * Our metrics hooks first, then the user's `config.observer`. Ours run in a try/finally so a
 * bug there cannot starve the user's; whatever throws reaches the elector, which logs it.
 */
function chainObservers(ours: () => ElectorObserver, user: ElectorObserver | undefined): ElectorObserver {
  return {
    onRequest: (info) => {
      try {
        ours().onRequest?.(info);
      } finally {
        user?.onRequest?.(info);
      }
    },
    onSlowPath: () => {
      try {
        ours().onSlowPath?.();
      } finally {
        user?.onSlowPath?.();
      }
    },
    onRenewed: (info) => {
      try {
        ours().onRenewed?.(info);
      } finally {
        user?.onRenewed?.(info);
      }
    },
    onAcquired: (info) => {
      try {
        ours().onAcquired?.(info);
      } finally {
        user?.onAcquired?.(info);
      }
    },
    onLeadershipEnded: (info) => {
      try {
        ours().onLeadershipEnded?.(info);
      } finally {
        user?.onLeadershipEnded?.(info);
      }
    },
  };
}

/**
 * The user's field for each Membership field the component fills from the elector's config: an
 * error there names what the user set (e.g. `leaseName` too long for member names), not
 * `membership.leaseName`.
 */
const MEMBERSHIP_FIELDS_FROM_ELECTOR: Readonly<Record<string, string>> = {
  identity: 'identity',
  leaseName: 'leaseName',
  leaseNamespace: 'leaseNamespace',
  retryPeriodMs: 'retryPeriodMs',
  requestTimeoutMs: 'renewDeadlineMs',
  client: 'client',
};

/**
 * The membership for `handoverOnShutdown`: the elector's identity, Lease and clock; its retry
 * period; its renew deadline as the request bound. Its ConfigErrors name the field the user set:
 * `membership.<field>` for the membership options, the elector's field for what comes from it
 * (`leaseName`, ...), `client` for a client without list and delete.
 */
function membershipFor(elector: Elector, options: MembershipOptions, client: unknown, logger: Logger | undefined): Membership {
  const { identity, leaseName, leaseNamespace, clock, retryPeriodMs, renewDeadlineMs } = elector.config;
  try {
    const { durationMs, renewIntervalMs, labels } = options;
    const timings = { ...(durationMs !== undefined ? { durationMs } : {}), ...(renewIntervalMs !== undefined ? { renewIntervalMs } : {}) };
    return new Membership({ identity, leaseName, leaseNamespace, clock, retryPeriodMs, requestTimeoutMs: renewDeadlineMs, ...timings, ...(labels !== undefined ? { labels } : {}) }, client, logger);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const field = Object.hasOwn(MEMBERSHIP_FIELDS_FROM_ELECTOR, err.field) ? MEMBERSHIP_FIELDS_FROM_ELECTOR[err.field]! : `membership.${err.field}`;
    const wrapped = new ConfigError(err.code, field, `handoverOnShutdown: ${err.message}`);
    Object.defineProperty(wrapped, 'cause', { value: err, enumerable: false, writable: true, configurable: true });
    throw wrapped;
  }
}

/** The elector's ConfigErrors, with code and field kept and the message saying where they came from. */
function wrapElectorError(err: unknown): unknown {
  if (!(err instanceof ConfigError)) return err;
  const wrapped = new ConfigError(err.code, err.field, `failed to create leader elector: ${err.message}`);
  // ConfigError's constructor takes no options, so the cause is attached afterwards.
  Object.defineProperty(wrapped, 'cause', { value: err, enumerable: false, writable: true, configurable: true });
  return wrapped;
}
