/**
 * The retry storm, over real HTTP: three followers (client-node KubeConfig clients) on a free
 * Lease on the embedded server at 127.0.0.1, every write answered 500 or 403 (a denying webhook). Each
 * follower's requests, counted by the server, must stay within client-go's budget for the measured
 * window: floor(W / R) + 1 GETs, as many writes, twice that in all. A count bound, not a timing
 * assertion: a slow machine only lowers the counts. (503 with Retry-After 1 s is left to the
 * benchmark: at a 200 ms retry period the Retry-After alone spaces the tries, so it tests little.)
 */
import { describe, expect, it } from '@jest/globals';
import { runStorm, type StormRun } from '../storm.js';

const TIMINGS = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 250 };
const WINDOW_MS = 2000;

function rows(runs: readonly StormRun[]) {
  return runs.flatMap((r) =>
    r.followers.map((f) => ({ kind: r.kind, strategy: r.strategy, follower: f.identity, gets: f.gets, writes: f.writes, total: f.total, budget: r.budget, over: f.reasons })),
  );
}

describe('the retry storm, every write failing', () => {
  it('keeps every follower within client-go request budget, watching or polling', async () => {
    const storm = await runStorm({ kinds: ['500', '403'], durationMs: WINDOW_MS, timings: TIMINGS });
    expect(storm.runs.map((r) => `${r.kind} ${r.strategy}`)).toEqual(['500 watch', '500 poll', '403 watch', '403 poll']);

    // The scenario did what it claims: everyone kept trying and failing, and the tally is whole.
    for (const run of storm.runs) {
      expect({ run: `${run.kind} ${run.strategy}`, leaders: run.leaders, unreported: run.unreportedRequests, followers: run.followers.length }).toEqual({
        run: `${run.kind} ${run.strategy}`,
        leaders: 0,
        unreported: 0,
        followers: 3,
      });
      for (const f of run.followers) {
        expect({ follower: f.identity, tried: f.gets >= 1 && f.writes >= 1 }).toEqual({ follower: f.identity, tried: true });
      }
    }

    // The budget: nobody over it (a failure lists every follower that was, with its counts).
    expect(rows(storm.runs).filter((r) => r.over.length > 0)).toEqual([]);
  }, 60_000);
});
