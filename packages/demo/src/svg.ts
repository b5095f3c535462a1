/**
 * The timeline as a picture: a hand-written SVG string (no dependency), one lane per replica,
 * leadership terms as bars, the signals as dashed lines across every lane, and the failover and
 * handover as measured spans under the time axis; with `--prometheus`, the replicas' `is_leader`
 * series as Prometheus scraped them, in lanes of their own on the same axis. Open it in a browser.
 */
import { timeLedMs, type CoordinatedRecord, type DemoRecord, type Measurement, type ReplicaRecord, type RolloutPhaseRecord } from './record.js';
import { runsOf, type ScrapedRecord } from './scraped.js';
import { formatDuration } from './timeline.js';

const WIDTH = 1000;
const LEFT = 140;
const RIGHT = 40;
const LANE_TOP = 112;
const LANE_HEIGHT = 46;
const BAR_HEIGHT = 20;
const FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif";

const COLORS = {
  term: '#16a34a',
  scraped: '#2563eb',
  life: '#9ca3af',
  kill: '#dc2626',
  sigterm: '#d97706',
  handover: '#7c3aed',
  shutdown: '#6b7280',
  text: '#111827',
  muted: '#6b7280',
  grid: '#e5e7eb',
} as const;

/** Escapes text for XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A tick step (seconds) giving at most about 12 ticks over `spanS`. */
export function tickStepSeconds(spanS: number): number {
  const steps = [0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300];
  return steps.find((s) => spanS / s <= 12) ?? 600;
}

function fmt(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

/** Renders the run as a standalone SVG document. */
export function renderTimelineSvg(record: DemoRecord): string {
  const t0 = record.startedAt;
  const span = Math.max(record.endedAt - t0, 1);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const x = (at: number): number => LEFT + (Math.min(Math.max(at, t0), record.endedAt) - t0) / span * plotWidth;
  const lanesBottom = LANE_TOP + record.replicas.length * LANE_HEIGHT;
  const axisY = lanesBottom + 8;
  const spansTop = axisY + 40;
  const phases = record.rollout ?? [];
  const coordinated = record.coordinated;
  const spanCount = record.measurements.length + phases.length + (coordinated ? 1 : 0);
  const scrapedTop = spansTop + spanCount * 34 + 8;
  const scraped = record.scraped === undefined ? undefined : scrapedSection(record, record.scraped, scrapedTop, x);
  const height = (scraped ? scrapedTop + scraped.height : spansTop + spanCount * 34) + 24;
  const laneY = (i: number): number => LANE_TOP + i * LANE_HEIGHT + LANE_HEIGHT / 2;
  const laneOf = (identity: string): number => record.replicas.findIndex((r) => r.identity === identity);

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${fmt(height)}" viewBox="0 0 ${WIDTH} ${fmt(height)}" font-family="${escapeXml(FONT)}" font-size="12">`,
    `<title>leasekit demo: leadership timeline</title>`,
    '<defs><pattern id="dead-lease" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      `<rect width="8" height="8" fill="#fee2e2"/><line x1="0" y1="0" x2="0" y2="8" stroke="${COLORS.kill}" stroke-width="3"/></pattern></defs>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="20" y="30" font-size="18" font-weight="600" fill="${COLORS.text}">leasekit demo: who led the Lease, and when</text>`,
    `<text x="20" y="50" fill="${COLORS.muted}">${escapeXml(subtitle(record))}</text>`,
  );
  parts.push(legend(78, phases.length > 0 || coordinated !== undefined));

  // Grid and time axis.
  const step = tickStepSeconds(span / 1000);
  parts.push(`<g class="axis">`);
  for (let s = 0; s * 1000 <= span; s += step) {
    const tx = x(t0 + s * 1000);
    parts.push(
      `<line x1="${fmt(tx)}" y1="${LANE_TOP}" x2="${fmt(tx)}" y2="${fmt(axisY)}" stroke="${COLORS.grid}"/>`,
      `<text x="${fmt(tx)}" y="${fmt(axisY + 16)}" text-anchor="middle" fill="${COLORS.muted}">${fmt(s)} s</text>`,
    );
  }
  parts.push(`<line x1="${LEFT}" y1="${fmt(axisY)}" x2="${WIDTH - RIGHT}" y2="${fmt(axisY)}" stroke="${COLORS.muted}"/>`, `</g>`);

  // One lane per replica.
  record.replicas.forEach((replica, i) => parts.push(lane(replica, laneY(i), x, record)));

  // The dead leader's Lease, still blocking the others until it expires.
  for (const m of record.measurements.filter((mm) => mm.kind === 'failover')) {
    const i = laneOf(m.from);
    if (i < 0) continue;
    const y = laneY(i) - BAR_HEIGHT / 2;
    parts.push(
      `<rect class="dead-lease" x="${fmt(x(m.signalAt))}" y="${fmt(y)}" width="${fmt(Math.max(x(m.takeoverAt) - x(m.signalAt), 1))}" height="${BAR_HEIGHT}" fill="url(#dead-lease)" opacity="0.8"><title>${escapeXml(`${m.from} is dead but its Lease is valid until it expires`)}</title></rect>`,
    );
    if (m.anchorAt !== undefined) {
      parts.push(
        `<line x1="${fmt(x(m.anchorAt))}" y1="${fmt(y - 4)}" x2="${fmt(x(m.anchorAt))}" y2="${fmt(y + BAR_HEIGHT + 4)}" stroke="${COLORS.text}" stroke-width="2"><title>last successful renew of ${escapeXml(m.from)}</title></line>`,
      );
    }
  }

  // The signals, across every lane.
  // A rollout's many signals carry their names as tooltips only (labels would overlap).
  for (const signal of record.signals) {
    const sx = x(signal.at);
    const color = signal.purpose === 'failover' ? COLORS.kill : signal.purpose === 'shutdown' ? COLORS.shutdown : COLORS.sigterm;
    const name = `${signal.signal} ${signal.target}`;
    parts.push(
      `<g class="signal" data-signal="${signal.signal}" data-target="${escapeXml(signal.target)}">`,
      `<line x1="${fmt(sx)}" y1="${LANE_TOP - 6}" x2="${fmt(sx)}" y2="${fmt(lanesBottom)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 3"><title>${escapeXml(name)}</title></line>`,
      signal.purpose === 'shutdown' || signal.purpose === 'rollout' || signal.purpose === 'coordinated' ? '' : signalLabel(name, sx, color),
      `</g>`,
    );
  }

  // The measured spans, under the axis, then the rollouts.
  record.measurements.forEach((m, i) => parts.push(measuredSpan(m, spansTop + i * 34, x)));
  phases.forEach((p, i) => parts.push(rolloutSpan(p, spansTop + (record.measurements.length + i) * 34, x)));
  if (coordinated) parts.push(coordinatedSpan(coordinated, spansTop + (record.measurements.length + phases.length) * 34, x));

  // What Prometheus scraped, on the same time axis.
  if (scraped) parts.push(scraped.svg);

  parts.push('</svg>', '');
  return parts.join('\n');
}

/** A signal's name over its line: right of it, or left of it when it would run off the picture. */
function signalLabel(label: string, sx: number, color: string): string {
  const fits = sx + 3 + label.length * 7 <= WIDTH - 8;
  return `<text x="${fmt(fits ? sx + 3 : sx - 3)}" y="${LANE_TOP - 10}" text-anchor="${fits ? 'start' : 'end'}" fill="${color}" font-weight="600">${escapeXml(label)}</text>`;
}

function subtitle(record: DemoRecord): string {
  const seconds = (record.leaseDurationMs / 1000).toString();
  return `${record.replicas.length} replica processes, Lease ${record.leaseNamespace}/${record.leaseName}, lease duration ${seconds} s, ${record.followerStrategy} followers, ${record.target}`;
}

function legend(y: number, calm: boolean): string {
  const items: string[] = [];
  let lx = 20;
  const add = (symbol: string, label: string, width: number): void => {
    items.push(`<g transform="translate(${lx},${y})">${symbol}<text x="26" y="4" fill="${COLORS.text}">${escapeXml(label)}</text></g>`);
    lx += width;
  };
  add(`<rect x="0" y="-6" width="20" height="12" fill="${COLORS.term}" rx="2"/>`, 'leading (a term)', 140);
  add(`<line x1="0" y1="0" x2="20" y2="0" stroke="${COLORS.life}" stroke-width="3"/>`, 'process running', 135);
  // A rollout or the coordinated scene kills nobody: no SIGKILL, no dead process's Lease.
  if (!calm) {
    add(`<rect x="0" y="-6" width="20" height="12" fill="url(#dead-lease)"/>`, 'Lease held by a dead process', 210);
    add(`<line x1="10" y1="-8" x2="10" y2="8" stroke="${COLORS.kill}" stroke-width="1.5" stroke-dasharray="5 3"/>`, 'SIGKILL', 90);
  }
  add(`<line x1="10" y1="-8" x2="10" y2="8" stroke="${COLORS.sigterm}" stroke-width="1.5" stroke-dasharray="5 3"/>`, 'SIGTERM', 90);
  if (!calm) add(`<line x1="10" y1="-8" x2="10" y2="8" stroke="${COLORS.text}" stroke-width="2"/>`, 'last renew', 100);
  return `<g class="legend">${items.join('')}</g>`;
}

function lane(replica: ReplicaRecord, y: number, x: (at: number) => number, record: DemoRecord): string {
  const parts: string[] = [`<g class="lane" data-replica="${escapeXml(replica.identity)}">`];
  const ledS = (timeLedMs(replica, record.endedAt) / 1000).toFixed(1);
  parts.push(
    `<text x="${LEFT - 12}" y="${fmt(y - 2)}" text-anchor="end" font-weight="600" fill="${COLORS.text}">${escapeXml(replica.identity)}</text>`,
    `<text x="${LEFT - 12}" y="${fmt(y + 12)}" text-anchor="end" font-size="10" fill="${COLORS.muted}">${escapeXml(`pid ${replica.pid ?? '?'} · led ${ledS} s`)}</text>`,
  );
  const lifeStart = replica.readyAt ?? replica.forkedAt;
  const lifeEnd = replica.exitedAt ?? record.endedAt;
  parts.push(`<line x1="${fmt(x(lifeStart))}" y1="${fmt(y)}" x2="${fmt(x(lifeEnd))}" y2="${fmt(y)}" stroke="${COLORS.life}" stroke-width="3"/>`);
  for (const term of replica.terms) {
    const start = x(term.startAt);
    const end = x(term.endAt ?? lifeEnd);
    const width = Math.max(end - start, 1.5);
    const tip = `${replica.identity} led from +${((term.startAt - record.startedAt) / 1000).toFixed(3)} s for ${formatDuration((term.endAt ?? lifeEnd) - term.startAt)} (token ${term.token}${term.endedBy ? `, ended: ${term.endedBy}` : ''})`;
    parts.push(
      `<rect class="term" x="${fmt(start)}" y="${fmt(y - BAR_HEIGHT / 2)}" width="${fmt(width)}" height="${BAR_HEIGHT}" rx="3" fill="${COLORS.term}"><title>${escapeXml(tip)}</title></rect>`,
    );
    if (width > 60) {
      parts.push(`<text x="${fmt(start + 6)}" y="${fmt(y + 4)}" fill="#ffffff" font-size="11">${escapeXml(`token ${term.token}`)}</text>`);
    }
  }
  if (replica.exitedAt !== undefined) {
    const ex = x(replica.exitedAt);
    if (replica.exit === 'SIGKILL') {
      parts.push(
        `<path d="M${fmt(ex - 6)},${fmt(y - 6)} L${fmt(ex + 6)},${fmt(y + 6)} M${fmt(ex - 6)},${fmt(y + 6)} L${fmt(ex + 6)},${fmt(y - 6)}" stroke="${COLORS.kill}" stroke-width="3"><title>killed (SIGKILL)</title></path>`,
      );
    } else {
      parts.push(`<circle cx="${fmt(ex)}" cy="${fmt(y)}" r="4" fill="${COLORS.text}"><title>${escapeXml(replica.exit ?? 'exited')}</title></circle>`);
    }
  }
  parts.push('</g>');
  return parts.join('');
}

const SCRAPED_LANE = 26;

/** The scraped `is_leader` series: a blue bar where a replica reported 1, a thin line where 0. */
function scrapedSection(record: DemoRecord, scraped: ScrapedRecord, top: number, x: (at: number) => number): { svg: string; height: number } {
  const parts: string[] = [
    `<g class="scraped" data-scrape-interval-ms="${scraped.scrapeIntervalMs}">`,
    `<line x1="20" y1="${fmt(top)}" x2="${WIDTH - RIGHT}" y2="${fmt(top)}" stroke="${COLORS.grid}"/>`,
    `<text x="20" y="${fmt(top + 20)}" font-weight="600" fill="${COLORS.text}">${escapeXml('What Prometheus scraped: leasekit_leader_election_is_leader per replica')}</text>`,
    `<text x="20" y="${fmt(top + 36)}" fill="${COLORS.muted}">${escapeXml(`every ${formatDuration(scraped.scrapeIntervalMs)}; blue: 1 (leader), grey line: 0, gap: no sample (not scraped yet, or the process is gone)`)}</text>`,
  ];
  const lanesTop = top + 48;
  // Replicas in the order of the lanes above; a pod Prometheus saw that is not a replica goes last.
  const order = [...record.replicas.map((r) => r.identity), ...scraped.series.map((s) => s.pod).filter((p) => !record.replicas.some((r) => r.identity === p))];
  order.forEach((pod, i) => {
    const y = lanesTop + i * SCRAPED_LANE + SCRAPED_LANE / 2;
    const series = scraped.series.find((s) => s.pod === pod);
    parts.push(
      `<g class="scraped-lane" data-replica="${escapeXml(pod)}">`,
      `<text x="${LEFT - 12}" y="${fmt(y + 4)}" text-anchor="end" fill="${COLORS.text}">${escapeXml(pod)}</text>`,
    );
    for (const run of runsOf(series?.samples ?? [], scraped.scrapeIntervalMs)) {
      const x1 = x(run.fromMs);
      const x2 = Math.max(x(run.toMs), x1 + 1);
      parts.push(
        run.value === 1
          ? `<rect class="scraped-leader" x="${fmt(x1)}" y="${fmt(y - 7)}" width="${fmt(x2 - x1)}" height="14" fill="${COLORS.scraped}"><title>${escapeXml(`${pod} is_leader 1 from +${((run.fromMs - record.startedAt) / 1000).toFixed(1)} s`)}</title></rect>`
          : `<line x1="${fmt(x1)}" y1="${fmt(y)}" x2="${fmt(x2)}" y2="${fmt(y)}" stroke="${COLORS.life}" stroke-width="2"/>`,
      );
    }
    parts.push('</g>');
  });
  // The kill and the SIGTERM again, so the scrapes can be compared with what happened.
  const lanesBottom = lanesTop + order.length * SCRAPED_LANE;
  for (const signal of record.signals.filter((sg) => sg.purpose !== 'shutdown')) {
    const sx = x(signal.at);
    const color = signal.purpose === 'failover' ? COLORS.kill : COLORS.sigterm;
    parts.push(`<line x1="${fmt(sx)}" y1="${fmt(lanesTop)}" x2="${fmt(sx)}" y2="${fmt(lanesBottom)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="5 3"/>`);
  }
  parts.push('</g>');
  return { svg: parts.join(''), height: 48 + order.length * SCRAPED_LANE };
}

function measuredSpan(m: Measurement, y: number, x: (at: number) => number): string {
  const x1 = x(m.signalAt);
  const x2 = Math.max(x(m.takeoverAt), x1 + 2);
  const color = m.kind === 'failover' ? COLORS.kill : COLORS.sigterm;
  const label =
    m.kind === 'failover'
      ? `failover ${formatDuration(m.takeoverAt - m.signalAt)} after SIGKILL${m.anchorAt !== undefined ? `, ${formatDuration(m.takeoverAt - m.anchorAt)} after the last renew` : ''} (${m.from} → ${m.to})`
      : `graceful handover ${formatDuration(m.takeoverAt - m.signalAt)} after SIGTERM (${m.from} → ${m.to})`;
  const text = textPlacement(label, x1, x2);
  return [
    `<g class="measurement" data-kind="${m.kind}">`,
    `<line x1="${fmt(x1)}" y1="${fmt(y)}" x2="${fmt(x2)}" y2="${fmt(y)}" stroke="${color}" stroke-width="2"/>`,
    `<line x1="${fmt(x1)}" y1="${fmt(y - 6)}" x2="${fmt(x1)}" y2="${fmt(y + 6)}" stroke="${color}" stroke-width="2"/>`,
    `<line x1="${fmt(x2)}" y1="${fmt(y - 6)}" x2="${fmt(x2)}" y2="${fmt(y + 6)}" stroke="${color}" stroke-width="2"/>`,
    `<text x="${fmt(text.x)}" y="${fmt(text.above ? y - 9 : y + 4)}" text-anchor="${text.anchor}" fill="${color}" font-weight="600">${escapeXml(label)}</text>`,
    `</g>`,
  ].join('');
}

/** One rolling update of `--rollout`: its extent, leadership changes and leaderless time. */
function rolloutSpan(p: RolloutPhaseRecord, y: number, x: (at: number) => number): string {
  const color = p.variant === 'newest' ? COLORS.handover : COLORS.sigterm;
  const label = `rollout ${p.label}: ${p.changes} leadership change${p.changes === 1 ? '' : 's'}, leaderless ${formatDuration(p.leaderlessMs)}`;
  return countedSpan(`class="rollout" data-variant="${p.variant}"`, p, label, color, y, x);
}

/** The coordinated scene's takeover: from the oldest candidate's start until it leads. */
function coordinatedSpan(c: CoordinatedRecord, y: number, x: (at: number) => number): string {
  const label = `coordinated: ${c.changes} leadership change${c.changes === 1 ? '' : 's'}, leaderless ${formatDuration(c.leaderlessMs)} after ${c.oldest} joined`;
  return countedSpan(`class="coordinated"`, c, label, COLORS.handover, y, x);
}

/** A span under the axis with its leadership changes and leaderless time. */
function countedSpan(
  attributes: string,
  p: { startAt: number; endAt: number; changes: number; leaderlessMs: number },
  label: string,
  color: string,
  y: number,
  x: (at: number) => number,
): string {
  const x1 = x(p.startAt);
  const x2 = Math.max(x(p.endAt), x1 + 2);
  const text = textPlacement(label, x1, x2);
  return [
    `<g ${attributes} data-changes="${p.changes}" data-leaderless-ms="${fmt(p.leaderlessMs)}">`,
    `<line x1="${fmt(x1)}" y1="${fmt(y)}" x2="${fmt(x2)}" y2="${fmt(y)}" stroke="${color}" stroke-width="2"/>`,
    `<line x1="${fmt(x1)}" y1="${fmt(y - 6)}" x2="${fmt(x1)}" y2="${fmt(y + 6)}" stroke="${color}" stroke-width="2"/>`,
    `<line x1="${fmt(x2)}" y1="${fmt(y - 6)}" x2="${fmt(x2)}" y2="${fmt(y + 6)}" stroke="${color}" stroke-width="2"/>`,
    `<text x="${fmt(text.x)}" y="${fmt(text.above ? y - 9 : y + 4)}" text-anchor="${text.anchor}" fill="${color}" font-weight="600">${escapeXml(label)}</text>`,
    `</g>`,
  ].join('');
}

/**
 * Where a span's label goes: right of the span if it fits, else left of it, else above it.
 * Widths are estimated (about 7 px per character of bold 12 px text), since the SVG is written
 * without a renderer to measure it.
 */
export function textPlacement(label: string, x1: number, x2: number): { x: number; anchor: 'start' | 'end'; above: boolean } {
  const width = label.length * 7;
  if (x2 + 8 + width <= WIDTH - 8) return { x: x2 + 8, anchor: 'start', above: false };
  if (x1 - 8 - width >= 8) return { x: x1 - 8, anchor: 'end', above: false };
  return { x: Math.max(8, Math.min(x1, WIDTH - 8 - width)), anchor: 'start', above: true };
}
