import { describe, expect, it } from '@jest/globals';
import { asClaim } from './claim.js';
import type { Lease } from './lease.js';
import type { LogFields, SafeLogger } from './logger.js';
import { LeaseObservation } from './observation.js';
import { leaseWithRecord, type LeaderElectionRecord } from './record.js';
import { FakeClock } from './testing/fake-clock.js';

const D = 15_000;
const TARGET = { name: 'my-lease', namespace: 'default' };

function lease(overrides: Partial<LeaderElectionRecord> = {}, metadata: { uid?: string; resourceVersion?: string } = {}): Lease {
  const record: LeaderElectionRecord = {
    holderIdentity: 'a',
    leaseDurationSeconds: 10,
    acquireTimeMs: Date.UTC(2020, 0, 1),
    renewTimeMs: Date.UTC(2020, 0, 1), // long ago by anyone's wall clock: must not matter
    leaseTransitions: 3,
    ...overrides,
  };
  const built = leaseWithRecord(record, TARGET);
  return { ...built, metadata: { ...built.metadata, uid: metadata.uid ?? 'uid-1', resourceVersion: metadata.resourceVersion ?? '1' } };
}

function setup() {
  const clock = new FakeClock();
  const warnings: { message: string; fields: LogFields | undefined }[] = [];
  const quiet = (): void => undefined;
  const log: SafeLogger = { debug: quiet, info: quiet, error: quiet, warn: (message, fields) => void warnings.push({ message, fields }) };
  const observations = new LeaseObservation({ clock, log, fallbackDurationMs: D });
  return { clock, warnings, observations };
}

describe('LeaseObservation', () => {
  it('times a new record from when this process first saw it, and keeps that time while the record is unchanged', async () => {
    const { clock, observations } = setup();
    await clock.advance(1_000);
    const first = observations.record(lease());
    expect(first.changed).toBe(true);
    expect(first.observation.atMs).toBe(1_000);
    await clock.advance(4_000);
    const again = observations.record(lease({}, { resourceVersion: '2' }));
    expect(again.changed).toBe(false);
    expect(again.observation.atMs).toBe(1_000);
    expect(again.observation.lease.metadata?.resourceVersion).toBe('2'); // the next write uses the newest metadata
  });

  it('restarts the observed time when the record changes or the Lease was recreated with the same record', async () => {
    const { clock, observations } = setup();
    observations.record(lease());
    await clock.advance(1_000);
    expect(observations.record(lease({ renewTimeMs: Date.UTC(2020, 0, 1, 0, 0, 2) })).observation.atMs).toBe(1_000);
    await clock.advance(1_000);
    const recreated = observations.record(lease({ renewTimeMs: Date.UTC(2020, 0, 1, 0, 0, 2) }, { uid: 'uid-2' }));
    expect(recreated.changed).toBe(true);
    expect(recreated.observation.atMs).toBe(2_000);
  });

  it('lets a held record expire after the written duration on the local clock, whatever its renewTime says', async () => {
    const { clock, observations } = setup();
    const { observation } = observations.record(lease({ leaseDurationSeconds: 10 }));
    expect(observations.isExpired(observation)).toBe(false);
    await clock.advance(9_999);
    expect(observations.isExpired(observation)).toBe(false);
    await clock.advance(1);
    expect(observations.expiresAtMs(observation)).toBe(10_000);
    expect(observations.isExpired(observation)).toBe(true);
  });

  it('counts a free lease as expired from its observation, and a held one without a usable duration by our own', async () => {
    const { clock, observations } = setup();
    await clock.advance(500);
    const free = observations.record(lease({ holderIdentity: '' })).observation;
    expect(observations.isExpired(free)).toBe(true);
    const noDuration = observations.record(lease({ leaseDurationSeconds: null })).observation;
    expect(observations.expiresAtMs(noDuration)).toBe(500 + D);
  });

  it('remembers since when the Lease is missing until it is seen again', async () => {
    const { clock, observations } = setup();
    observations.markMissing();
    await clock.advance(3_000);
    observations.markMissing();
    expect(observations.missingSince).toBe(0);
    observations.record(lease());
    expect(observations.missingSince).toBeUndefined();
  });

  it('keeps the highest tokens seen, a claim counting only towards the highest of any record, and the longest held duration', () => {
    const { observations } = setup();
    observations.record(lease({ leaseTransitions: 5, leaseDurationSeconds: 30 }));
    observations.record(asClaim(lease({ holderIdentity: 'b', leaseTransitions: 9, leaseDurationSeconds: 60 }), 'b'));
    observations.record(lease({ holderIdentity: '', leaseTransitions: 2, leaseDurationSeconds: 120 })); // free: no holder's duration
    expect(observations.highestToken).toBe(5);
    expect(observations.highestTokenAny).toBe(9);
    expect(observations.longestSeenDurationMs).toBe(60_000);
  });

  it('warns about malformed content once per kind of problem, not on every read', () => {
    const { warnings, observations } = setup();
    const bad = (rv: string): Lease => ({ ...lease({}, { resourceVersion: rv }), spec: { ...lease().spec, leaseDurationSeconds: -1 } });
    observations.record(bad('1'));
    observations.record(bad('2'));
    expect(warnings.map((w) => w.message)).toEqual(['Malformed lease content; treating it conservatively']);
    observations.record({ ...lease(), spec: { ...lease().spec, leaseTransitions: -4 } });
    expect(warnings).toHaveLength(2);
  });
});
