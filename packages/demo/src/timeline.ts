/**
 * The live timeline: one line per happening, with the time since the demo started, who it is
 * about, and what happened. Formatting lives here (pure functions), printing is one callback.
 */
import type { LeaseChange } from './lease-view.js';
import type { ReplicaMessage } from './protocol.js';

/** Width of the "who" column: fits `replica-20` and `lease`. */
const WHO_WIDTH = 11;

/** Formats a duration for people: `45 ms` below a second, else `2.013 s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return Math.abs(ms) < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(3)} s`;
}

/** `+12.345s`, right-aligned, relative to the demo's start. */
export function formatOffset(atMs: number, startMs: number): string {
  return `+${((atMs - startMs) / 1000).toFixed(3)}s`.padStart(9);
}

/** Prints timeline lines through `out`, relative to `startMs`. */
export class Timeline {
  constructor(
    private readonly startMs: number,
    private readonly out: (line: string) => void,
  ) {}

  /** One line: time, who, what. */
  line(atMs: number, who: string, what: string): void {
    this.out(`${formatOffset(atMs, this.startMs)}  ${who.padEnd(WHO_WIDTH)} ${what}`);
  }
}

/** What a replica's message means, in words; undefined for messages not worth a line. */
export function describeMessage(message: ReplicaMessage): string | undefined {
  switch (message.type) {
    case 'ready':
      return `ready: pid ${message.pid}, serving http://127.0.0.1:${message.port}/metrics and /healthz`;
    case 'stopped':
      return 'run() resolved: leader work stopped, Lease released if it held it; exiting';
    case 'log':
      return `${message.level}: ${message.message}`;
    case 'event':
      switch (message.event) {
        case 'leader.election.started':
          return 'leader.election.started';
        case 'leader.observed':
          return `leader.observed: ${message.leader ?? '?'}${message.leader === message.identity ? ' (itself)' : ''}`;
        case 'leader.became':
          return `leader.became (fencing token ${message.token ?? '?'})  <== LEADER`;
        case 'leader.lost':
          return `leader.lost (reason ${message.reason ?? '?'}, token ${message.token ?? '?'})`;
      }
  }
  return undefined;
}

/** What a change of the Lease means, in words. */
export function describeLeaseChange(change: LeaseChange, coordinated = false): string {
  const { record, previous } = change;
  const transitions = `transitions ${record.leaseTransitions}`;
  const preferred = record.preferredHolder !== undefined && record.preferredHolder !== '' && record.preferredHolder !== record.holderIdentity;
  const preferredText = preferred ? `, preferredHolder ${record.preferredHolder}` : '';
  if (record.holderIdentity === '') {
    return previous && previous.holderIdentity !== '' ? `released by ${previous.holderIdentity}: holder empty, ${transitions}` : `free (no holder), ${transitions}`;
  }
  const duration = record.leaseDurationSeconds === null ? '' : `, leaseDurationSeconds ${record.leaseDurationSeconds}`;
  let how = '';
  if (coordinated) {
    if (preferred) how = ` (the coordinator prefers ${record.preferredHolder}: ${record.holderIdentity} should yield)`;
    else if (!previous || previous.holderIdentity !== record.holderIdentity) how = ` (named by the coordinator; ${record.holderIdentity} takes it with its next write)`;
    else how = ` (${record.holderIdentity}'s own write over the coordinator's: it leads)`;
  } else if (previous) {
    if (previous.holderIdentity === '') how = ' (acquired a free Lease)';
    else if (previous.holderIdentity !== record.holderIdentity && change.handoverFrom === previous.holderIdentity) how = ` (handed over by ${previous.holderIdentity}; ${record.holderIdentity} takes it with its next write)`;
    else if (previous.holderIdentity !== record.holderIdentity) how = ` (taken over from ${previous.holderIdentity} after it expired)`;
  }
  return `holder ${record.holderIdentity}, ${transitions}${duration}${preferredText}${how}`;
}
