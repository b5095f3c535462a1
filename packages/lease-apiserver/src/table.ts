/**
 * Server-side printing: the `meta.k8s.io` Table that `kubectl get` asks for, with the columns a
 * real cluster prints (Leases: NAME, HOLDER, AGE; LeaseCandidates: NAME, LEASENAME, BINARYVERSION,
 * EMULATIONVERSION, AGE; Events: LAST SEEN, TYPE, REASON, OBJECT,
 * MESSAGE, plus the wide columns).
 */
import type { Lease } from '@leasekit/k8s-leaderelection';
import type { LeaseCandidate } from '@leasekit/k8s-leaderelection/testing';
import type { KubeEvent } from './event-store.js';

/** What each row carries besides its cells (`?includeObject=`). @default 'Metadata' */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** Options shared by every table. */
export interface TableOptions {
  version: 'v1' | 'v1beta1';
  includeObject: IncludeObject;
  /** Wall time (epoch ms) that ages are measured against. */
  nowMs: number;
  listMeta?: { resourceVersion?: string; continue?: string; remainingItemCount?: number };
}

/** A core/v1 Event: the table reads what kubectl shows. */
export type EventLike = KubeEvent;

const column = (name: string, description: string, extra: Partial<Column> = {}): Column => ({
  name,
  type: 'string',
  format: '',
  description,
  priority: 0,
  ...extra,
});

const LEASE_COLUMNS: Column[] = [
  column('Name', 'Name of the object, unique within its namespace.', { format: 'name' }),
  column('Holder', 'The identity of the current holder of the lease (spec.holderIdentity).'),
  column('Age', 'Time since the object was created (metadata.creationTimestamp).'),
];

/** The real printer's columns (pkg/printers/internalversion: leaseCandidateColumnDefinitions). */
const CANDIDATE_COLUMNS: Column[] = [
  column('Name', 'Name of the object, unique within its namespace.', { format: 'name' }),
  column('LeaseName', 'The Lease this candidate runs for (spec.leaseName).'),
  column('BinaryVersion', 'The binary version of the candidate (spec.binaryVersion).'),
  column('EmulationVersion', 'The emulation version of the candidate (spec.emulationVersion).'),
  column('Age', 'Time since the object was created (metadata.creationTimestamp).'),
];

const EVENT_COLUMNS: Column[] = [
  column('Last Seen', 'Time since the most recent occurrence of the event.'),
  column('Type', 'Type of the event (Normal, Warning).'),
  column('Reason', 'Short, machine-understandable reason for the event.'),
  column('Object', 'The object the event is about.'),
  column('Subobject', 'The part of the object the event is about (involvedObject.fieldPath).', { priority: 1 }),
  column('Source', 'The component that reported the event.', { priority: 1 }),
  column('Message', 'Human-readable description of the event.'),
  column('First Seen', 'Time since the first occurrence of the event.', { priority: 1 }),
  column('Count', 'How many times the event occurred.', { priority: 1 }),
  column('Name', 'Name of the object, unique within its namespace.', { priority: 1, format: 'name' }),
];

/**
 * A duration the way kubectl prints ages (Go's `duration.HumanDuration` rules): seconds up to two
 * minutes, then minutes (with seconds below ten minutes), hours, days and years.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return hours % 24 === 0 ? `${days}d` : `${days}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${years}y` : `${years}y${days % 365}d`;
  return `${years}y`;
}

/** Age of a timestamp, `<unknown>` when there is none (kubectl's translateTimestampSince). */
export function age(timestamp: string | null | undefined, nowMs: number): string {
  if (!timestamp) return '<unknown>';
  const at = Date.parse(timestamp);
  return Number.isNaN(at) ? '<unknown>' : humanDuration(nowMs - at);
}

function rowObject(object: { apiVersion?: string; kind?: string; metadata?: object }, options: TableOptions): object | undefined {
  switch (options.includeObject) {
    case 'None':
      return undefined;
    case 'Object':
      return object;
    default:
      return { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${options.version}`, metadata: object.metadata ?? {} };
  }
}

function table(columns: Column[], rows: { cells: unknown[]; object: object | undefined }[], options: TableOptions): object {
  return {
    kind: 'Table',
    apiVersion: `meta.k8s.io/${options.version}`,
    metadata: { ...options.listMeta },
    columnDefinitions: columns,
    rows: rows.map(({ cells, object }) => (object === undefined ? { cells } : { cells, object })),
  };
}

/** A Table of Leases. */
export function leaseTable(leases: readonly Lease[], options: TableOptions): object {
  return table(
    LEASE_COLUMNS,
    leases.map((lease) => ({
      cells: [lease.metadata?.name ?? '', lease.spec?.holderIdentity ?? '', age(lease.metadata?.creationTimestamp, options.nowMs)],
      object: rowObject(lease as { metadata?: object }, options),
    })),
    options,
  );
}

/** A Table of LeaseCandidates. */
export function candidateTable(candidates: readonly LeaseCandidate[], options: TableOptions): object {
  return table(
    CANDIDATE_COLUMNS,
    candidates.map((c) => ({
      cells: [c.metadata?.name ?? '', c.spec?.leaseName ?? '', c.spec?.binaryVersion ?? '', c.spec?.emulationVersion ?? '', age(c.metadata?.creationTimestamp, options.nowMs)],
      object: rowObject(c as { metadata?: object }, options),
    })),
    options,
  );
}

/** A Table of Events, with the cells kubectl shows for a real cluster's events. */
export function eventTable(events: readonly EventLike[], options: TableOptions): object {
  return table(
    EVENT_COLUMNS,
    events.map((event) => {
      const first = event.firstTimestamp ?? event.eventTime ?? event.metadata?.creationTimestamp;
      const last = event.lastTimestamp ?? event.eventTime ?? first;
      const count = event.count ?? 1;
      let lastSeen = age(last, options.nowMs);
      if (count > 1) lastSeen = `${lastSeen} (x${count} over ${age(first, options.nowMs)})`;
      const source = event.source?.component
        ? [event.source.component, event.source.host].filter(Boolean).join(', ')
        : [event.reportingComponent, event.reportingInstance].filter(Boolean).join(', ');
      const involved = event.involvedObject ?? {};
      return {
        cells: [
          lastSeen,
          event.type ?? '',
          event.reason ?? '',
          `${(involved.kind ?? '').toLowerCase()}/${involved.name ?? ''}`,
          involved.fieldPath ?? '',
          source,
          (event.message ?? '').trim(),
          age(first, options.nowMs),
          count,
          event.metadata?.name ?? '',
        ],
        object: rowObject(event as { metadata?: object }, options),
      };
    }),
    options,
  );
}
