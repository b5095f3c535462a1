/**
 * client-go's view of the Lease in a test world: its observed time (restarted only when the
 * record's whole-second JSON changes, or when it writes), and a follower that polls that view.
 */
import { goFollowerKey, recordFromLease, type LeaderElectionRecord } from '../record.js';
import { LEASE, NS, type World } from './harness.js';

/** client-go's observed time of the record it last saw. */
export interface GoObservation {
  /** Sees `record` at `nowMs`; true when it is new to client-go (its whole-second JSON changed): the observed time restarts. */
  see(record: LeaderElectionRecord, nowMs: number): boolean;
  /** Its own successful write of `record` at `nowMs`: the observed time restarts. */
  wrote(record: LeaderElectionRecord, nowMs: number): void;
  /** Whether it has seen any record yet. */
  seen(): boolean;
  observedAtMs(): number;
}

export function goObservation(): GoObservation {
  let lastKey: string | undefined;
  let observedAt = 0;
  return {
    see(record, nowMs) {
      const key = goFollowerKey(record);
      if (key === lastKey) return false;
      lastKey = key;
      observedAt = nowMs;
      return true;
    },
    wrote(record, nowMs) {
      lastKey = goFollowerKey(record);
      observedAt = nowMs;
    },
    seen: () => lastKey !== undefined,
    observedAtMs: () => observedAt,
  };
}

export interface GoFollowerView {
  /** When it first saw the record it holds now. */
  observedAtMs(): number;
  /** The lease duration that record names, in ms (0 before it saw one). */
  durationMs(): number;
  /** Reads the Lease as client-go's follower would. */
  poll(): void;
}

/** A client-go follower (it never writes), polled by the test at the steps it chooses. */
export function goFollower(w: World): GoFollowerView {
  const observation = goObservation();
  let durationMs = 0;
  return {
    observedAtMs: () => observation.observedAtMs(),
    durationMs: () => durationMs,
    poll() {
      const lease = w.store.peek(NS, LEASE);
      if (!lease) return;
      const { record } = recordFromLease(lease);
      if (observation.see(record, w.clock.now())) durationMs = (record.leaseDurationSeconds ?? 0) * 1000;
    },
  };
}
