/**
 * Minimized cases of elector bugs the simulator found, kept as regression tests now that the
 * elector's owner has fixed them (each failed before its fix).
 */
import { describe, expect, it } from '@jest/globals';
import { Elector, type LeaderCallbacks } from '@leasekit/k8s-leaderelection';
import { FakeClock, LeaseStore, MemoryLeaseClient, seededRandom } from '@leasekit/k8s-leaderelection/testing';
import { ReplicaClock } from './replica-clock.js';
import { SimClient } from './sim-client.js';

const TIMING = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 800 } as const;

interface Proc {
  id: string;
  clock: ReplicaClock;
  elector: Elector;
  stop: AbortController;
  done?: Promise<void>;
}

describe('elector bugs the simulator found (fixed; seeds in docs/reliability.md)', () => {
  // Found as S2/S3 violations in sweeps with the pause-in-flight fault, e.g. `pnpm sim --seed 3 --minutes 3`.
  // b's acquiring PUT commits; b's process is paused before it handles the answer; the lease
  // expires and c takes over; b resumes and handles the (successful) answer. Before the fix,
  // wrote() refused late answers only while leading, so lead() called onStartedLeading with a live
  // signal and a stale token while c led.
  it('never calls onStartedLeading with a live signal for an acquisition answered after its guarantee ran out', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    store.create('default', { metadata: { name: 'l' }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 } });
    const starts: { id: string; signalLive: boolean; otherLeaders: string[] }[] = [];
    const procs: Proc[] = [];
    const make = (id: string, pauseOnFirstWrite: boolean): Proc => {
      const rc = new ReplicaClock(clock);
      let armed = pauseOnFirstWrite;
      const memory = new MemoryLeaseClient(store, {
        clock,
        fault: (call) => {
          if (armed && call.verb === 'update') {
            armed = false;
            rc.pause(); // the process stops while its write is at the server
          }
          return undefined;
        },
      });
      const proc: Proc = { id, clock: rc, stop: new AbortController(), elector: undefined as unknown as Elector };
      const callbacks: LeaderCallbacks = {
        onStartedLeading: (signal) => {
          starts.push({ id, signalLive: !signal.aborted, otherLeaders: procs.filter((p) => p !== proc && p.elector.isLeader()).map((p) => p.id) });
        },
      };
      proc.elector = new Elector(
        { identity: id, leaseName: 'l', leaseNamespace: 'default', ...TIMING, clock: rc, random: seededRandom(id.charCodeAt(0)), followerStrategy: 'poll' },
        new SimClient(memory, rc, { responseLatencyMs: () => 5 }),
        callbacks,
        {},
      );
      procs.push(proc);
      return proc;
    };
    const b = make('b', true);
    const c = make('c', false);
    b.done = b.elector.run(b.stop.signal);
    await clock.advance(1_000);
    c.done = c.elector.run(c.stop.signal);
    await clock.advance(12_000);
    expect(c.elector.isLeader()).toBe(true);
    b.clock.resume();
    await clock.advance(50);

    const lateStarts = starts.filter((s) => s.id === 'b');
    for (const p of procs) p.stop.abort();
    await clock.advance(30_000);
    await Promise.all(procs.map((p) => p.done));
    // Wanted: b does not start a term at all (or at least not with a live signal while c leads).
    expect(lateStarts.filter((s) => s.signalLive && s.otherLeaders.length > 0)).toEqual([]);
  });
});
