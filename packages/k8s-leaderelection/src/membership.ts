/**
 * Owns group membership: one slowly renewed Lease per replica (`<leaseName>-member-<hash>`),
 * labelled with the election it belongs to, left on shutdown; and the one-list query of the live
 * members (`members()`, `newest()`). A liveness hint for choosing a handover target or counting
 * replicas, never an input to the election's safety.
 */
import { createHash } from 'node:crypto';
import { sleep, systemClock, type Clock } from './clock.js';
import { leaseClientFor } from './client-factory.js';
import { isDnsLabel, isDnsSubdomain } from './config.js';
import { ConfigError, describeError, isAlreadyExists, isApiError, isConflict, isNotFound, LeaseKitError } from './errors.js';
import { resolveLabels, type LeaseLabels } from './labels.js';
import type { Lease, LeaseClient } from './lease.js';
import { toSafeLogger, type Logger, type SafeLogger } from './logger.js';
import { MAX_INT32, formatMicroTime, nextRenewTimeMs, parseMicroTime } from './record.js';
import { boundedSignal, raceAbort } from './request.js';
import { MAX_RETRY_AFTER_MS } from './schedule.js';

/** The label (and annotation) naming the election Lease a membership Lease belongs to. */
export const MEMBER_OF_LABEL = 'leasekit.io/member-of';
export const DEFAULT_MEMBERSHIP_DURATION_MS = 60_000;
export const DEFAULT_MEMBERSHIP_RENEW_INTERVAL_MS = 20_000;
/** The longest election Lease name a membership supports (253 minus `-member-` and 10 hex digits). */
export const MAX_MEMBERSHIP_LEASE_NAME_LENGTH = 253 - '-member-'.length - 10;
const MAX_LABEL_VALUE_LENGTH = 63;

export interface MembershipConfig {
  /** This replica's identity (as the elector's; written as `spec.holderIdentity`). */
  readonly identity: string;
  /** The election Lease's name: members are labelled with it. At most 235 characters. */
  readonly leaseName: string;
  /** The election's namespace; the membership Leases live there too. */
  readonly leaseNamespace: string;
  /** How long a membership stays live without a refresh (`leaseDurationSeconds`, rounded up; 1000 to 2147483647000). @default 60000 */
  readonly durationMs?: number;
  /** How often this replica refreshes its membership; less than `durationMs`. @default 20000 */
  readonly renewIntervalMs?: number;
  /** The first wait after a failed request; doubles per failure up to `renewIntervalMs`, never before a Retry-After (capped at 60 s). @default 2000 */
  readonly retryPeriodMs?: number;
  /** Upper bound on every request, the list and the delete on leaving included. @default 10000 */
  readonly requestTimeoutMs?: number;
  /** Extra labels on this replica's membership Lease (`leasekit.io/member-of` is always ours). */
  readonly labels?: Readonly<Record<string, string>>;
  /** Time source (tests inject a FakeClock). @default the system clock */
  readonly clock?: Clock;
}

/** A live member, as read from its membership Lease. Times are epoch milliseconds (wall clock). */
export interface MemberInfo {
  readonly identity: string;
  /** When the member joined (`spec.acquireTime`). */
  readonly joinedAtMs: number;
  /** When the member last refreshed its membership (`spec.renewTime`). */
  readonly renewedAtMs: number;
}

/** The validated settings. */
interface Settings {
  readonly identity: string;
  readonly leaseName: string;
  readonly namespace: string;
  readonly durationMs: number;
  readonly durationSeconds: number;
  readonly renewIntervalMs: number;
  readonly retryPeriodMs: number;
  readonly requestTimeoutMs: number;
  readonly labels: LeaseLabels;
  readonly clock: Clock;
}

function hex(text: string, digits: number): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, digits);
}

/** The membership Lease name of `identity` in the election `leaseName`. */
export function membershipLeaseName(leaseName: string, identity: string): string {
  return `${leaseName}-member-${hex(identity, 10)}`;
}

/**
 * The `leasekit.io/member-of` label value for `leaseName`: the name itself when it is a valid
 * label value (at most 63 characters), else `sha256-` and the first 48 hex digits of its SHA-256.
 */
export function memberOfLabelValue(leaseName: string): string {
  return leaseName.length <= MAX_LABEL_VALUE_LENGTH ? leaseName : `sha256-${hex(leaseName, 48)}`;
}

/**
 * Membership of an election's replica set. `run(signal)` joins (creates this replica's membership
 * Lease, or takes over its own stale one after a restart), refreshes it every `renewIntervalMs`
 * and, when `signal` aborts, deletes it (uid precondition, bounded; read by name first when a lost
 * answer left it unknown, and deleted only if ours) and resolves. API failures are
 * logged and retried, never thrown out of `run()`. `members()` and `newest()` read the set with one
 * list. Liveness is judged by the local wall clock against the members' own renewTimes: a hint,
 * never a safety input.
 */
export class Membership {
  /** This replica's membership Lease name. */
  readonly memberName: string;
  private readonly settings: Settings;
  private readonly client: LeaseClient & Required<Pick<LeaseClient, 'list' | 'delete'>>;
  private readonly log: SafeLogger;
  /** The client was built here (from a KubeConfig), so run() closes its pooled connections when it ends. */
  private readonly ownsClient: boolean;
  /** Our last written object (its uid and resourceVersion), undefined until joined. */
  private current: Lease | undefined;
  /**
   * A write of this run may have left an object we do not know (a lost answer, a conflict with our
   * own committed write): leaving then reads the object by name before deleting it.
   */
  private unknownWrite = false;
  /** The wall time of this run's first join; kept across re-creations within the run. */
  private joinedAtWallMs: number | undefined;
  private running = false;

  /**
   * @param client a client-node `KubeConfig` or a LeaseClient with `list` and `delete`.
   * @throws ConfigError naming the field: identity, leaseName, leaseNamespace, durations, labels, client.
   */
  constructor(config: MembershipConfig, client: unknown, logger?: Logger) {
    this.settings = resolveMembershipConfig(config);
    const resolved = leaseClientFor(client, this.settings.requestTimeoutMs);
    if (typeof resolved.list !== 'function' || typeof resolved.delete !== 'function') {
      throw new ConfigError('CLIENT_INVALID', 'client', 'membership needs a LeaseClient with list and delete methods (KubeConfig clients have them)');
    }
    this.client = resolved as LeaseClient & Required<Pick<LeaseClient, 'list' | 'delete'>>;
    this.ownsClient = resolved !== client;
    this.memberName = membershipLeaseName(this.settings.leaseName, this.settings.identity);
    this.log = toSafeLogger(logger, { identity: this.settings.identity, membership: `${this.settings.namespace}/${this.memberName}` });
  }

  /** The label selector that matches this election's membership Leases. */
  get labelSelector(): string {
    return `${MEMBER_OF_LABEL}=${memberOfLabelValue(this.settings.leaseName)}`;
  }

  /**
   * Joins, refreshes until `signal` aborts, then leaves. Resolves once left (or the bounded delete
   * failed, which is logged: the Lease then expires after `durationMs`). Never rejects because of
   * API failures; rejects only if already running.
   */
  async run(signal?: AbortSignal): Promise<void> {
    if (this.running) throw new LeaseKitError('ALREADY_RUNNING', `membership ${this.memberName} is already running`);
    this.running = true;
    this.current = undefined;
    this.unknownWrite = false;
    this.joinedAtWallMs = undefined;
    const { clock, renewIntervalMs, retryPeriodMs } = this.settings;
    let failures = 0;
    let retryAfterMs = 0;
    try {
      while (!signal?.aborted) {
        try {
          await this.refresh();
          failures = 0;
        } catch (err) {
          failures++;
          retryAfterMs = retryAfterOf(err);
          // A refresh in flight when the stop came is waited for (a late create must not revive the
          // Lease after the delete); if it failed, nothing is retried: the replica leaves next.
          const next = signal?.aborted ? 'leaving' : 'retrying';
          this.log.warn(`Membership refresh failed; ${next}`, { error: describeError(err), failures, ...(retryAfterMs > 0 ? { retryAfterMs } : {}) });
        }
        if (signal?.aborted) break;
        // After a failure: the retry period, doubling per failure up to the renew interval (never less than the retry period),
        // and never before the server's Retry-After (capped as the elector caps it).
        const backoffMs = Math.max(retryPeriodMs, Math.min(renewIntervalMs, retryPeriodMs * 2 ** Math.min(failures - 1, 30)));
        const waitMs = failures === 0 ? renewIntervalMs : Math.max(backoffMs, retryAfterMs);
        await sleep(clock, waitMs, signal);
      }
      await this.leave();
    } finally {
      if (this.ownsClient) this.client.close?.();
      this.running = false;
    }
  }

  /**
   * The live members (this replica included, once joined), by one list with the label selector:
   * those whose `renewTime` plus their own duration is after the local wall clock now, sorted by
   * join time, then identity. Rejects with the client's error (or a RequestTimeoutError after
   * `requestTimeoutMs`).
   */
  async members(signal?: AbortSignal): Promise<MemberInfo[]> {
    const list = await this.bounded(signal, (s) => this.client.list(this.settings.namespace, { labelSelector: this.labelSelector, signal: s }));
    const now = this.settings.clock.wallNow();
    const live: MemberInfo[] = [];
    for (const lease of list.items) {
      const member = memberOf(lease, this.settings.leaseName);
      if (member && member.renewedAtMs + member.durationMs > now) live.push({ identity: member.identity, joinedAtMs: member.joinedAtMs, renewedAtMs: member.renewedAtMs });
    }
    return live.sort((a, b) => a.joinedAtMs - b.joinedAtMs || (a.identity < b.identity ? -1 : a.identity > b.identity ? 1 : 0));
  }

  /** The most recently joined live member other than `exclude` (ties: the greater identity), or undefined. */
  async newest(exclude?: string, signal?: AbortSignal): Promise<MemberInfo | undefined> {
    const members = await this.members(signal);
    return members.filter((m) => m.identity !== exclude).at(-1);
  }

  /** One join or refresh write; throws what failed. */
  private async refresh(): Promise<void> {
    const { namespace, clock } = this.settings;
    const nowWall = clock.wallNow();
    if (this.current) {
      // A renewTime past the one it replaces even when the wall clock stands still or steps back:
      // a write equal to the stored object is no change, and the set view (which times members by
      // their renewTime's changes) would see none.
      const renewedAt = nextRenewTimeMs(nowWall, parseMicroTime(this.current.spec?.renewTime));
      const body = this.body(this.joinedAtWallMs ?? nowWall, renewedAt, this.current);
      try {
        this.current = await this.write(() => this.bounded(undefined, (s) => this.client.update(namespace, body, { signal: s })));
      } catch (err) {
        // Someone else wrote or deleted it (or our own write's response was lost): join again.
        if (isConflict(err) || isNotFound(err)) this.current = undefined;
        // Gone: nothing of ours is left behind (until the next create).
        if (isNotFound(err)) this.unknownWrite = false;
        throw err;
      }
      return;
    }
    const joinedAt = this.joinedAtWallMs ?? nowWall;
    try {
      this.current = await this.write(() => this.bounded(undefined, (s) => this.client.create(namespace, this.body(joinedAt, nowWall), { signal: s })));
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      // Ours from before a restart (or from a create whose answer was lost): take it over.
      const existing = await this.bounded(undefined, (s) => this.client.get(namespace, this.memberName, { signal: s }));
      if (existing.spec?.holderIdentity !== this.settings.identity) {
        throw new LeaseKitError('MEMBERSHIP_NAME_TAKEN', `membership Lease ${this.memberName} is held by ${JSON.stringify(existing.spec?.holderIdentity ?? '')}, not this replica`);
      }
      this.current = await this.write(() => this.bounded(undefined, (s) => this.client.update(namespace, this.body(joinedAt, nextRenewTimeMs(nowWall, parseMicroTime(existing.spec?.renewTime)), existing), { signal: s })));
    }
    if (this.joinedAtWallMs === undefined) {
      this.joinedAtWallMs = joinedAt;
      this.log.info('Joined the membership', { joinedAt: formatMicroTime(joinedAt) });
    }
  }

  /**
   * One write: a success makes the object known again; a failure leaves it unknown (the write may
   * have committed, or a conflict may be with our own earlier write whose answer was lost).
   */
  private async write(send: () => Promise<Lease>): Promise<Lease> {
    this.unknownWrite = true;
    const written = await send();
    this.unknownWrite = false;
    return written;
  }

  /**
   * Deletes our membership Lease (uid precondition); failures are logged. When our object is not
   * known (a write's answer was lost, or it conflicted with our own committed write), reads it by
   * name first and deletes it only if it is ours (our identity, its uid as the precondition). When
   * no write of this run may have left an object, sends nothing. The read and the delete together
   * are bounded by one `requestTimeoutMs`.
   */
  private async leave(): Promise<void> {
    const known = this.current;
    const unknownWrite = this.unknownWrite;
    this.current = undefined;
    this.unknownWrite = false;
    if (known === undefined && !unknownWrite) return;
    const { namespace, identity } = this.settings;
    try {
      const left = await this.bounded(undefined, async (s) => {
        const target = known ?? (await raceAbort(this.client.get(namespace, this.memberName, { signal: s }), s));
        const uid = target.metadata?.uid;
        // Not ours (another identity's object of this name), or no uid to make the delete safe.
        if (target.spec?.holderIdentity !== identity || (known === undefined && uid === undefined)) return false;
        await raceAbort(this.client.delete(namespace, this.memberName, { signal: s, ...(uid !== undefined ? { preconditions: { uid } } : {}) }), s);
        return true;
      });
      if (left) this.log.info('Left the membership');
    } catch (err) {
      if (isNotFound(err)) return;
      this.log.warn('Leaving the membership failed; the membership Lease expires instead', { error: describeError(err) });
    }
  }

  /** The membership Lease body: over `previous` (its metadata kept) when given. */
  private body(joinedAtWallMs: number, renewedAtWallMs: number, previous?: Lease): Lease {
    const { identity, leaseName, labels, durationSeconds } = this.settings;
    const metadata = previous?.metadata ?? {};
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...metadata,
        name: this.memberName,
        labels: { ...metadata.labels, ...labels, [MEMBER_OF_LABEL]: memberOfLabelValue(leaseName) },
        annotations: { ...metadata.annotations, [MEMBER_OF_LABEL]: leaseName },
      },
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: formatMicroTime(joinedAtWallMs),
        renewTime: formatMicroTime(renewedAtWallMs),
      },
    };
  }

  /** Runs one request bounded by `requestTimeoutMs` (and `parent`), also when the client ignores its signal. */
  private async bounded<T>(parent: AbortSignal | undefined, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const bound = boundedSignal(this.settings.clock, this.settings.requestTimeoutMs, parent);
    try {
      return await raceAbort(call(bound.signal), bound.signal);
    } finally {
      bound.dispose();
    }
  }
}

/** The wait a failed request's Retry-After asks for (ms; 0 when none), capped at MAX_RETRY_AFTER_MS as the elector caps it. */
function retryAfterOf(err: unknown): number {
  const seconds = isApiError(err) ? err.retryAfterSeconds : undefined;
  return seconds !== undefined && seconds > 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : 0;
}

/** A membership Lease of `leaseName` read as a member, or undefined when it is not one or is malformed. */
function memberOf(lease: Lease, leaseName: string): (MemberInfo & { durationMs: number }) | undefined {
  const meta = lease.metadata;
  const annotation = meta?.annotations?.[MEMBER_OF_LABEL];
  // The annotation tells two long names with one label hash apart.
  if (annotation !== undefined ? annotation !== leaseName : meta?.labels?.[MEMBER_OF_LABEL] !== leaseName) return undefined;
  const spec = lease.spec;
  const identity = spec?.holderIdentity;
  const joinedAtMs = parseMicroTime(spec?.acquireTime);
  const renewedAtMs = parseMicroTime(spec?.renewTime);
  const seconds = spec?.leaseDurationSeconds;
  if (typeof identity !== 'string' || identity === '' || joinedAtMs === null || renewedAtMs === null) return undefined;
  if (typeof seconds !== 'number' || !(seconds > 0)) return undefined;
  return { identity, joinedAtMs, renewedAtMs, durationMs: seconds * 1000 };
}

function text(value: unknown, field: string, code: 'IDENTITY_EMPTY' | 'LEASE_NAME_EMPTY' | 'LEASE_NAMESPACE_EMPTY'): string {
  if (typeof value !== 'string') throw new ConfigError('FIELD_TYPE', field, `${field} must be a string, got ${typeof value}`);
  if (value === '') throw new ConfigError(code, field, `${field} cannot be empty`);
  return value;
}

function millis(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw new ConfigError('FIELD_TYPE', field, `${field} must be a number of milliseconds, got ${typeof value}`);
  if (!Number.isFinite(value)) throw new ConfigError('DURATION_NOT_FINITE', field, `${field} (${value}) must be a finite number of milliseconds`);
  if (!(value > 0)) throw new ConfigError('OPTION_INVALID', field, `${field} (${value}) must be greater than 0`);
  return value;
}

/** Validates a {@link MembershipConfig}; throws {@link ConfigError} naming the first bad field. */
function resolveMembershipConfig(config: MembershipConfig): Settings {
  if (config == null || typeof config !== 'object') throw new ConfigError('CONFIG_MISSING', 'config', 'config cannot be nil: pass a MembershipConfig object');
  const identity = text(config.identity, 'identity', 'IDENTITY_EMPTY');
  const leaseName = text(config.leaseName, 'leaseName', 'LEASE_NAME_EMPTY');
  const namespace = text(config.leaseNamespace, 'leaseNamespace', 'LEASE_NAMESPACE_EMPTY');
  if (!isDnsSubdomain(leaseName) || leaseName.length > MAX_MEMBERSHIP_LEASE_NAME_LENGTH) {
    throw new ConfigError(
      'LEASE_NAME_INVALID',
      'leaseName',
      `leaseName (${JSON.stringify(leaseName)}) must be a DNS subdomain of at most ${MAX_MEMBERSHIP_LEASE_NAME_LENGTH} characters for a membership (the member names add ${253 - MAX_MEMBERSHIP_LEASE_NAME_LENGTH})`,
    );
  }
  if (!isDnsLabel(namespace)) throw new ConfigError('LEASE_NAMESPACE_INVALID', 'leaseNamespace', `leaseNamespace (${JSON.stringify(namespace)}) must be a DNS label`);
  const durationMs = millis(config.durationMs, 'durationMs', DEFAULT_MEMBERSHIP_DURATION_MS);
  if (durationMs < 1000) throw new ConfigError('OPTION_INVALID', 'durationMs', `durationMs (${durationMs}) must be at least 1000 (a Lease counts whole seconds)`);
  if (durationMs > MAX_INT32 * 1000) {
    throw new ConfigError('OPTION_INVALID', 'durationMs', `durationMs (${durationMs}) must be at most ${MAX_INT32 * 1000}: leaseDurationSeconds is an int32`);
  }
  const renewIntervalMs = millis(config.renewIntervalMs, 'renewIntervalMs', Math.min(DEFAULT_MEMBERSHIP_RENEW_INTERVAL_MS, durationMs / 3));
  if (!(renewIntervalMs < durationMs)) {
    throw new ConfigError('OPTION_INVALID', 'renewIntervalMs', `renewIntervalMs (${renewIntervalMs}) must be less than durationMs (${durationMs})`);
  }
  const retryPeriodMs = millis(config.retryPeriodMs, 'retryPeriodMs', 2_000);
  const requestTimeoutMs = millis(config.requestTimeoutMs, 'requestTimeoutMs', 10_000);
  const labels = resolveLabels(config.labels);
  const clock = config.clock ?? systemClock;
  return {
    identity,
    leaseName,
    namespace,
    durationMs,
    durationSeconds: Math.ceil(durationMs / 1000),
    renewIntervalMs,
    retryPeriodMs,
    requestTimeoutMs,
    labels,
    clock,
  };
}
