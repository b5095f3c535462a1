/**
 * Pure conversions between a Lease and the leader election record, and MicroTime handling.
 * Nothing here does I/O or reads a clock.
 */
import type { Lease, LeaseEventRecord, LeaseSpec } from './lease.js';

/** client-go's LeaderElectionRecord, for a Lease. Times are epoch milliseconds (or null). */
export interface LeaderElectionRecord {
  /** '' when the lease is free (never acquired, or released). */
  holderIdentity: string;
  /** Whole seconds as written in the Lease; null when absent or unusable (see `problems`). */
  leaseDurationSeconds: number | null;
  acquireTimeMs: number | null;
  renewTimeMs: number | null;
  leaseTransitions: number;
  strategy?: string;
  preferredHolder?: string;
}

/** A record read from the API plus what was wrong with it, if anything. */
export interface ParsedRecord {
  record: LeaderElectionRecord;
  /** Human-readable problems found (for logs): malformed content never throws. */
  problems: string[];
}

/** The largest int32, the type of `leaseDurationSeconds` and `leaseTransitions` in the API. */
export const MAX_INT32 = 2 ** 31 - 1;

const MICROTIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;
const STRICT_MICROTIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * Formats epoch milliseconds as a Kubernetes MicroTime: UTC with exactly six fractional digits.
 * The API server rejects `toISOString()`'s three digits with 400 BadRequest.
 */
export function formatMicroTime(epochMs: number): string {
  const whole = Math.floor(epochMs);
  const micros = Math.round((epochMs - whole) * 1000);
  const iso = new Date(whole).toISOString(); // 2024-05-01T12:34:56.123Z
  return `${iso.slice(0, 23)}${String(Math.min(micros, 999)).padStart(3, '0')}Z`;
}

/** True for a MicroTime exactly as the API server writes it (six digits, UTC). */
export function isStrictMicroTime(value: string): boolean {
  // parseMicroTime also rejects impossible dates (2024-02-31), which Date.parse accepts.
  return STRICT_MICROTIME.test(value) && parseMicroTime(value) !== null;
}

/**
 * Parses RFC 3339 times leniently (any number of fractional digits, `Z` or an offset, a Date
 * object as client-node sometimes hands out). Returns epoch milliseconds with microsecond
 * precision, or null when unparsable.
 */
export function parseMicroTime(value: unknown): number | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.getTime();
  if (typeof value !== 'string') return null;
  const match = MICROTIME.exec(value.trim());
  if (!match) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone] = match;
  const wallClock = `${y}-${mo}-${d}T${h}:${mi}:${s}`;
  // V8 rolls impossible dates over (2024-02-31 becomes March 2, hour 24 the next day) where Go,
  // and so the API server, rejects them: an impossible date is garbage, not some other time.
  const asUtc = Date.parse(`${wallClock}Z`);
  if (Number.isNaN(asUtc) || new Date(asUtc).toISOString().slice(0, 19) !== wallClock) return null;
  const base = Date.parse(`${wallClock}${zone === 'Z' ? 'Z' : normaliseZone(zone!)}`);
  if (Number.isNaN(base)) return null;
  // Whole microseconds from the digits themselves: flooring `Number('0.000021') * 1e6` gave 20
  // for about one fraction in eight, so format -> parse -> format did not round-trip.
  const micros = Number(frac.slice(0, 6).padEnd(6, '0'));
  return base + micros / 1000;
}

function normaliseZone(zone: string): string {
  return zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

/**
 * Reads the record from a Lease, tolerating anything the API might return: a missing spec is an
 * empty (free) record; a non-string holder, unparsable times, and non-positive or non-integer
 * durations are reported in `problems` and replaced by safe values.
 */
export function recordFromLease(lease: Lease | undefined | null): ParsedRecord {
  const problems: string[] = [];
  const spec: Partial<LeaseSpec> = isObject(lease?.spec) ? (lease.spec as LeaseSpec) : {};
  if (lease != null && !isObject(lease.spec)) problems.push('lease has no spec');

  let holderIdentity = '';
  const rawHolder = spec.holderIdentity;
  if (typeof rawHolder === 'string') {
    holderIdentity = rawHolder;
  } else if (rawHolder != null) {
    // Someone wrote garbage: treat the lease as held by an unknown holder, never as free.
    holderIdentity = `<invalid holderIdentity: ${typeof rawHolder}>`;
    problems.push(`holderIdentity is a ${typeof rawHolder}, not a string`);
  }

  let leaseDurationSeconds: number | null = null;
  const rawDuration = spec.leaseDurationSeconds;
  if (rawDuration != null) {
    if (typeof rawDuration === 'number' && Number.isInteger(rawDuration) && rawDuration > 0) {
      leaseDurationSeconds = rawDuration;
      // Beyond int32 no API server could have stored it. Keep it (a longer wait is the safe side:
      // never an early takeover) but say so.
      if (rawDuration > MAX_INT32) problems.push(`leaseDurationSeconds ${rawDuration} is larger than an int32`);
    } else {
      problems.push(`leaseDurationSeconds ${preview(rawDuration)} is not a positive integer`);
    }
  }

  const acquireTimeMs = readTime(spec.acquireTime, 'acquireTime', problems);
  const renewTimeMs = readTime(spec.renewTime, 'renewTime', problems);

  let leaseTransitions = 0;
  const rawTransitions = spec.leaseTransitions;
  if (rawTransitions != null) {
    if (typeof rawTransitions === 'number' && Number.isInteger(rawTransitions) && rawTransitions >= 0) {
      leaseTransitions = Math.min(rawTransitions, MAX_INT32);
      if (rawTransitions > MAX_INT32) problems.push(`leaseTransitions ${rawTransitions} is larger than an int32`);
    } else {
      problems.push(`leaseTransitions ${preview(rawTransitions)} is not a non-negative integer`);
    }
  }

  const record: LeaderElectionRecord = { holderIdentity, leaseDurationSeconds, acquireTimeMs, renewTimeMs, leaseTransitions };
  if (typeof spec.strategy === 'string') record.strategy = spec.strategy;
  if (typeof spec.preferredHolder === 'string') record.preferredHolder = spec.preferredHolder;
  return { record, problems };
}

function readTime(value: unknown, field: string, problems: string[]): number | null {
  if (value == null) return null;
  const parsed = parseMicroTime(value);
  if (parsed === null) problems.push(`${field} ${preview(value)} is not a valid time`);
  return parsed;
}

/**
 * A value for a problem message, cut short: problems are logged, and a lease carrying a megabyte
 * of garbage must not turn into megabyte log lines.
 */
function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(typeof value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes a record into a Lease spec (MicroTime with six digits). */
export function specFromRecord(record: LeaderElectionRecord): LeaseSpec {
  const spec: LeaseSpec = {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: record.acquireTimeMs === null ? null : formatMicroTime(record.acquireTimeMs),
    renewTime: record.renewTimeMs === null ? null : formatMicroTime(record.renewTimeMs),
    leaseTransitions: record.leaseTransitions,
  };
  if (record.strategy !== undefined) spec.strategy = record.strategy;
  if (record.preferredHolder !== undefined) spec.preferredHolder = record.preferredHolder;
  return spec;
}

/**
 * A Lease carrying `record`, based on `existing` (keeps its metadata, so the update is a
 * compare-and-swap on its resourceVersion) or a new one.
 */
export function leaseWithRecord(
  record: LeaderElectionRecord,
  target: { name: string; namespace: string },
  existing?: Lease,
): Lease {
  const metadata = existing?.metadata ? { ...existing.metadata } : { name: target.name, namespace: target.namespace };
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata,
    spec: { ...(isObject(existing?.spec) ? existing.spec : {}), ...specFromRecord(record) },
  };
}

/** True when two records would be written identically (client-go compares the raw record). */
export function sameRecord(a: LeaderElectionRecord, b: LeaderElectionRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTimeMs === b.acquireTimeMs &&
    a.renewTimeMs === b.renewTimeMs &&
    a.leaseTransitions === b.leaseTransitions &&
    a.strategy === b.strategy &&
    a.preferredHolder === b.preferredHolder
  );
}

/**
 * The renewTime a holder writes over `previous`: the wall clock, but always at least one
 * microsecond (MicroTime's resolution) after the renewTime it replaces. A follower restarts its
 * observed time only when the record changes; a holder whose wall clock stands still or steps
 * back would otherwise write the record it replaces byte for byte, and count a guarantee from a
 * write no follower can tell from the last one.
 */
export function nextRenewTimeMs(wallNowMs: number, previous: number | null): number {
  if (previous === null || formatMicroTime(wallNowMs) > formatMicroTime(previous)) return wallNowMs;
  // One microsecond on; past the year 2255 epoch microseconds exceed 2^53 and a double cannot hold
  // every one of them, so step on until the written time differs.
  const written = formatMicroTime(previous);
  let step = 0.001;
  let next = previous + step;
  while (formatMicroTime(next) <= written) {
    step *= 2;
    next = previous + step;
  }
  return next;
}

/**
 * How a client-go follower sees a record: equal keys look the same to it (whole-second times).
 * `strategy` and `preferredHolder` are left out: client-go before v1.31 has no such fields, so a
 * change of only those is no change to it (found by the simulator: an election controller's
 * preferredHolder write between two renewals in one second made the second look new).
 */
export function goFollowerKey(record: LeaderElectionRecord): string {
  const seconds = (ms: number | null): number | null => (ms === null ? null : Math.floor(ms / 1000));
  return JSON.stringify([record.holderIdentity, record.leaseDurationSeconds, seconds(record.acquireTimeMs), seconds(record.renewTimeMs), record.leaseTransitions]);
}

/**
 * Whether a client-go follower can tell `a` and `b` apart. client-go converts the Lease into a
 * record whose acquireTime and renewTime are whole-second RFC 3339 times and resets its
 * observation time only when that record's JSON changes; so two records that differ only below
 * the second look identical to it, and a renewal writing such a record extends nothing for it.
 */
export function sameForGoFollower(a: LeaderElectionRecord, b: LeaderElectionRecord): boolean {
  return goFollowerKey(a) === goFollowerKey(b);
}

/** A core/v1 Event body about a Lease, without `metadata` (the writer names it). */
export interface LeaseEventBody {
  involvedObject: { apiVersion: string; kind: 'Lease'; name: string; namespace: string; uid?: string };
  reason: string;
  message: string;
  type: 'Normal' | 'Warning';
  source: { component: string };
  reportingComponent: 'leasekit';
  reportingInstance: string;
  firstTimestamp: string;
  lastTimestamp: string;
  count: number;
}

/**
 * The Event client-go's recorder would write for a leader election event: one shape shared by the
 * client-node lock (which POSTs it) and the in-memory store (which keeps it for `kubectl get events`).
 */
export function eventBodyOf(event: LeaseEventRecord): LeaseEventBody {
  // Event timestamps are metav1.Time: whole seconds.
  const time = new Date(Math.floor(event.timeMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  return {
    involvedObject: {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      name: event.leaseName,
      namespace: event.namespace,
      ...(event.leaseUid !== undefined ? { uid: event.leaseUid } : {}),
    },
    reason: event.reason,
    message: event.message,
    type: event.type,
    source: { component: event.reportingInstance },
    reportingComponent: 'leasekit',
    reportingInstance: event.reportingInstance,
    firstTimestamp: time,
    lastTimestamp: time,
    count: 1,
  };
}
