/**
 * `leasekit_leader_election_is_leader` as Prometheus scraped it: the raw samples of each replica's
 * series (the `pod` label), read back with a range-vector query, turned into runs of one value,
 * the sequence of leaders Prometheus saw, and a compact text timeline. Pure functions except
 * {@link scrapeLeaderSeries}.
 */
import type { PrometheusServer } from './prometheus.js';

/** The metric, with the demo's lease selected. */
export function leaderSeriesQuery(leaseName: string): string {
  return `leasekit_leader_election_is_leader{name="${leaseName.replace(/["\\]/g, '\\$&')}"}`;
}

/** What Prometheus recorded for each replica. */
export interface ScrapedRecord {
  readonly scrapeIntervalMs: number;
  /** The first and last sample of any series. */
  readonly startMs: number;
  readonly endMs: number;
  /** One per replica, sorted by pod. */
  readonly series: readonly ScrapedSeries[];
}

export interface ScrapedSeries {
  readonly pod: string;
  /** Every sample, with the time Prometheus scraped it. */
  readonly samples: readonly { readonly atMs: number; readonly value: number }[];
}

/** A stretch of time over which a series held one value. */
export interface Run {
  readonly fromMs: number;
  readonly toMs: number;
  readonly value: number;
}

/** At most this many columns in the text timeline. */
const MAX_COLUMNS = 100;

/** The text timeline's column width: the scrape interval, or a multiple so a long run fits. */
export function gridStepMs(spanMs: number, scrapeIntervalMs: number): number {
  return Math.max(1, Math.ceil(spanMs / MAX_COLUMNS / scrapeIntervalMs)) * scrapeIntervalMs;
}

/** Reads every raw sample of the replicas' `is_leader` series scraped since `sinceMs`. */
export async function scrapeLeaderSeries(
  prometheus: Pick<PrometheusServer, 'querySamples'>,
  leaseName: string,
  sinceMs: number,
  untilMs: number,
  scrapeIntervalMs: number,
): Promise<ScrapedRecord> {
  const seconds = Math.ceil((untilMs - sinceMs) / 1000) + 1;
  const raw = await prometheus.querySamples(`${leaderSeriesQuery(leaseName)}[${seconds}s]`, untilMs);
  const series = raw
    .map((s) => ({ pod: s.labels.pod ?? s.labels.instance ?? '?', samples: s.points }))
    .sort((a, b) => a.pod.localeCompare(b.pod, 'en', { numeric: true }));
  const times = series.flatMap((s) => s.samples.map((p) => p.atMs));
  const startMs = times.length === 0 ? sinceMs : Math.min(...times);
  const endMs = times.length === 0 ? untilMs : Math.max(...times);
  return { scrapeIntervalMs, startMs, endMs, series };
}

/**
 * Each sample's value holds until the series' next sample; the last sample before a gap (a
 * failed scrape: the process is gone) holds for one scrape interval, when the next scrape failed.
 */
export function runsOf(samples: ScrapedSeries['samples'], scrapeIntervalMs: number): Run[] {
  const runs: { fromMs: number; toMs: number; value: number }[] = [];
  samples.forEach((s, i) => {
    const next = samples[i + 1];
    const toMs = next !== undefined && next.atMs - s.atMs <= 1.5 * scrapeIntervalMs ? next.atMs : s.atMs + scrapeIntervalMs;
    const last = runs.at(-1);
    if (last && last.value === s.value && last.toMs === s.atMs) last.toMs = toMs;
    else runs.push({ fromMs: s.atMs, toMs, value: s.value });
  });
  return runs;
}

/** Who Prometheus saw leading, in order of their runs of is_leader 1 (one entry per term seen). */
export function leaderSequence(record: ScrapedRecord): { pod: string; fromMs: number; toMs: number }[] {
  return record.series
    .flatMap((s) => runsOf(s.samples, record.scrapeIntervalMs).filter((r) => r.value === 1).map((r) => ({ pod: s.pod, fromMs: r.fromMs, toMs: r.toMs })))
    .sort((a, b) => a.fromMs - b.fromMs);
}

function offset(atMs: number, originMs: number): string {
  return `+${((atMs - originMs) / 1000).toFixed(1)}s`;
}

/**
 * The record as text, one row per replica and one column per grid step: `#` is_leader 1, `.` 0,
 * blank no sample (the value at the middle of the column). `originMs` is the demo's start, so
 * offsets match the timeline lines.
 */
export function scrapedTimelineLines(record: ScrapedRecord, originMs: number): string[] {
  const stepMs = gridStepMs(record.endMs - record.startMs, record.scrapeIntervalMs);
  const columns = Math.max(1, Math.ceil((record.endMs - record.startMs) / stepMs) + 1);
  const width = Math.max(...record.series.map((s) => s.pod.length), 4);
  const rows = record.series.map((s) => {
    const runs = runsOf(s.samples, record.scrapeIntervalMs);
    let cells = '';
    for (let i = 0; i < columns; i++) {
      const mid = record.startMs + (i + 0.5) * stepMs;
      const run = runs.find((r) => r.fromMs <= mid && mid < r.toMs);
      cells += run === undefined ? ' ' : run.value === 1 ? '#' : run.value === 0 ? '.' : '?';
    }
    return `  ${s.pod.padEnd(width)}  ${cells.trimEnd()}`;
  });
  const sequence = leaderSequence(record);
  return [
    `leasekit_leader_election_is_leader as Prometheus scraped it every ${record.scrapeIntervalMs} ms, from ${offset(record.startMs, originMs)} (one column per ${stepMs} ms; # leader, . follower, blank no sample):`,
    ...rows,
    sequence.length === 0
      ? 'Prometheus saw no leader'
      : `is_leader=1 as Prometheus saw it: ${sequence.map((l) => `${l.pod} ${offset(l.fromMs, originMs)}..${offset(l.toMs, originMs)}`).join(', then ')}`,
  ];
}
