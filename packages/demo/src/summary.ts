/**
 * The summary printed at the end: one row per replica, then the two measurements (and the line of
 * the embedded server's request counts, which `--shards` prints too). Pure
 * formatting over the {@link DemoRecord}.
 */
import type { VerbCounts } from '@leasekit/lease-apiserver';
import { timeLedMs, type DemoRecord, type Measurement } from './record.js';
import { formatDuration } from './timeline.js';

/** Lays out rows as a plain-text table with a header rule; every column left-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

/** The embedded server's Lease request counts, by verb (those used) and in total, in one line. */
export function requestCountsLine(counts: VerbCounts, who: string): string {
  const verbs = (['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'] as const).filter((v) => counts[v] > 0).map((v) => `${v} ${counts[v]}`);
  return `Lease API requests the embedded server answered (${who}): ${verbs.join(', ')}; total ${counts.total}`;
}

/** The measurement in one sentence. */
export function describeMeasurement(m: Measurement, leaseDurationMs: number): string {
  const fromSignal = formatDuration(m.takeoverAt - m.signalAt);
  if (m.kind === 'failover') {
    const fromRenew = m.anchorAt === undefined ? 'its last renew was not seen' : `${formatDuration(m.takeoverAt - m.anchorAt)} after ${m.from}'s last successful renew`;
    return `failover: ${m.to} leads ${fromSignal} after SIGKILL of ${m.from}, ${fromRenew} (lease duration ${formatDuration(leaseDurationMs)}: the others must wait for the Lease to expire)`;
  }
  const release = m.anchorAt === undefined ? '' : `; ${m.from} released the Lease ${formatDuration(m.anchorAt - m.signalAt)} after the SIGTERM`;
  return `graceful handover: ${m.to} leads ${fromSignal} after SIGTERM of ${m.from}${release} (no waiting for expiry)`;
}

/** The closing summary: the per-replica table, then the measurements. */
export function summaryLines(record: DemoRecord, requestCounts: string | undefined): string[] {
  const rows = record.replicas.map((r) => [
    r.identity,
    String(r.pid ?? '?'),
    r.port === undefined ? '?' : `127.0.0.1:${r.port}`,
    String(r.terms.length),
    r.terms.map((t) => t.token).join(',') || '-',
    formatDuration(timeLedMs(r, record.endedAt)),
    r.terms.map((t) => t.endedBy ?? 'running').join(',') || '-',
    r.exit ?? 'running',
  ]);
  const lines = formatTable(['replica', 'pid', 'metrics+healthz', 'terms', 'tokens', 'led for', 'terms ended by', 'process'], rows);
  const failover = record.measurements.find((m) => m.kind === 'failover');
  const handover = record.measurements.find((m) => m.kind === 'handover');
  const measured: string[][] = [];
  if (failover) {
    measured.push([
      'failover (SIGKILL)',
      formatDuration(failover.takeoverAt - failover.signalAt),
      failover.anchorAt === undefined ? 'n/a' : formatDuration(failover.takeoverAt - failover.anchorAt),
      `${failover.from} -> ${failover.to}`,
    ]);
  }
  if (handover) {
    measured.push([
      'graceful handover (SIGTERM)',
      formatDuration(handover.takeoverAt - handover.signalAt),
      handover.anchorAt === undefined ? 'n/a' : formatDuration(handover.takeoverAt - handover.anchorAt),
      `${handover.from} -> ${handover.to}`,
    ]);
  }
  if (measured.length > 0) lines.push('', ...formatTable(['takeover', 'from signal', 'from last renew / release', 'who'], measured));
  if (requestCounts) lines.push('', requestCounts);
  return lines;
}
