/**
 * Elector configuration: the options, their defaults, and the one place they are validated.
 */
import { systemClock, type Clock } from './clock.js';
import { ConfigError } from './errors.js';
import { resolveLabels, type LeaseLabels } from './labels.js';
import { MAX_INT32 } from './record.js';
import { systemRandom, type Random } from './random.js';
import type { ElectorObserver } from './observer.js';

/** How a follower learns that the lease changed. */
export type FollowerStrategy = 'watch' | 'poll';

/** What the elector does when the leader's own work (`onStartedLeading`) fails. */
export type StartedLeadingFailurePolicy = 'resign' | 'keep';

export interface ElectorConfig {
  /** This replica's unique identity, written as the Lease holder. Usually the pod name ({@link identityFromEnv}). */
  readonly identity: string;
  /** Name of the Lease object (a DNS subdomain). */
  readonly leaseName: string;
  /** Namespace of the Lease (a DNS label). Usually {@link namespaceFromEnv}. */
  readonly leaseNamespace: string;
  /**
   * How long followers wait, after last seeing the lease change, before taking it over. Written
   * into the Lease as whole seconds (rounded up). At least 1000.
   * @default 15000
   */
  readonly leaseDurationMs?: number;
  /**
   * How long the leader keeps retrying a failed renewal before it steps down. Must be less than
   * leaseDurationMs, so the leader gives up before anyone else may take over.
   * @default 10000
   */
  readonly renewDeadlineMs?: number;
  /**
   * Interval between renewals, and base of the jittered interval, [R, 2.2R), between acquire tries.
   * @default 2000
   */
  readonly retryPeriodMs?: number;
  /**
   * On abort of `run()`'s signal, give the lease up (empty holder) so another replica takes over
   * at once instead of after the lease duration.
   * @default true
   */
  readonly releaseOnCancel?: boolean;
  /**
   * Label used in metrics and health checks, for telling several leases apart.
   * @default the lease name
   */
  readonly name?: string;
  /**
   * Stop contending after the first leadership term ends (client-go's one-shot `Run`). By default a
   * replica that loses leadership goes back to being a candidate.
   * @default false
   */
  readonly once?: boolean;
  /**
   * Record Kubernetes Events on the Lease ("<id> became leader", "<id> stopped leading") like client-go.
   * Needs `create` on `events` in the namespace; failures are logged and never fatal.
   * @default false
   */
  readonly recordEvents?: boolean;
  /**
   * How long to wait for `onStoppedLeading` to settle before releasing. If it has not settled by
   * then, the lease is not released (it expires instead), since work may still be running.
   * @default leaseDurationMs
   */
  readonly onStoppedLeadingTimeoutMs?: number;
  /**
   * The largest rate at which this machine's clock may run slow, or a follower's fast, relative to
   * real time (0.01 = 1%). Leadership is only trusted until
   * `renewSentAt + leaseDurationMs * (1 - 2r) / (1 + r)`, leaving a margin for that drift.
   * @default 0.01
   */
  readonly maxClockDriftRate?: number;
  /**
   * `'watch'`: followers watch the Lease and act on changes at once, with a slow safety poll.
   * `'poll'`: followers GET the Lease every [R, 2.2R) like client-go.
   * Falls back to polling when the client has no `watch`.
   * @default 'watch'
   */
  readonly followerStrategy?: FollowerStrategy;
  /**
   * The longest `leaseDurationMs` any replica sharing this Lease may use, client-go replicas
   * included. A replica that creates a missing Lease (never seen, or deleted) writes a claim and
   * leads only after the claim has stood unchanged this long (or longer, if the last record it saw
   * had a longer duration), so a holder it never saw, whose lease may still run, has stepped down
   * first. During a rollout that changes leaseDurationMs, set it to the larger of the old and new
   * durations on every replica. At least `leaseDurationMs`.
   * @default max(leaseDurationMs, 15000)
   */
  readonly maxPeerLeaseDurationMs?: number;
  /**
   * What to do when `onStartedLeading` throws or its promise rejects while the term is live:
   * `'resign'` ends the term (reason `work_failed`), releases the lease and stays out of the
   * election for 3.2 retry periods (longer than a polling follower's longest wait) so another replica can take over; `'keep'` only logs the
   * error and keeps leading (the behaviour before 0.2).
   * @default 'resign'
   */
  readonly onStartedLeadingFailure?: StartedLeadingFailurePolicy;
  /**
   * Whether client-go replicas may follow this Lease. A client-go follower notices a renewal only
   * when the record's JSON, whose times have whole seconds, changes; so when true, a renewal
   * extends the guarantee only from the first write of its whole-second record. That needs
   * `leaseDurationMs * (1 - 2r) / (1 + r) > 1000 + retryPeriodMs` (validated). Set false in a
   * leasekit-only fleet to use leases of about a second.
   * @default true
   */
  readonly clientGoFollowers?: boolean;
  /**
   * Labels written on every Lease this elector creates (a follower's claim, a leader recreating
   * its deleted Lease), so tools can find them (`kubectl get leases -l app=x`); client-go's
   * `NewWithLabels`. Keys and values follow the Kubernetes label rules (`LABELS_INVALID`). An
   * existing Lease is never relabelled.
   * @default {}
   */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Coordinated leader election (Kubernetes 1.33+, KEP-4355, client-go's `Coordinated`): the
   * elector keeps a `coordination.k8s.io/v1beta1` LeaseCandidate named after its identity, and
   * an election coordinator in the API server picks the holder. The elector never creates or takes
   * the Lease: it leads only once a record naming it, written by the coordinator, took its own
   * renewal, and it steps down when the record's `preferredHolder` names another candidate. Needs
   * a client with the candidate methods and `binaryVersion`. See docs/coordinated.md.
   * @default false
   */
  readonly coordinated?: boolean;
  /** Coordinated mode: this binary's version, semver without a leading `v` (`1.33.0`). Required when `coordinated`. */
  readonly binaryVersion?: string;
  /**
   * Coordinated mode: the version this binary emulates (semver, at most `binaryVersion`); the
   * `OldestEmulationVersion` strategy prefers the candidate with the oldest.
   * @default binaryVersion
   */
  readonly emulationVersion?: string;
  /**
   * Coordinated mode: the strategy the coordinator should use for this Lease:
   * `'OldestEmulationVersion'` or a custom strategy with a domain prefix (`example.com/x`).
   * @default 'OldestEmulationVersion'
   */
  readonly strategy?: string;
  /** Time source (tests inject a fake clock). @default the system clock */
  readonly clock?: Clock;
  /** Randomness for jitter (tests inject a seeded source). @default Math.random */
  readonly random?: Random;
  /** Receives request timings, slow-path renewals and other diagnostics (the adapter's metrics). */
  readonly observer?: ElectorObserver;
}

/** A validated config with every default applied. */
export interface ResolvedConfig {
  readonly identity: string;
  readonly leaseName: string;
  readonly leaseNamespace: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly releaseOnCancel: boolean;
  readonly name: string;
  readonly once: boolean;
  readonly recordEvents: boolean;
  readonly onStoppedLeadingTimeoutMs: number;
  readonly maxClockDriftRate: number;
  readonly followerStrategy: FollowerStrategy;
  readonly maxPeerLeaseDurationMs: number;
  readonly onStartedLeadingFailure: StartedLeadingFailurePolicy;
  readonly clientGoFollowers: boolean;
  /** Frozen; {} when none. */
  readonly labels: LeaseLabels;
  /** Coordinated leader election: the candidate's settings, or undefined when not coordinated. */
  readonly coordinated: CandidateSettings | undefined;
  readonly clock: Clock;
  readonly random: Random;
  readonly observer: ElectorObserver | undefined;
  /** `leaseDurationMs` as written in the Lease: whole seconds, rounded up. */
  readonly leaseDurationSeconds: number;
}

/** What the LeaseCandidate of a coordinated elector says about it. */
export interface CandidateSettings {
  /** The LeaseCandidate's name: the identity (the coordinator writes it as the Lease's holder). */
  readonly name: string;
  readonly binaryVersion: string;
  /** The configured emulation version, or the binary version when none was given. */
  readonly emulationVersion: string;
  readonly strategy: string;
}

/** The strategy the Kubernetes coordinator implements (and the default). */
export const OLDEST_EMULATION_VERSION = 'OldestEmulationVersion';

export const DEFAULT_LEASE_DURATION_MS = 15_000;
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
export const DEFAULT_RETRY_PERIOD_MS = 2_000;
export const DEFAULT_MAX_CLOCK_DRIFT_RATE = 0.01;
/** client-go's JitterFactor: acquire retries wait in [R, (1 + 1.2) R). */
export const JITTER_FACTOR = 1.2;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** True for a Kubernetes DNS label (RFC 1123): at most 63 lowercase alphanumerics or '-'. */
export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS_LABEL.test(value);
}

/** True for a Kubernetes DNS subdomain: dot-separated DNS labels, at most 253 characters. */
export function isDnsSubdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && value.split('.').every((part) => DNS_LABEL.test(part));
}

/**
 * Applies defaults and validates, in a fixed order (the first failure wins), returning a frozen
 * config. Throws {@link ConfigError} naming the field, the rule and the value. With
 * `checks.client` given, a missing client is reported right after the three identity checks.
 */
export function resolveConfig(config: ElectorConfig | null | undefined, checks: { client?: unknown } = {}): ResolvedConfig {
  if (config == null || typeof config !== 'object') {
    throw new ConfigError('CONFIG_MISSING', 'config', 'config cannot be nil: pass an ElectorConfig object');
  }
  const identity = requireString(config.identity, 'identity', 'IDENTITY_EMPTY', 'identity cannot be empty');
  const leaseName = requireString(config.leaseName, 'leaseName', 'LEASE_NAME_EMPTY', 'lease name cannot be empty');
  const leaseNamespace = requireString(
    config.leaseNamespace,
    'leaseNamespace',
    'LEASE_NAMESPACE_EMPTY',
    'lease namespace cannot be empty',
  );
  // The seed's order: identity, lease name, lease namespace, then the client.
  if ('client' in checks && checks.client == null) {
    throw new ConfigError('CLIENT_MISSING', 'client', 'clientset cannot be nil: pass a KubeConfig or a LeaseClient');
  }
  if (!isDnsSubdomain(leaseName)) {
    throw new ConfigError(
      'LEASE_NAME_INVALID',
      'leaseName',
      `leaseName (${JSON.stringify(leaseName)}) must be a DNS subdomain: lowercase alphanumerics, '-' and '.', starting and ending alphanumeric, at most 253 characters`,
    );
  }
  if (!isDnsLabel(leaseNamespace)) {
    throw new ConfigError(
      'LEASE_NAMESPACE_INVALID',
      'leaseNamespace',
      `leaseNamespace (${JSON.stringify(leaseNamespace)}) must be a DNS label: lowercase alphanumerics and '-', starting and ending alphanumeric, at most 63 characters`,
    );
  }

  const leaseDurationMs = duration(config.leaseDurationMs, 'leaseDurationMs', DEFAULT_LEASE_DURATION_MS);
  const renewDeadlineMs = duration(config.renewDeadlineMs, 'renewDeadlineMs', DEFAULT_RENEW_DEADLINE_MS);
  const retryPeriodMs = duration(config.retryPeriodMs, 'retryPeriodMs', DEFAULT_RETRY_PERIOD_MS);
  const onStoppedLeadingTimeoutMs = duration(config.onStoppedLeadingTimeoutMs, 'onStoppedLeadingTimeoutMs', leaseDurationMs);

  if (!(leaseDurationMs > renewDeadlineMs)) {
    throw new ConfigError(
      'LEASE_DURATION_NOT_GREATER_THAN_RENEW_DEADLINE',
      'leaseDurationMs',
      `leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs})`,
    );
  }
  if (!(renewDeadlineMs > JITTER_FACTOR * retryPeriodMs)) {
    throw new ConfigError(
      'RENEW_DEADLINE_TOO_SHORT',
      'renewDeadlineMs',
      `renewDeadlineMs (${renewDeadlineMs}) must be greater than ${JITTER_FACTOR} x retryPeriodMs (${round(JITTER_FACTOR * retryPeriodMs)})`,
    );
  }
  if (!(retryPeriodMs > 0)) {
    throw new ConfigError('RETRY_PERIOD_NOT_POSITIVE', 'retryPeriodMs', `retryPeriodMs (${retryPeriodMs}) must be greater than 0`);
  }
  if (leaseDurationMs < 1000) {
    throw new ConfigError(
      'LEASE_DURATION_TOO_SHORT',
      'leaseDurationMs',
      `leaseDurationMs (${leaseDurationMs}) must be at least 1000: the Lease stores whole seconds and the API rejects 0`,
    );
  }
  if (leaseDurationMs > MAX_INT32 * 1000) {
    throw new ConfigError(
      'OPTION_INVALID',
      'leaseDurationMs',
      `leaseDurationMs (${leaseDurationMs}) must be at most ${MAX_INT32 * 1000}: leaseDurationSeconds is an int32`,
    );
  }
  if (!(onStoppedLeadingTimeoutMs >= 0)) {
    throw new ConfigError(
      'OPTION_INVALID',
      'onStoppedLeadingTimeoutMs',
      `onStoppedLeadingTimeoutMs (${onStoppedLeadingTimeoutMs}) must not be negative`,
    );
  }

  const maxClockDriftRate = config.maxClockDriftRate ?? DEFAULT_MAX_CLOCK_DRIFT_RATE;
  if (typeof maxClockDriftRate !== 'number' || !(maxClockDriftRate >= 0 && maxClockDriftRate < 0.25)) {
    throw new ConfigError(
      'OPTION_INVALID',
      'maxClockDriftRate',
      `maxClockDriftRate (${String(maxClockDriftRate)}) must be a number in [0, 0.25)`,
    );
  }
  const followerStrategy = config.followerStrategy ?? 'watch';
  if (followerStrategy !== 'watch' && followerStrategy !== 'poll') {
    throw new ConfigError(
      'OPTION_INVALID',
      'followerStrategy',
      `followerStrategy (${JSON.stringify(followerStrategy)}) must be 'watch' or 'poll'`,
    );
  }
  const maxPeerLeaseDurationMs = duration(
    config.maxPeerLeaseDurationMs,
    'maxPeerLeaseDurationMs',
    Math.max(leaseDurationMs, DEFAULT_LEASE_DURATION_MS),
  );
  if (!(maxPeerLeaseDurationMs >= leaseDurationMs) || maxPeerLeaseDurationMs > MAX_INT32 * 1000) {
    throw new ConfigError(
      'OPTION_INVALID',
      'maxPeerLeaseDurationMs',
      `maxPeerLeaseDurationMs (${maxPeerLeaseDurationMs}) must be at least leaseDurationMs (${leaseDurationMs}) and at most ${MAX_INT32 * 1000}`,
    );
  }
  const clientGoFollowers = flag(config.clientGoFollowers, 'clientGoFollowers', true);
  const guaranteedMs = (leaseDurationMs * (1 - 2 * maxClockDriftRate)) / (1 + maxClockDriftRate);
  if (clientGoFollowers && !(guaranteedMs > 1000 + retryPeriodMs)) {
    throw new ConfigError(
      'LEASE_TOO_SHORT_FOR_CLIENT_GO',
      'leaseDurationMs',
      `leaseDurationMs (${leaseDurationMs}) is too short for client-go followers: its guarantee (${round(guaranteedMs)} ms after drift margin) must exceed 1000 ms + retryPeriodMs (${retryPeriodMs}), because a client-go follower sees at most one renewal per wall-clock second; lengthen the lease, shorten retryPeriodMs, or set clientGoFollowers: false if no client-go replica shares this Lease`,
    );
  }
  const onStartedLeadingFailure = config.onStartedLeadingFailure ?? 'resign';
  if (onStartedLeadingFailure !== 'resign' && onStartedLeadingFailure !== 'keep') {
    throw new ConfigError(
      'OPTION_INVALID',
      'onStartedLeadingFailure',
      `onStartedLeadingFailure (${JSON.stringify(onStartedLeadingFailure)}) must be 'resign' or 'keep'`,
    );
  }
  const labels = resolveLabels(config.labels);
  const coordinated = flag(config.coordinated, 'coordinated', false) ? resolveCandidate(config) : undefined;
  const name = config.name === undefined ? leaseName : requireString(config.name, 'name', 'OPTION_INVALID', 'name cannot be empty');
  const clock = config.clock ?? systemClock;
  if (typeof clock.now !== 'function' || typeof clock.setTimeout !== 'function' || typeof clock.clearTimeout !== 'function' || typeof clock.wallNow !== 'function') {
    throw new ConfigError('OPTION_INVALID', 'clock', 'clock must implement now(), wallNow(), setTimeout() and clearTimeout()');
  }
  const random = config.random ?? systemRandom;
  if (typeof random !== 'function') {
    throw new ConfigError('OPTION_INVALID', 'random', 'random must be a function returning a number in [0, 1)');
  }

  return Object.freeze({
    identity,
    leaseName,
    leaseNamespace,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    releaseOnCancel: flag(config.releaseOnCancel, 'releaseOnCancel', true),
    name,
    once: flag(config.once, 'once', false),
    recordEvents: flag(config.recordEvents, 'recordEvents', false),
    onStoppedLeadingTimeoutMs,
    maxClockDriftRate,
    followerStrategy,
    maxPeerLeaseDurationMs,
    onStartedLeadingFailure,
    clientGoFollowers,
    labels,
    coordinated,
    clock,
    random,
    observer: config.observer,
    leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
  });
}

// Semver 2.0 without a leading 'v', as the API validates LeaseCandidate versions.
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
// A custom strategy: a qualified name with a DNS-subdomain prefix (`example.com/name`).
/** A LeaseCandidate name, as the API server checks it (a ConfigMap key). */
const CANDIDATE_NAME = /^[-._a-zA-Z0-9]+$/;
const CUSTOM_STRATEGY = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

function resolveCandidate(config: ElectorConfig): CandidateSettings {
  const binaryVersion = semver(config.binaryVersion, 'binaryVersion', true)!;
  const emulationVersion = semver(config.emulationVersion, 'emulationVersion', false) ?? binaryVersion;
  if (compareCore(emulationVersion, binaryVersion) > 0) {
    throw new ConfigError('OPTION_INVALID', 'emulationVersion', `emulationVersion (${emulationVersion}) must not be newer than binaryVersion (${binaryVersion})`);
  }
  const strategy = config.strategy ?? OLDEST_EMULATION_VERSION;
  if (typeof strategy !== 'string') {
    throw new ConfigError('FIELD_TYPE', 'strategy', `strategy must be a string, got ${typeof strategy} (${safeString(strategy)})`);
  }
  if (strategy !== OLDEST_EMULATION_VERSION && !CUSTOM_STRATEGY.test(strategy)) {
    throw new ConfigError(
      'OPTION_INVALID',
      'strategy',
      `strategy (${JSON.stringify(strategy)}) must be '${OLDEST_EMULATION_VERSION}' or a custom strategy with a domain prefix (example.com/name)`,
    );
  }
  // The coordinator writes the candidate's name as the Lease's holderIdentity, so the candidate is
  // named after the identity (as kube-controller-manager and kube-scheduler do).
  const name = config.identity;
  if (typeof name !== 'string' || name.length > 253 || !CANDIDATE_NAME.test(name)) {
    throw new ConfigError(
      'OPTION_INVALID',
      'identity',
      `identity (${safeString(name)}) names the LeaseCandidate in coordinated mode and must be 1 to 253 letters, digits, '-', '.' or '_'`,
    );
  }
  return Object.freeze({ name, binaryVersion, emulationVersion, strategy });
}

function semver(value: unknown, field: string, required: boolean): string | undefined {
  if (value === undefined || value === null || value === '') {
    if (!required) return undefined;
    throw new ConfigError('OPTION_INVALID', field, `${field} is required when coordinated is true (semver, e.g. 1.33.0)`);
  }
  if (typeof value !== 'string') {
    throw new ConfigError('FIELD_TYPE', field, `${field} must be a string, got ${typeof value} (${safeString(value)})`);
  }
  if (!SEMVER.test(value)) {
    throw new ConfigError('OPTION_INVALID', field, `${field} (${JSON.stringify(value)}) must be a semantic version without a leading 'v' (e.g. 1.33.0)`);
  }
  return value;
}

/** Compares major.minor.patch (pre-release and build ignored). */
function compareCore(a: string, b: string): number {
  const core = (v: string): number[] => v.split(/[-+]/)[0]!.split('.').map(Number);
  const [x, y] = [core(a), core(b)];
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return 0;
}

function requireString(
  value: unknown,
  field: string,
  code: 'IDENTITY_EMPTY' | 'LEASE_NAME_EMPTY' | 'LEASE_NAMESPACE_EMPTY' | 'OPTION_INVALID',
  emptyMessage: string,
): string {
  if (value === undefined || value === null || value === '') {
    throw new ConfigError(code, field, `${emptyMessage} (${field} is ${value === '' ? 'an empty string' : String(value)})`);
  }
  if (typeof value !== 'string') {
    throw new ConfigError('FIELD_TYPE', field, `${field} must be a string, got ${typeof value} (${safeString(value)})`);
  }
  if (value.trim() === '') {
    throw new ConfigError(code, field, `${emptyMessage} (${field} is only whitespace)`);
  }
  return value;
}

function duration(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new ConfigError('FIELD_TYPE', field, `${field} must be a number of milliseconds, got ${typeof value} (${safeString(value)})`);
  }
  if (!Number.isFinite(value)) {
    throw new ConfigError('DURATION_NOT_FINITE', field, `${field} (${value}) must be a finite number of milliseconds`);
  }
  return value;
}

function flag(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new ConfigError('FIELD_TYPE', field, `${field} must be a boolean, got ${typeof value} (${safeString(value)})`);
  }
  return value;
}

function safeString(value: unknown): string {
  try {
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return text.length > 60 ? `${text.slice(0, 57)}...` : text;
  } catch {
    return '[unprintable]';
  }
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
