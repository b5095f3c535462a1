import { describe, expect, it } from '@jest/globals';
import { gridStepMs, leaderSeriesQuery, leaderSequence, runsOf, scrapeLeaderSeries, scrapedTimelineLines, type ScrapedRecord } from './scraped.js';

const T0 = 1_700_000_000_000;
const at = (s: number): number => T0 + s * 1000;
const samples = (fromS: number, values: number[]): { atMs: number; value: number }[] => values.map((value, i) => ({ atMs: at(fromS + i), value }));

/** replica-1 leads, is killed after its sample at 3 s; replica-2 takes over at 5 s; replica-3 follows throughout. */
function record(): ScrapedRecord {
  return {
    scrapeIntervalMs: 1000,
    startMs: at(0),
    endMs: at(8),
    series: [
      { pod: 'replica-1', samples: samples(0, [1, 1, 1, 1]) },
      { pod: 'replica-2', samples: samples(0, [0, 0, 0, 0, 0, 1, 1, 1, 1]) },
      { pod: 'replica-3', samples: samples(0, [0, 0, 0, 0, 0, 0, 0, 0, 0]) },
    ],
  };
}

describe('runsOf', () => {
  it('holds each value until the next sample, and the last one for one scrape interval (the failed scrape)', () => {
    expect(runsOf(samples(0, [0, 0, 1, 1]), 1000)).toEqual([
      { fromMs: at(0), toMs: at(2), value: 0 },
      { fromMs: at(2), toMs: at(4), value: 1 },
    ]);
  });

  it('ends a run at a gap of missed scrapes', () => {
    const gap = [...samples(0, [1, 1]), ...samples(5, [1])];
    expect(runsOf(gap, 1000)).toEqual([
      { fromMs: at(0), toMs: at(2), value: 1 },
      { fromMs: at(5), toMs: at(6), value: 1 },
    ]);
  });
});

describe('leaderSequence', () => {
  it('names the replicas that reported is_leader 1, in the order of their terms', () => {
    expect(leaderSequence(record())).toEqual([
      { pod: 'replica-1', fromMs: at(0), toMs: at(4) },
      { pod: 'replica-2', fromMs: at(5), toMs: at(9) },
    ]);
  });
});

describe('scrapedTimelineLines', () => {
  it('draws one row per replica, one column per scrape, and names the leaders in order', () => {
    const lines = scrapedTimelineLines(record(), at(-2));
    expect(lines[0]).toMatch(/^leasekit_leader_election_is_leader as Prometheus scraped it every 1000 ms, from \+2\.0s/);
    expect(lines.slice(1, 4)).toEqual(['  replica-1  ####', '  replica-2  .....####', '  replica-3  .........']);
    expect(lines[4]).toBe('is_leader=1 as Prometheus saw it: replica-1 +2.0s..+6.0s, then replica-2 +7.0s..+11.0s');
  });

  it('says so when no replica reported leading', () => {
    const quiet: ScrapedRecord = { ...record(), series: [{ pod: 'replica-1', samples: samples(0, [0, 0]) }] };
    expect(scrapedTimelineLines(quiet, T0).at(-1)).toBe('Prometheus saw no leader');
  });

  it('widens the columns so a long run stays within 100 of them', () => {
    expect(gridStepMs(20_000, 500)).toBe(500);
    expect(gridStepMs(120_000, 500)).toBe(1500);
  });
});

describe('scrapeLeaderSeries', () => {
  it("asks Prometheus for the lease's raw samples over the whole run and sorts the replicas", async () => {
    const asked: { expr: string; atMs: number }[] = [];
    const fake = {
      querySamples: async (expr: string, atMs: number) => {
        asked.push({ expr, atMs });
        return [
          { labels: { pod: 'replica-10', name: 'l' }, points: samples(2, [0]) },
          { labels: { pod: 'replica-2', name: 'l' }, points: samples(1, [1, 1]) },
        ];
      },
    };
    const scraped = await scrapeLeaderSeries(fake, 'l"x', at(0), at(9.5), 500);
    expect(asked).toEqual([{ expr: 'leasekit_leader_election_is_leader{name="l\\"x"}[11s]', atMs: at(9.5) }]);
    expect(scraped.series.map((s) => s.pod)).toEqual(['replica-2', 'replica-10']);
    expect({ startMs: scraped.startMs, endMs: scraped.endMs }).toEqual({ startMs: at(1), endMs: at(2) });
    expect(leaderSeriesQuery('demo')).toBe('leasekit_leader_election_is_leader{name="demo"}');
  });
});
