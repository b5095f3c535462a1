import { describe, expect, it } from '@jest/globals';
import type { Lease } from './lease.js';
import { seededRandom } from './random.js';
import {
  MAX_INT32,
  formatMicroTime,
  isStrictMicroTime,
  leaseWithRecord,
  nextRenewTimeMs,
  parseMicroTime,
  recordFromLease,
  sameRecord,
  specFromRecord,
  type LeaderElectionRecord,
} from './record.js';

const MAY_1 = Date.UTC(2024, 4, 1, 12, 34, 56, 123);

/** Equal to the microsecond (epoch ms near 1.7e12 carry about 0.0002 ms of float noise). */
function expectSameMicros(actual: number | null, expected: number): void {
  expect(actual).not.toBeNull();
  expect(Math.abs(actual! - expected)).toBeLessThan(0.0005);
}

describe('formatMicroTime', () => {
  it.each([
    [MAY_1 + 0.456, '2024-05-01T12:34:56.123456Z'],
    [MAY_1, '2024-05-01T12:34:56.123000Z'],
    [0, '1970-01-01T00:00:00.000000Z'],
    [0.001, '1970-01-01T00:00:00.000001Z'],
    [0.5, '1970-01-01T00:00:00.000500Z'],
    [Date.UTC(2025, 0, 1), '2025-01-01T00:00:00.000000Z'],
    [Date.UTC(1999, 11, 31, 23, 59, 59, 999) + 0.999, '1999-12-31T23:59:59.999999Z'],
  ])('formats %s as %s', (epochMs, text) => {
    expect(formatMicroTime(epochMs)).toBe(text);
  });

  it('always writes six fractional digits in UTC, which the API server accepts', () => {
    const random = seededRandom(11);
    for (let i = 0; i < 2000; i++) {
      const epochMs = Math.floor(random() * 4e12) + Math.floor(random() * 1000) / 1000;
      const text = formatMicroTime(epochMs);
      expect(text).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
      expect(isStrictMicroTime(text)).toBe(true);
      expect(text.slice(0, 19)).toBe(new Date(Math.floor(epochMs)).toISOString().slice(0, 19));
    }
  });

  it('never carries a fraction that rounds up to 1000 us into a seventh digit', () => {
    expect(formatMicroTime(999.9996)).toBe('1970-01-01T00:00:00.999999Z');
  });
});

describe('MicroTime round trip', () => {
  it('gives back every six-digit MicroTime it parsed', () => {
    const random = seededRandom(5);
    for (let i = 0; i < 5000; i++) {
      const fraction = String(Math.floor(random() * 1e6)).padStart(6, '0');
      const seconds = new Date(Math.floor(random() * 4e9) * 1000).toISOString().slice(0, 19);
      const text = `${seconds}.${fraction}Z`;
      expect(formatMicroTime(parseMicroTime(text)!)).toBe(text);
    }
  });

  it('keeps fractions whose decimal value floats just below the microsecond', () => {
    // 0.000021 s is 0.020999... ms in binary floating point.
    expect(formatMicroTime(parseMicroTime('2024-05-01T12:34:56.000021Z')!)).toBe('2024-05-01T12:34:56.000021Z');
    expectSameMicros(parseMicroTime('1970-01-01T00:00:00.000021Z'), 0.021);
  });

  it('parses what it formats to the microsecond', () => {
    const random = seededRandom(9);
    for (let i = 0; i < 2000; i++) {
      const epochMs = Math.floor(random() * 4e12) + Math.floor(random() * 1000) / 1000;
      expectSameMicros(parseMicroTime(formatMicroTime(epochMs)), epochMs);
    }
  });
});

describe('parseMicroTime', () => {
  const base = Date.UTC(2024, 4, 1, 12, 34, 56);

  it.each([
    ['no fractional digits', '2024-05-01T12:34:56Z', base],
    ['three digits', '2024-05-01T12:34:56.123Z', base + 123],
    ['six digits', '2024-05-01T12:34:56.123456Z', base + 123.456],
    ['nine digits (truncated to microseconds)', '2024-05-01T12:34:56.123456789Z', base + 123.456],
    ['one digit', '2024-05-01T12:34:56.5Z', base + 500],
    ['an offset with a colon', '2024-05-01T14:34:56.000001+02:00', base + 0.001],
    ['an offset without a colon', '2024-05-01T14:34:56+0200', base],
    ['a negative half-hour offset', '2024-05-01T07:04:56-05:30', base],
    ['surrounding whitespace', '  2024-05-01T12:34:56Z\n', base],
  ])('reads a time with %s', (_label, text, expected) => {
    expectSameMicros(parseMicroTime(text), expected);
  });

  it('accepts a Date object, as client-node sometimes hands out', () => {
    expect(parseMicroTime(new Date(MAY_1))).toBe(MAY_1);
  });

  it.each([
    ['an invalid Date', new Date(Number.NaN)],
    ['garbage text', 'yesterday'],
    ['an empty string', ''],
    ['a date without a time', '2024-05-01'],
    ['a space instead of T', '2024-05-01 12:34:56Z'],
    ['no zone', '2024-05-01T12:34:56.123456'],
    ['month 13', '2024-13-01T00:00:00Z'],
    ['February 31st', '2024-02-31T00:00:00.000000Z'],
    ['hour 24', '2024-05-01T24:00:00Z'],
    ['a number', 1714566896000],
    ['null', null],
    ['undefined', undefined],
    ['an object', { time: '2024-05-01T12:34:56Z' }],
  ])('returns null for %s', (_label, value) => {
    expect(parseMicroTime(value)).toBeNull();
  });
});

describe('isStrictMicroTime', () => {
  it('accepts exactly six digits in UTC', () => {
    expect(isStrictMicroTime('2024-05-01T12:34:56.123456Z')).toBe(true);
  });

  it.each([
    ["toISOString's three digits", '2024-05-01T12:34:56.123Z'],
    ['no fraction', '2024-05-01T12:34:56Z'],
    ['nine digits', '2024-05-01T12:34:56.123456789Z'],
    ['an offset', '2024-05-01T12:34:56.123456+00:00'],
    ['an impossible date', '2024-02-31T12:34:56.123456Z'],
    ['garbage', 'not a time'],
  ])('rejects %s', (_label, text) => {
    expect(isStrictMicroTime(text)).toBe(false);
  });
});

describe('recordFromLease: well-formed leases', () => {
  it('reads every field of a held lease', () => {
    const { record, problems } = recordFromLease({
      metadata: { name: 'l' },
      spec: {
        holderIdentity: 'pod-a',
        leaseDurationSeconds: 15,
        acquireTime: '2024-05-01T12:34:56.123456Z',
        renewTime: '2024-05-01T12:35:00.000001Z',
        leaseTransitions: 4,
        strategy: 'OldestEmulationVersion',
        preferredHolder: 'pod-b',
      },
    });
    expect(problems).toEqual([]);
    expect(record).toMatchObject({ holderIdentity: 'pod-a', leaseDurationSeconds: 15, leaseTransitions: 4, strategy: 'OldestEmulationVersion', preferredHolder: 'pod-b' });
    expectSameMicros(record.acquireTimeMs, MAY_1 + 0.456);
    expectSameMicros(record.renewTimeMs, Date.UTC(2024, 4, 1, 12, 35) + 0.001);
  });

  it('reads a lease with an empty spec as free, without problems', () => {
    expect(recordFromLease({ metadata: { name: 'l' }, spec: {} })).toEqual({
      record: { holderIdentity: '', leaseDurationSeconds: null, acquireTimeMs: null, renewTimeMs: null, leaseTransitions: 0 },
      problems: [],
    });
  });

  it.each([null, undefined])('reads a %s lease as free, without problems', (lease) => {
    const { record, problems } = recordFromLease(lease);
    expect(record.holderIdentity).toBe('');
    expect(problems).toEqual([]);
  });

  it('reads null fields (omitted by the API) as unset, without problems', () => {
    const { record, problems } = recordFromLease({
      spec: { holderIdentity: null, leaseDurationSeconds: null, acquireTime: null, renewTime: null, leaseTransitions: null },
    });
    expect(problems).toEqual([]);
    expect(record.holderIdentity).toBe('');
    expect(record.leaseTransitions).toBe(0);
  });
});

describe('recordFromLease: malformed leases never throw and report problems', () => {
  const malformed = (spec: unknown): Lease => ({ metadata: { name: 'l' }, spec } as unknown as Lease);

  it.each([
    ['no spec', { metadata: { name: 'l' } } as Lease],
    ['a null spec', malformed(null)],
    ['an array spec', malformed([{ holderIdentity: 'pod-a' }])],
    ['a string spec', malformed('pod-a')],
  ])('reports a lease with %s', (_label, lease) => {
    const { record, problems } = recordFromLease(lease);
    expect(problems).toEqual(['lease has no spec']);
    expect(record.holderIdentity).toBe('');
  });

  it.each([
    ['a number', 42],
    ['an object', { name: 'pod-a' }],
    ['a boolean', true],
    ['an array', ['pod-a']],
  ])('treats a holderIdentity that is %s as held by an unknown holder, never as free', (_label, holderIdentity) => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity, leaseDurationSeconds: 15 }));
    expect(record.holderIdentity).not.toBe('');
    expect(typeof record.holderIdentity).toBe('string');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('holderIdentity');
  });

  it('gives garbage holders of one type one stable identity, so the lease can still expire instead of looking renewed on every read', () => {
    expect(recordFromLease(malformed({ holderIdentity: 1 })).record.holderIdentity).toBe(recordFromLease(malformed({ holderIdentity: 2 })).record.holderIdentity);
  });

  it.each([
    ['text', 'yesterday'],
    ['a number', 1714566896],
    ['an object', {}],
  ])('reports a renewTime given as %s and reads it as no time', (_label, renewTime) => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', renewTime }));
    expect(record.renewTimeMs).toBeNull();
    expect(record.holderIdentity).toBe('pod-a');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('renewTime');
  });

  it('reads a three-digit renewTime that another client wrote, without a problem', () => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', renewTime: '2024-05-01T12:34:56.123Z' }));
    expect(record.renewTimeMs).toBe(MAY_1);
    expect(problems).toEqual([]);
  });

  it('reports an unparsable acquireTime and keeps the other fields', () => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', acquireTime: 'soon', leaseDurationSeconds: 15, leaseTransitions: 2 }));
    expect(record).toMatchObject({ holderIdentity: 'pod-a', acquireTimeMs: null, leaseDurationSeconds: 15, leaseTransitions: 2 });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('acquireTime');
    expect(problems[0]).toContain('"soon"');
  });

  it.each([
    ['negative', -5],
    ['zero', 0],
    ['not an integer', 1.5],
    ['a string', '15'],
    ['a boolean', true],
  ])('drops a leaseDurationSeconds that is %s and reports it', (_label, leaseDurationSeconds) => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', leaseDurationSeconds }));
    expect(record.leaseDurationSeconds).toBeNull();
    expect(record.holderIdentity).toBe('pod-a');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('leaseDurationSeconds');
  });

  it('keeps a huge leaseDurationSeconds (waiting longer is safe) but reports that it exceeds an int32', () => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', leaseDurationSeconds: 2 ** 40 }));
    expect(record.leaseDurationSeconds).toBe(2 ** 40);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('int32');
  });

  it('accepts the largest int32 duration without a problem', () => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', leaseDurationSeconds: MAX_INT32 }));
    expect(record.leaseDurationSeconds).toBe(MAX_INT32);
    expect(problems).toEqual([]);
  });

  it.each([
    ['negative', -1],
    ['not an integer', 2.5],
    ['a string', '3'],
  ])('reads a leaseTransitions that is %s as 0 and reports it', (_label, leaseTransitions) => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', leaseTransitions }));
    expect(record.leaseTransitions).toBe(0);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain('leaseTransitions');
  });

  it('caps a leaseTransitions beyond an int32 and reports it', () => {
    const { record, problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', leaseTransitions: 2 ** 40 }));
    expect(record.leaseTransitions).toBe(MAX_INT32);
    expect(problems).toHaveLength(1);
  });

  it('reports every problem of a lease that is wrong everywhere', () => {
    const { problems } = recordFromLease(malformed({ holderIdentity: 7, leaseDurationSeconds: 0, acquireTime: 'x', renewTime: 'y', leaseTransitions: -1 }));
    expect(problems).toHaveLength(5);
  });

  it('keeps a 1 MB holder identity intact, without a problem', () => {
    const holderIdentity = 'h'.repeat(1024 * 1024);
    const { record, problems } = recordFromLease(malformed({ holderIdentity, leaseDurationSeconds: 15 }));
    expect(record.holderIdentity).toBe(holderIdentity);
    expect(problems).toEqual([]);
  });

  it('keeps problem messages short when a field carries a megabyte of garbage', () => {
    const garbage = 'x'.repeat(1024 * 1024);
    const { problems } = recordFromLease(malformed({ holderIdentity: 'pod-a', renewTime: garbage, leaseDurationSeconds: garbage, leaseTransitions: garbage }));
    expect(problems).toHaveLength(3);
    for (const problem of problems) expect(problem.length).toBeLessThan(200);
  });

  it('copies strategy and preferredHolder only when they are strings', () => {
    const { record } = recordFromLease(malformed({ holderIdentity: 'pod-a', strategy: 5, preferredHolder: { id: 'b' } }));
    expect(record.strategy).toBeUndefined();
    expect(record.preferredHolder).toBeUndefined();
  });
});

describe('specFromRecord and leaseWithRecord', () => {
  const record: LeaderElectionRecord = {
    holderIdentity: 'pod-a',
    leaseDurationSeconds: 15,
    acquireTimeMs: MAY_1 + 0.456,
    renewTimeMs: MAY_1 + 1000,
    leaseTransitions: 3,
  };

  it('writes times as six-digit MicroTimes', () => {
    expect(specFromRecord(record)).toEqual({
      holderIdentity: 'pod-a',
      leaseDurationSeconds: 15,
      acquireTime: '2024-05-01T12:34:56.123456Z',
      renewTime: '2024-05-01T12:34:57.123000Z',
      leaseTransitions: 3,
    });
  });

  it('builds a new Lease with the target name and namespace and no resourceVersion', () => {
    const lease = leaseWithRecord(record, { name: 'my-lease', namespace: 'team-a' });
    expect(lease.apiVersion).toBe('coordination.k8s.io/v1');
    expect(lease.kind).toBe('Lease');
    expect(lease.metadata).toEqual({ name: 'my-lease', namespace: 'team-a' });
    expect(recordFromLease(lease)).toEqual({ record, problems: [] });
  });

  it('keeps the existing metadata (resourceVersion, uid, labels) so the write is a compare-and-swap', () => {
    const existing: Lease = {
      metadata: { name: 'my-lease', namespace: 'team-a', resourceVersion: '42', uid: 'u-1', labels: { app: 'x' } },
      spec: { holderIdentity: 'pod-b' },
    };
    const lease = leaseWithRecord(record, { name: 'ignored', namespace: 'ignored' }, existing);
    expect(lease.metadata).toEqual(existing.metadata);
    expect(lease.metadata).not.toBe(existing.metadata);
    expect(lease.spec?.holderIdentity).toBe('pod-a');
    expect(existing.spec?.holderIdentity).toBe('pod-b');
  });

  it('keeps spec fields it does not know, so a newer API field survives our write', () => {
    const existing = { metadata: { name: 'l', resourceVersion: '7' }, spec: { holderIdentity: 'pod-b', futureField: { x: 1 }, strategy: 'OldestEmulationVersion' } } as Lease;
    const spec = leaseWithRecord(record, { name: 'l', namespace: 'ns' }, existing).spec as Record<string, unknown>;
    expect(spec.futureField).toEqual({ x: 1 });
    expect(spec.strategy).toBe('OldestEmulationVersion');
    expect(spec.holderIdentity).toBe('pod-a');
  });

  it('ignores a malformed existing spec instead of spreading it', () => {
    const existing = { metadata: { name: 'l' }, spec: ['x'] } as unknown as Lease;
    const spec = leaseWithRecord(record, { name: 'l', namespace: 'ns' }, existing).spec as Record<string, unknown>;
    expect(spec['0']).toBeUndefined();
    expect(spec.holderIdentity).toBe('pod-a');
  });
});

describe('sameRecord', () => {
  const a: LeaderElectionRecord = { holderIdentity: 'pod-a', leaseDurationSeconds: 15, acquireTimeMs: 1, renewTimeMs: 2, leaseTransitions: 0 };

  it('is true for records that would be written identically', () => {
    expect(sameRecord(a, { ...a })).toBe(true);
  });

  it.each([
    ['holderIdentity', { holderIdentity: 'pod-b' }],
    ['leaseDurationSeconds', { leaseDurationSeconds: null }],
    ['acquireTimeMs', { acquireTimeMs: 1.001 }],
    ['renewTimeMs', { renewTimeMs: 3 }],
    ['leaseTransitions', { leaseTransitions: 1 }],
    ['strategy', { strategy: 'OldestEmulationVersion' }],
    ['preferredHolder', { preferredHolder: 'pod-b' }],
  ])('is false when %s differs', (_label, change) => {
    expect(sameRecord(a, { ...a, ...change })).toBe(false);
  });

  it('sees a renewal (only renewTime changes) as a change', () => {
    const before = recordFromLease({ spec: { holderIdentity: 'a', renewTime: '2024-05-01T12:34:56.000001Z' } }).record;
    const after = recordFromLease({ spec: { holderIdentity: 'a', renewTime: '2024-05-01T12:34:56.000002Z' } }).record;
    expect(sameRecord(before, after)).toBe(false);
  });
});

describe('nextRenewTimeMs', () => {
  it('writes the wall clock when it is past the renewTime replaced', () => {
    expect(nextRenewTimeMs(1_000_000.5, 999_999.25)).toBe(1_000_000.5);
    expect(nextRenewTimeMs(1_000_000.5, null)).toBe(1_000_000.5);
  });

  it('writes one microsecond past the renewTime replaced when the wall clock stands still or went back', () => {
    const previous = Date.UTC(2025, 0, 1, 12, 0, 0) + 0.123;
    const next = nextRenewTimeMs(previous, previous);
    expect(formatMicroTime(next)).toBe('2025-01-01T12:00:00.000124Z');
    expect(formatMicroTime(nextRenewTimeMs(previous - 10_000, previous))).toBe('2025-01-01T12:00:00.000124Z');
    // Repeated, it keeps moving forward: no two writes carry the same renewTime.
    const seen = new Set<string>();
    let t = previous;
    for (let i = 0; i < 1000; i++) {
      t = nextRenewTimeMs(previous, t);
      seen.add(formatMicroTime(t));
    }
    expect(seen.size).toBe(1000);
  });
});
