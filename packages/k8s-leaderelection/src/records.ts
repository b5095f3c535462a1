/** Owns the records a replica writes: a renewal, an acquisition, a release and a directed handover (given the record replaced and the wall clock). */
import type { Lease } from './lease.js';
import { MAX_INT32, type LeaderElectionRecord } from './record.js';

/**
 * Annotation on a directed handover's record (value: the identity that handed the Lease over).
 * For people and tools only: nothing relies on it for safety. It stays until the next handover.
 */
export const HANDOVER_ANNOTATION = 'leasekit.io/handover-from';

/** What the records a replica writes depend on. */
export interface RecordWriter {
  readonly identity: string;
  readonly leaseDurationSeconds: number;
  /** The renewTime written over `previous` (the elector's step: see steps.ts). */
  renewTimeOver(previous: LeaderElectionRecord, wallNowMs: number): number;
}

/** A renewal: the record replaced, with our identity, duration and a new renewTime (acquireTime and token kept). */
export function renewedRecord(writer: RecordWriter, previous: LeaderElectionRecord, wallNowMs: number): LeaderElectionRecord {
  return {
    ...previous,
    holderIdentity: writer.identity,
    leaseDurationSeconds: writer.leaseDurationSeconds,
    acquireTimeMs: previous.acquireTimeMs ?? wallNowMs,
    renewTimeMs: writer.renewTimeOver(previous, wallNowMs),
  };
}

/**
 * A new term over `previous`: times now, and a token above both the record's and `highestTokenAny`
 * (the highest this replica saw, claims included: a Lease recreated by someone who never saw the
 * old one). Taking over our own claim bumps the token too: with a wall clock standing still, a
 * takeover keeping the claim's token would write the claim's record again, and a follower that
 * saw the claim would time our term from the claim's creation (found by a probe). int32 in the
 * API: at the (theoretical) limit the token stops increasing rather than the write failing forever.
 */
export function acquiredRecord(writer: RecordWriter, previous: LeaderElectionRecord, wallNowMs: number, highestTokenAny: number): LeaderElectionRecord {
  const record: LeaderElectionRecord = {
    holderIdentity: writer.identity,
    leaseDurationSeconds: writer.leaseDurationSeconds,
    acquireTimeMs: wallNowMs,
    renewTimeMs: writer.renewTimeOver(previous, wallNowMs),
    leaseTransitions: Math.min(Math.max(previous.leaseTransitions, highestTokenAny) + 1, MAX_INT32),
  };
  if (previous.strategy !== undefined) record.strategy = previous.strategy;
  // A preferredHolder naming another replica is dropped on acquisition (client-go's
  // tryAcquireOrRenew writes neither field): kept, it would make this term yield at once.
  const preferred = previous.preferredHolder;
  if (preferred !== undefined && (preferred === '' || preferred === writer.identity)) record.preferredHolder = preferred;
  return record;
}

/** A release: no holder, leaseDurationSeconds 1, times now, the token kept. */
export function releasedRecord(previous: LeaderElectionRecord, wallNowMs: number): LeaderElectionRecord {
  return { ...previous, holderIdentity: '', leaseDurationSeconds: 1, acquireTimeMs: wallNowMs, renewTimeMs: wallNowMs };
}

/**
 * A directed handover over our own `previous` record: the target as holder, our lease duration,
 * times now, the ended term's token + 1 (and above the record's), strategy and preferredHolder kept.
 */
export function handoverRecord(writer: RecordWriter, previous: LeaderElectionRecord, handover: { to: string; token: number }, wallNowMs: number): LeaderElectionRecord {
  return {
    ...releasedRecord(previous, wallNowMs),
    holderIdentity: handover.to,
    leaseDurationSeconds: writer.leaseDurationSeconds,
    leaseTransitions: Math.min(Math.max(handover.token, previous.leaseTransitions) + 1, MAX_INT32),
  };
}

/**
 * `lease` as `writer` may write it over: without {@link HANDOVER_ANNOTATION} unless its record names
 * `writer` (the handover's target taking, then renewing, what was handed to it). Any other write
 * over it (a takeover by expiry, a take of a released record) is no handover: a stale annotation
 * left there would make a set view read the takeover of a crashed holder's shard as a handover by
 * that holder, when the holder had handed it before and then taken it back.
 */
export function withoutStaleHandover(lease: Lease, writer: string): Lease {
  return lease.spec?.holderIdentity === writer ? lease : withoutHandoverAnnotation(lease);
}

/** `lease` without {@link HANDOVER_ANNOTATION} (a release: the free record names no handover's target). */
export function withoutHandoverAnnotation(lease: Lease): Lease {
  const annotations = lease.metadata?.annotations;
  if (annotations === undefined || !(HANDOVER_ANNOTATION in annotations)) return lease;
  const rest = Object.fromEntries(Object.entries(annotations).filter(([key]) => key !== HANDOVER_ANNOTATION));
  return { ...lease, metadata: { ...lease.metadata, annotations: rest } };
}

/** `lease` with {@link HANDOVER_ANNOTATION} naming `from` (other annotations kept). */
export function withHandoverAnnotation(lease: Lease, from: string): Lease {
  return { ...lease, metadata: { ...lease.metadata, annotations: { ...lease.metadata?.annotations, [HANDOVER_ANNOTATION]: from } } };
}
