import { describe, expect, it } from '@jest/globals';
import type { DemoRecord } from './record.js';
import { escapeXml, renderTimelineSvg, textPlacement, tickStepSeconds } from './svg.js';
import { xmlProblems } from './__tests__/xml.js';

const T0 = 1_700_000_000_000;

function sampleRecord(): DemoRecord {
  const replica = (identity: string, pid: number) => ({
    identity, forkedAt: T0, pid, port: 40000 + pid, readyAt: T0 + 1000, exitedAt: undefined as number | undefined, exit: undefined as string | undefined, terms: [] as DemoRecord['replicas'][number]['terms'],
  });
  const a = replica('replica-1', 1);
  const b = replica('replica-2', 2);
  const c = replica('replica-<3>&"', 3);
  a.terms.push({ startAt: T0 + 1100, token: 1, endAt: T0 + 4000, endedBy: 'SIGKILL' });
  a.exitedAt = T0 + 4000;
  a.exit = 'SIGKILL';
  b.terms.push({ startAt: T0 + 6000, token: 2, endAt: T0 + 9000, endedBy: 'released' });
  b.exitedAt = T0 + 9050;
  b.exit = 'exit 0';
  c.terms.push({ startAt: T0 + 9030, token: 3, endAt: undefined, endedBy: undefined });
  return {
    startedAt: T0,
    endedAt: T0 + 11_000,
    target: 'embedded server http://127.0.0.1:1234',
    leaseName: 'leasekit-demo',
    leaseNamespace: 'default',
    leaseDurationMs: 2000,
    followerStrategy: 'watch',
    replicas: [a, b, c],
    signals: [
      { signal: 'SIGKILL', target: 'replica-1', at: T0 + 4000, purpose: 'failover' },
      { signal: 'SIGTERM', target: 'replica-2', at: T0 + 9000, purpose: 'handover' },
    ],
    measurements: [
      { kind: 'failover', from: 'replica-1', to: 'replica-2', signalAt: T0 + 4000, takeoverAt: T0 + 6000, anchorAt: T0 + 3900 },
      { kind: 'handover', from: 'replica-2', to: 'replica-<3>&"', signalAt: T0 + 9000, takeoverAt: T0 + 9030, anchorAt: T0 + 9010 },
    ],
  };
}

describe('renderTimelineSvg', () => {
  it('writes a well-formed SVG document', () => {
    const svg = renderTimelineSvg(sampleRecord());
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  });

  it('draws one lane per replica and one bar per term', () => {
    const svg = renderTimelineSvg(sampleRecord());
    expect(svg.match(/<g class="lane"/g)).toHaveLength(3);
    expect(svg.match(/<rect class="term"/g)).toHaveLength(3);
  });

  it('marks the kill, the SIGTERM, the dead leader\'s lingering Lease and both measurements', () => {
    const svg = renderTimelineSvg(sampleRecord());
    expect(svg).toContain('data-signal="SIGKILL" data-target="replica-1"');
    expect(svg).toContain('data-signal="SIGTERM" data-target="replica-2"');
    expect(svg).toContain('class="dead-lease"');
    expect(svg).toContain('data-kind="failover"');
    expect(svg).toContain('data-kind="handover"');
    expect(svg).toContain('failover 2.000 s after SIGKILL, 2.100 s after the last renew');
    expect(svg).toContain('graceful handover 30 ms after SIGTERM');
  });

  it('escapes names, so a replica called <3>&" cannot break the document', () => {
    const svg = renderTimelineSvg(sampleRecord());
    expect(svg).toContain('replica-&lt;3&gt;&amp;&quot;');
    expect(svg).not.toContain('replica-<3>');
  });

  it('without --prometheus, draws no scraped section', () => {
    expect(renderTimelineSvg(sampleRecord())).not.toContain('class="scraped');
  });

  it('with --prometheus, draws the scraped is_leader series in a lane per replica: a bar where it was 1', () => {
    const record = sampleRecord();
    const points = (fromS: number, values: number[]) => values.map((value, i) => ({ atMs: T0 + (fromS + i) * 1000, value }));
    record.scraped = {
      scrapeIntervalMs: 1000,
      startMs: T0 + 2000,
      endMs: T0 + 10_000,
      series: [
        { pod: 'replica-1', samples: points(2, [1, 1]) },
        { pod: 'replica-2', samples: points(2, [0, 0, 0, 0, 1, 1, 1]) },
      ],
    };
    const svg = renderTimelineSvg(record);
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toContain('<g class="scraped" data-scrape-interval-ms="1000">');
    // One lane per replica, in the order of the lanes above, even for one Prometheus never saw.
    expect([...svg.matchAll(/<g class="scraped-lane" data-replica="([^"]*)"/g)].map((m) => m[1])).toEqual(['replica-1', 'replica-2', 'replica-&lt;3&gt;&amp;&quot;']);
    expect(svg.match(/<rect class="scraped-leader"/g)).toHaveLength(2);
    expect(svg).toContain('replica-2 is_leader 1 from +6.0 s');
    // The picture grows to hold the section.
    const height = (doc: string): number => Number(/height="([\d.]+)"/.exec(doc)![1]);
    expect(height(svg)).toBeGreaterThan(height(renderTimelineSvg(sampleRecord())));
  });

  it('keeps a signal label inside the picture when the signal is near its right edge', () => {
    const record = { ...sampleRecord(), signals: [{ signal: 'SIGTERM' as const, target: 'replica-2', at: T0 + 10_900, purpose: 'handover' as const }] };
    expect(renderTimelineSvg(record)).toMatch(/<text x="[\d.]+" y="\d+" text-anchor="end" fill="#d97706" font-weight="600">SIGTERM replica-2<\/text>/);
  });

  it('with --rollout, draws each rolling update with its leadership changes and leaderless time, and the SIGTERMs without labels', () => {
    const record: DemoRecord = {
      ...sampleRecord(),
      measurements: [],
      signals: [
        { signal: 'SIGTERM', target: 'replica-<1>&"', at: T0 + 3000, purpose: 'rollout' },
        { signal: 'SIGTERM', target: 'replica-2', at: T0 + 8000, purpose: 'rollout' },
      ],
      rollout: [
        { variant: 'release', label: '(a) SIGTERM, old replicas release', startAt: T0 + 2000, endAt: T0 + 6000, changes: 3, leaderlessMs: 60, leaders: [] },
        { variant: 'newest', label: "(b) SIGTERM, old replicas with handoverOnShutdown: 'newest'", startAt: T0 + 7000, endAt: T0 + 10_000, changes: 1, leaderlessMs: 12.5, leaders: [] },
      ],
    };
    const svg = renderTimelineSvg(record);
    expect(xmlProblems(svg)).toEqual([]);
    expect([...svg.matchAll(/<g class="rollout" data-variant="(\w+)" data-changes="(\d+)" data-leaderless-ms="([\d.]+)"/g)].map((m) => m.slice(1))).toEqual([
      ['release', '3', '60'],
      ['newest', '1', '12.5'],
    ]);
    expect(svg).toContain('rollout (a) SIGTERM, old replicas release: 3 leadership changes, leaderless 60 ms');
    expect(svg).toContain('rollout (b) SIGTERM, old replicas with handoverOnShutdown: &apos;newest&apos;: 1 leadership change, leaderless 13 ms');
    expect(svg).toContain('data-signal="SIGTERM" data-target="replica-&lt;1&gt;&amp;&quot;"');
    // Many signals: names in tooltips only, and no SIGKILL in the legend (a rollout kills nobody).
    expect(svg).not.toContain('>SIGTERM replica-2</text>');
    expect(svg).toContain('<title>SIGTERM replica-2</title>');
    expect(svg).not.toContain('>SIGKILL</text>');
  });

  it('with --coordinated, draws the takeover by the oldest candidate with its leadership changes and leaderless time', () => {
    const record: DemoRecord = {
      ...sampleRecord(),
      measurements: [],
      signals: [],
      coordinated: { versions: { 'replica-1': '1.33.0' }, oldest: 'replica-3', neverLed: ['replica-1'], startAt: T0 + 5000, endAt: T0 + 7000, changes: 1, leaderlessMs: 40, leaders: ['replica-2', 'replica-3'] },
    };
    const svg = renderTimelineSvg(record);
    expect(xmlProblems(svg)).toEqual([]);
    expect(svg).toMatch(/<g class="coordinated" data-changes="1" data-leaderless-ms="40">/);
    expect(svg).toContain('coordinated: 1 leadership change, leaderless 40 ms after replica-3 joined');
  });

  it('still draws a run that ended before any measurement (an interrupted demo)', () => {
    const record = { ...sampleRecord(), measurements: [], signals: [] };
    expect(xmlProblems(renderTimelineSvg(record))).toEqual([]);
  });
});

describe('svg helpers', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  });

  it('chooses at most about twelve axis ticks', () => {
    expect(tickStepSeconds(5)).toBe(0.5);
    expect(tickStepSeconds(12)).toBe(1);
    expect(tickStepSeconds(50)).toBe(5);
    expect(tickStepSeconds(100_000)).toBe(600);
  });

  it('puts a label right of a span when it fits, else left, else above', () => {
    expect(textPlacement('short', 100, 110)).toEqual({ x: 118, anchor: 'start', above: false });
    expect(textPlacement('x'.repeat(40), 900, 950)).toEqual({ x: 892, anchor: 'end', above: false });
    expect(textPlacement('x'.repeat(100), 200, 900).above).toBe(true);
  });
});
