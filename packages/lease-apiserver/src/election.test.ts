import { describe, expect, it } from '@jest/globals';
import type { LeaseCandidate } from '@leasekit/k8s-leaderelection/testing';
import { isLeaseExpired, pickOldestEmulationVersion, pickStrategy } from './election.js';

const c = (name: string, emulationVersion: string, binaryVersion = '1.33.0', created = '2026-01-01T00:00:00Z', strategy = 'OldestEmulationVersion'): LeaseCandidate => ({
  metadata: { name, creationTimestamp: created },
  spec: { leaseName: 'x', emulationVersion, binaryVersion, strategy },
});

describe('pickOldestEmulationVersion', () => {
  it('ranks by emulation version, then binary version, then age', () => {
    expect(pickOldestEmulationVersion([c('a', '1.33.0'), c('b', '1.31.0'), c('c', '1.32.0')])?.metadata?.name).toBe('b');
    expect(pickOldestEmulationVersion([c('a', '1.31.0', '1.33.0'), c('b', '1.31.0', '1.32.0')])?.metadata?.name).toBe('b');
    expect(pickOldestEmulationVersion([c('young', '1.31.0', '1.33.0', '2026-01-02T00:00:00Z'), c('old', '1.31.0', '1.33.0', '2026-01-01T00:00:00Z')])?.metadata?.name).toBe('old');
  });

  it('keeps the first of a full tie, and passes over versions that do not parse', () => {
    expect(pickOldestEmulationVersion([c('first', '1.31.0'), c('second', '1.31.0')])?.metadata?.name).toBe('first');
    expect(pickOldestEmulationVersion([c('broken', 'one'), c('ok', '1.33.0')])?.metadata?.name).toBe('ok');
    expect(pickOldestEmulationVersion([c('empty', '')])).toBeUndefined();
  });

  it('reads versions tolerantly, as the real ranking does (v prefix, missing patch)', () => {
    expect(pickOldestEmulationVersion([c('a', '1.32.0'), c('b', 'v1.31')])?.metadata?.name).toBe('b');
  });
});

describe('pickStrategy', () => {
  it('takes the strategy of the newest binary version, and none when those disagree', () => {
    expect(pickStrategy([c('a', '1.31.0', '1.31.0', undefined, 'example.com/old'), c('b', '1.33.0', '1.33.0')])).toBe('OldestEmulationVersion');
    expect(pickStrategy([c('a', '1.33.0', '1.33.0', undefined, 'example.com/x'), c('b', '1.33.0', '1.33.0')])).toBeUndefined();
  });
});

describe('isLeaseExpired', () => {
  it('is expired only after renewTime + leaseDurationSeconds, and without either', () => {
    const renewTime = '2026-01-01T00:00:00.000000Z';
    const at = Date.parse(renewTime);
    expect(isLeaseExpired({ spec: { renewTime, leaseDurationSeconds: 5 } }, at + 5000)).toBe(false);
    expect(isLeaseExpired({ spec: { renewTime, leaseDurationSeconds: 5 } }, at + 5001)).toBe(true);
    expect(isLeaseExpired({ spec: { leaseDurationSeconds: 5 } }, at)).toBe(true);
    expect(isLeaseExpired({ spec: { renewTime } }, at)).toBe(true);
  });
});
