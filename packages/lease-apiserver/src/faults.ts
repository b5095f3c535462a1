/**
 * Fault injection, off until asked for. A {@link Faults} controller holds rules; the server asks
 * it, per request, what to do ({@link Faults.plan}), whether the client is cut off
 * ({@link Faults.partitionOf}), and how long a watch stream may live. Rules can be scoped to
 * verbs, resources and one client, fire with a probability drawn from an injectable random
 * source (so a run is reproducible from a seed), and retire after a number of hits.
 */
import { ConfigError, type Clock, type KubeStatus, type Random, type TimerHandle } from '@leasekit/k8s-leaderelection';
import { makeStatus, systemClock, systemRandom } from '@leasekit/k8s-leaderelection/internal';
import { describeMatcher, matchesClient, type ClientInfo, type ClientMatcher } from './client-matcher.js';
import { RESOURCES, VERBS, WRITE_VERBS, type ResourceName, type Verb } from './verbs.js';

/** Which requests a rule applies to, and how often. */
export interface FaultScope {
  /** Verbs the rule applies to. @default every verb (drop-response: the write verbs) */
  readonly verbs?: readonly Verb[];
  /** Resources the rule applies to (`leases`, `leasecandidates`, `events`). @default every resource */
  readonly resources?: readonly ResourceName[];
  /** Only requests from this client. @default every client */
  readonly client?: ClientMatcher;
  /** Probability in [0, 1] that the rule fires for a matching request. @default 1 */
  readonly rate?: number;
  /** Retire the rule after it fired this many times. @default unlimited */
  readonly times?: number;
}

/** A fixed duration, or one drawn uniformly from a range, in milliseconds. */
export type Duration = { readonly ms: number } | { readonly minMs: number; readonly maxMs: number };

/** Added latency before the request is served (several matching rules add up). */
export type LatencyFault = FaultScope & Duration;

/** An error answer instead of serving the request (nothing is written). */
export interface ErrorFault extends FaultScope {
  /** HTTP status code, 400-599: 429, 500, 503 and 504 are the realistic ones. */
  readonly code: number;
  /** Status reason. @default the API server's reason for the code (e.g. ServiceUnavailable) */
  readonly reason?: string;
  /** Status message. @default the API server's wording for the code */
  readonly message?: string;
  /** Sent as `Retry-After` and `details.retryAfterSeconds`. @default 1 for 429, else none */
  readonly retryAfterSeconds?: number;
}

/** A request that is never answered (until the client gives up or the server closes). */
export type HangFault = FaultScope;

/** How a response is lost: never sent (the client times out) or the connection is reset. */
export type LossMode = 'hang' | 'reset';

/** The write commits, then its response is lost: the client cannot know whether it happened. */
export interface DropResponseFault extends FaultScope {
  /** @default 'hang' */
  readonly mode?: LossMode;
}

/** One client cut off from the server for a while. */
export interface PartitionFault {
  /** The client to cut off (an empty matcher cuts off everyone). */
  readonly client: ClientMatcher;
  /** How long; the partition heals by itself afterwards. @default until removed */
  readonly durationMs?: number;
  /**
   * `'hang'`: like lost packets, requests wait until the partition heals (then are served, if
   * the client still waits) and open watch streams go quiet, delivering what they held back on
   * healing. `'reset'`: connections are reset at once, new ones as they arrive.
   * @default 'hang'
   */
  readonly mode?: LossMode;
}

/** How a watch stream is cut: a clean end of the response, or a reset connection. */
export type CutMode = 'end' | 'reset';

/** Which watch streams to cut. */
export interface WatchCutOptions {
  /** Only this client's streams. @default every stream */
  readonly client?: ClientMatcher;
  /** @default 'end' */
  readonly mode?: CutMode;
}

/** Every watch stream is cut this long after it opened. */
export type WatchLifetime = Duration & WatchCutOptions;

/** Removes one rule; idempotent. */
export interface FaultHandle {
  remove(): void;
}

/** A request as fault rules see it. */
export interface FaultRequest extends ClientInfo {
  readonly resource: ResourceName;
  readonly verb: Verb;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
}

/** What to do to one request, decided once when it arrives. */
export interface FaultPlan {
  /** Wait this long before serving. */
  readonly latencyMs: number;
  /** What replaces the normal answer, if anything. */
  readonly outcome?: { readonly kind: 'hang' } | { readonly kind: 'error'; readonly status: KubeStatus } | { readonly kind: 'drop'; readonly mode: LossMode };
}

/** An active partition as the server sees it. */
export interface ActivePartition {
  readonly client: ClientMatcher;
  readonly mode: LossMode;
}

/** What the server does when rules change (see {@link Faults.attach}). */
export interface FaultTarget {
  /** Cut matching watch streams now; returns how many were cut. */
  cutWatches(options: WatchCutOptions): number;
  /** A partition began: reset-mode partitions cut the client's connections. */
  partitioned(partition: ActivePartition): void;
  /** A partition ended: held requests and quiet streams resume. */
  healed(): void;
}

/** A readable description of one active rule (for the CLI and for debugging). */
export interface FaultDescription {
  readonly kind: 'latency' | 'error' | 'hang' | 'drop-response' | 'partition' | 'watch-lifetime';
  readonly description: string;
}

/** Options for {@link Faults}. */
export interface FaultsOptions {
  /** Decides whether rules with a rate below 1 fire. Pass `seededRandom(n)` for a reproducible run. @default Math.random */
  readonly random?: Random;
  /** Times partitions and draws nothing else. @default the system clock */
  readonly clock?: Clock;
}

interface Rule<T> {
  readonly fault: T;
  remaining: number;
}

const DEFAULT_MESSAGES: Record<number, [reason: string, message: string]> = {
  400: ['BadRequest', 'injected fault: bad request'],
  401: ['Unauthorized', 'Unauthorized'],
  403: ['Forbidden', 'forbidden: injected fault'],
  404: ['NotFound', 'the server could not find the requested resource'],
  409: ['Conflict', 'the object has been modified; please apply your changes to the latest version and try again'],
  410: ['Expired', 'the resource version is too old'],
  422: ['Invalid', 'injected fault: invalid'],
  429: ['TooManyRequests', 'Too many requests, please try again later.'],
  500: ['InternalError', 'Internal error occurred: injected fault'],
  503: ['ServiceUnavailable', 'the server is currently unable to handle the request'],
  504: ['Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request'],
};

/** The Status an error rule answers with, worded like the API server's for the request. */
function errorStatus(fault: ErrorFault, request: FaultRequest): KubeStatus {
  const [defaultReason, defaultMessage] = DEFAULT_MESSAGES[fault.code] ?? [fault.code >= 500 ? 'InternalError' : 'BadRequest', `injected fault: HTTP ${fault.code}`];
  const inGroup = request.resource !== 'events';
  const qualified = inGroup ? `${request.resource}.coordination.k8s.io` : 'events';
  let message = fault.message ?? defaultMessage;
  if (fault.message === undefined && request.name !== undefined) {
    if (fault.code === 409) message = `Operation cannot be fulfilled on ${qualified} "${request.name}": ${defaultMessage}`;
    if (fault.code === 404) message = `${qualified} "${request.name}" not found`;
  }
  const retryAfterSeconds = fault.retryAfterSeconds ?? (fault.code === 429 ? 1 : undefined);
  const details: KubeStatus['details'] = {
    ...(request.name !== undefined ? { name: request.name } : {}),
    ...(inGroup ? { group: 'coordination.k8s.io' } : {}),
    kind: request.resource,
    ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}),
  };
  return makeStatus(fault.code, fault.reason ?? defaultReason, message, details);
}

function checkScope(scope: FaultScope, field: string): void {
  const rate = scope.rate ?? 1;
  if (!(rate >= 0 && rate <= 1)) throw new ConfigError('OPTION_INVALID', `${field}.rate`, `${field}.rate (${rate}) must be between 0 and 1`);
  const times = scope.times;
  if (times !== undefined && !(Number.isInteger(times) && times > 0)) {
    throw new ConfigError('OPTION_INVALID', `${field}.times`, `${field}.times (${times}) must be a positive integer`);
  }
  for (const verb of scope.verbs ?? []) {
    if (!(VERBS as readonly string[]).includes(verb)) throw new ConfigError('OPTION_INVALID', `${field}.verbs`, `${field}.verbs: unknown verb ${JSON.stringify(verb)}`);
  }
  for (const resource of scope.resources ?? []) {
    if (!(RESOURCES as readonly string[]).includes(resource)) {
      throw new ConfigError('OPTION_INVALID', `${field}.resources`, `${field}.resources: unknown resource ${JSON.stringify(resource)}`);
    }
  }
}

function checkDuration(duration: Duration, field: string): void {
  const [min, max] = 'ms' in duration ? [duration.ms, duration.ms] : [duration.minMs, duration.maxMs];
  if (!(Number.isFinite(min) && Number.isFinite(max) && min >= 0 && max >= min)) {
    throw new ConfigError('OPTION_INVALID', field, `${field} must be a non-negative duration in ms (or a range with minMs <= maxMs), got ${JSON.stringify(duration)}`);
  }
}

function describeScope(scope: FaultScope, defaultVerbs = 'every verb'): string {
  const parts = [scope.verbs?.length ? scope.verbs.join(',') : defaultVerbs];
  if (scope.resources?.length) parts.push(`on ${scope.resources.join(',')}`);
  if (scope.client) parts.push(`from ${describeMatcher(scope.client)}`);
  if ((scope.rate ?? 1) < 1) parts.push(`rate ${scope.rate}`);
  if (scope.times !== undefined) parts.push(`${scope.times} times`);
  return parts.join(' ');
}

function describeDuration(duration: Duration): string {
  return 'ms' in duration ? `${duration.ms} ms` : `${duration.minMs}-${duration.maxMs} ms`;
}

/** The fault controller: `server.faults`. Every `add*` returns a handle that removes the rule. */
export class Faults {
  private readonly random: Random;
  private readonly clock: Clock;
  private readonly latencies = new Set<Rule<LatencyFault>>();
  private readonly errors = new Set<Rule<ErrorFault>>();
  private readonly hangs = new Set<Rule<HangFault>>();
  private readonly drops = new Set<Rule<DropResponseFault>>();
  private readonly partitions = new Map<ActivePartition, TimerHandle | undefined>();
  private lifetime: WatchLifetime | undefined;
  private readonly targets = new Set<FaultTarget>();

  constructor(options: FaultsOptions = {}) {
    this.random = options.random ?? systemRandom;
    this.clock = options.clock ?? systemClock;
  }

  /** Adds latency to matching requests (fixed `{ ms }` or uniform `{ minMs, maxMs }`). */
  addLatency(fault: LatencyFault): FaultHandle {
    checkScope(fault, 'latency');
    checkDuration(fault, 'latency');
    return this.add(this.latencies, fault);
  }

  /** Answers matching requests with an error Status instead of serving them. */
  addError(fault: ErrorFault): FaultHandle {
    checkScope(fault, 'error');
    if (!(Number.isInteger(fault.code) && fault.code >= 400 && fault.code <= 599)) {
      throw new ConfigError('OPTION_INVALID', 'error.code', `error.code (${fault.code}) must be an HTTP error status, 400-599`);
    }
    return this.add(this.errors, fault);
  }

  /** Never answers matching requests. */
  addHang(fault: HangFault = {}): FaultHandle {
    checkScope(fault, 'hang');
    return this.add(this.hangs, fault);
  }

  /** Serves matching requests (the write commits) and then loses the response. */
  addDropResponse(fault: DropResponseFault = {}): FaultHandle {
    checkScope(fault, 'dropResponse');
    return this.add(this.drops, { verbs: WRITE_VERBS, ...fault });
  }

  /** Cuts one client off, for `durationMs` or until the handle is removed. */
  partition(fault: PartitionFault): FaultHandle {
    if (fault.durationMs !== undefined && !(Number.isFinite(fault.durationMs) && fault.durationMs >= 0)) {
      throw new ConfigError('OPTION_INVALID', 'partition.durationMs', `partition.durationMs (${fault.durationMs}) must be a non-negative number`);
    }
    const partition: ActivePartition = { client: fault.client, mode: fault.mode ?? 'hang' };
    const timer = fault.durationMs === undefined ? undefined : this.clock.setTimeout(() => this.heal(partition), fault.durationMs);
    this.partitions.set(partition, timer);
    for (const target of this.targets) target.partitioned(partition);
    return { remove: () => this.heal(partition) };
  }

  /** Cuts open watch streams now (all, or one client's); returns how many were cut. */
  cutWatches(options: WatchCutOptions = {}): number {
    let cut = 0;
    for (const target of this.targets) cut += target.cutWatches(options);
    return cut;
  }

  /** Cuts every watch stream opened from now on after the given time; undefined turns it off. */
  setWatchLifetime(lifetime: WatchLifetime | undefined): void {
    if (lifetime !== undefined) checkDuration(lifetime, 'watchLifetime');
    this.lifetime = lifetime;
  }

  /** Removes every latency rule. */
  clearLatency(): void {
    this.latencies.clear();
  }

  /** Removes every error rule. */
  clearErrors(): void {
    this.errors.clear();
  }

  /** Removes every hang rule. */
  clearHangs(): void {
    this.hangs.clear();
  }

  /** Removes every drop-response rule. */
  clearDropResponses(): void {
    this.drops.clear();
  }

  /** Heals every partition. */
  clearPartitions(): void {
    for (const partition of [...this.partitions.keys()]) this.heal(partition);
  }

  /** Stops cutting new watch streams. */
  clearWatchLifetime(): void {
    this.lifetime = undefined;
  }

  /** Removes every rule and heals every partition. */
  clear(): void {
    this.clearLatency();
    this.clearErrors();
    this.clearHangs();
    this.clearDropResponses();
    this.clearPartitions();
    this.clearWatchLifetime();
  }

  /** The active rules, described. */
  describe(): FaultDescription[] {
    const out: FaultDescription[] = [];
    for (const { fault } of this.latencies) out.push({ kind: 'latency', description: `+${describeDuration(fault)} on ${describeScope(fault)}` });
    for (const { fault } of this.errors) out.push({ kind: 'error', description: `HTTP ${fault.code} on ${describeScope(fault)}` });
    for (const { fault } of this.hangs) out.push({ kind: 'hang', description: `no answer on ${describeScope(fault)}` });
    for (const { fault } of this.drops) {
      out.push({ kind: 'drop-response', description: `response lost (${fault.mode ?? 'hang'}) after ${describeScope(fault, 'every write')}` });
    }
    for (const partition of this.partitions.keys()) {
      out.push({ kind: 'partition', description: `${describeMatcher(partition.client)} cut off (${partition.mode})` });
    }
    if (this.lifetime) out.push({ kind: 'watch-lifetime', description: `watch streams cut after ${describeDuration(this.lifetime)} (${this.lifetime.mode ?? 'end'})` });
    return out;
  }

  // -- used by the server -----------------------------------------------------------------------

  /**
   * Decides what happens to one request. Latency rules add up; then the first hang, error or
   * drop-response rule that fires (in that order) decides the outcome.
   */
  plan(request: FaultRequest): FaultPlan {
    let latencyMs = 0;
    for (const rule of this.latencies) {
      if (this.fires(this.latencies, rule, request)) latencyMs += this.draw(rule.fault);
    }
    for (const rule of this.hangs) {
      if (this.fires(this.hangs, rule, request)) return { latencyMs, outcome: { kind: 'hang' } };
    }
    for (const rule of this.errors) {
      if (this.fires(this.errors, rule, request)) return { latencyMs, outcome: { kind: 'error', status: errorStatus(rule.fault, request) } };
    }
    for (const rule of this.drops) {
      if (this.fires(this.drops, rule, request)) return { latencyMs, outcome: { kind: 'drop', mode: rule.fault.mode ?? 'hang' } };
    }
    return { latencyMs };
  }

  /** The partition that cuts this client off, if any. */
  partitionOf(client: ClientInfo): ActivePartition | undefined {
    for (const partition of this.partitions.keys()) if (matchesClient(partition.client, client)) return partition;
    return undefined;
  }

  /** How long a watch stream of this client may live, when a lifetime is set. */
  watchLifetimeFor(client: ClientInfo): { ms: number; mode: CutMode } | undefined {
    const lifetime = this.lifetime;
    if (!lifetime || (lifetime.client && !matchesClient(lifetime.client, client))) return undefined;
    return { ms: this.draw(lifetime), mode: lifetime.mode ?? 'end' };
  }

  /** Connects a server; returns the function that disconnects it. */
  attach(target: FaultTarget): () => void {
    this.targets.add(target);
    return () => this.targets.delete(target);
  }

  /** Heals every partition and clears its timers (the server calls this on close). */
  dispose(): void {
    this.clearPartitions();
  }

  private add<T extends FaultScope>(rules: Set<Rule<T>>, fault: T): FaultHandle {
    const rule: Rule<T> = { fault, remaining: fault.times ?? Infinity };
    rules.add(rule);
    return { remove: () => rules.delete(rule) };
  }

  /** Scope first, then the rate draw (only for matching requests, so seeded runs repeat exactly). */
  private fires<T extends FaultScope>(rules: Set<Rule<T>>, rule: Rule<T>, request: FaultRequest): boolean {
    const { fault } = rule;
    if (fault.verbs && !fault.verbs.includes(request.verb)) return false;
    if (fault.resources && !fault.resources.includes(request.resource)) return false;
    if (fault.client && !matchesClient(fault.client, request)) return false;
    const rate = fault.rate ?? 1;
    if (rate < 1 && !(this.random() < rate)) return false;
    if (--rule.remaining <= 0) rules.delete(rule);
    return true;
  }

  private draw(duration: Duration): number {
    return 'ms' in duration ? duration.ms : duration.minMs + this.random() * (duration.maxMs - duration.minMs);
  }

  private heal(partition: ActivePartition): void {
    if (!this.partitions.has(partition)) return;
    const timer = this.partitions.get(partition);
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.partitions.delete(partition);
    for (const target of this.targets) target.healed();
  }
}
