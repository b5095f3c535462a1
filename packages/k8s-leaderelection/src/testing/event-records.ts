/**
 * The testing kit's view of Kubernetes Events: {@link LeaseEventRecord}s, what the elector's
 * `recordEvent` reports, read back from the Event objects clients create. Event objects themselves
 * (validation, storage, list, patch) belong to the embedded API server, not to the testing kit.
 */
import type { LeaseEventRecord } from '../lease.js';
import { isRecord } from './object-rules.js';

/** The fields of a core/v1 Event a {@link LeaseEventRecord} is read from. */
interface EventFields {
  involvedObject?: { kind?: unknown; name?: unknown; uid?: unknown };
  type?: unknown;
  reason?: unknown;
  message?: unknown;
  reportingInstance?: unknown;
  source?: { component?: unknown };
  eventTime?: unknown;
  lastTimestamp?: unknown;
  firstTimestamp?: unknown;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The {@link LeaseEventRecord} of an Event object about a Lease, or undefined for an Event about
 * anything else. `nowMs` stands in for an Event without a timestamp.
 */
export function leaseEventRecordOf(body: unknown, namespace: string, nowMs: number): LeaseEventRecord | undefined {
  if (!isRecord(body)) return undefined;
  const event = body as EventFields;
  const involved = isRecord(event.involvedObject) ? event.involvedObject : undefined;
  if (involved?.kind !== 'Lease') return undefined;
  const source = isRecord(event.source) ? event.source : undefined;
  const stamped = [event.eventTime, event.lastTimestamp, event.firstTimestamp].find((t): t is string => typeof t === 'string' && t !== '');
  const parsed = stamped === undefined ? Number.NaN : Date.parse(stamped);
  const uid = text(involved.uid);
  return {
    namespace,
    leaseName: text(involved.name) ?? '',
    ...(uid !== undefined ? { leaseUid: uid } : {}),
    type: event.type === 'Warning' ? 'Warning' : 'Normal',
    reason: text(event.reason) ?? '',
    message: text(event.message) ?? '',
    reportingInstance: text(event.reportingInstance) ?? text(source?.component) ?? '',
    timeMs: Number.isNaN(parsed) ? nowMs : parsed,
  };
}
