import { describe, expect, it } from '@jest/globals';
import type { LeaderElectionRecord } from '@leasekit/k8s-leaderelection';
import { describeLeaseChange, describeMessage, formatDuration, formatOffset } from './timeline.js';
import { formatTable } from './summary.js';

const record = (holderIdentity: string, leaseTransitions: number): LeaderElectionRecord => ({
  holderIdentity, leaseTransitions, leaseDurationSeconds: 2, acquireTimeMs: 0, renewTimeMs: 0,
});

describe('timeline formatting', () => {
  it('prints milliseconds below a second and seconds above', () => {
    expect(formatDuration(41.4)).toBe('41 ms');
    expect(formatDuration(2013.6)).toBe('2.014 s');
    expect(formatDuration(Number.NaN)).toBe('n/a');
  });

  it('prints offsets from the start, aligned', () => {
    expect(formatOffset(1_500, 0)).toBe('  +1.500s');
    expect(formatOffset(12_345, 0)).toBe(' +12.345s');
  });

  it('says how the Lease changed hands', () => {
    expect(describeLeaseChange({ record: record('', 0), previous: undefined, at: 0 })).toBe('free (no holder), transitions 0');
    expect(describeLeaseChange({ record: record('a', 1), previous: record('', 0), at: 0 })).toContain('(acquired a free Lease)');
    expect(describeLeaseChange({ record: record('b', 2), previous: record('a', 1), at: 0 })).toContain('taken over from a after it expired');
    expect(describeLeaseChange({ record: record('b', 2), previous: record('a', 1), at: 0, handoverFrom: 'a' })).toContain('(handed over by a; b takes it with its next write)');
    expect(describeLeaseChange({ record: record('', 2), previous: record('b', 2), at: 0 })).toBe('released by b: holder empty, transitions 2');
  });

  it('describes each bus event a replica forwards', () => {
    expect(describeMessage({ type: 'event', identity: 'r1', event: 'leader.became', at: 0, token: 3 })).toContain('fencing token 3');
    expect(describeMessage({ type: 'event', identity: 'r1', event: 'leader.lost', at: 0, token: 3, reason: 'released' })).toBe('leader.lost (reason released, token 3)');
    expect(describeMessage({ type: 'event', identity: 'r1', event: 'leader.observed', at: 0, leader: 'r1' })).toBe('leader.observed: r1 (itself)');
    expect(describeMessage({ type: 'ready', identity: 'r1', at: 0, pid: 7, port: 9 })).toContain('pid 7');
  });

  it('lays out a table with a rule under the header', () => {
    expect(formatTable(['a', 'bb'], [['xxx', 'y']])).toEqual(['a    bb', '---  --', 'xxx  y']);
  });
});
