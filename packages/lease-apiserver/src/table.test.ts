import { describe, expect, it } from '@jest/globals';
import { age, eventTable, humanDuration, leaseTable } from './table.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanDuration', () => {
  it('prints ages the way kubectl does', () => {
    const cases: [number, string][] = [
      [-5 * S, '<invalid>'],
      [-1 * S, '0s'],
      [0, '0s'],
      [59 * S, '59s'],
      [119 * S, '119s'],
      [2 * M, '2m'],
      [2 * M + 5 * S, '2m5s'],
      [9 * M + 59 * S, '9m59s'],
      [10 * M + 30 * S, '10m'],
      [179 * M, '179m'],
      [3 * H, '3h'],
      [3 * H + 20 * M, '3h20m'],
      [8 * H + 20 * M, '8h'],
      [47 * H, '47h'],
      [2 * D, '2d'],
      [2 * D + 5 * H, '2d5h'],
      [8 * D + 5 * H, '8d'],
      [729 * D, '729d'],
      [730 * D, '2y'],
      [800 * D, '2y70d'],
      [9 * 365 * D, '9y'],
    ];
    for (const [ms, text] of cases) expect([ms, humanDuration(ms)]).toEqual([ms, text]);
  });

  it('prints <unknown> for a missing or unparsable timestamp', () => {
    expect(age(undefined, 0)).toBe('<unknown>');
    expect(age('not a time', 0)).toBe('<unknown>');
    expect(age('2025-01-01T00:00:00Z', Date.UTC(2025, 0, 1, 0, 0, 30))).toBe('30s');
  });
});

describe('tables', () => {
  const now = Date.UTC(2025, 0, 1, 1, 0, 0);

  it('prints a Lease without holder with an empty HOLDER cell', () => {
    const table = leaseTable([{ metadata: { name: 'free', creationTimestamp: '2025-01-01T00:00:00Z' }, spec: {} }], { version: 'v1beta1', includeObject: 'None', nowMs: now }) as {
      apiVersion: string;
      rows: { cells: unknown[]; object?: unknown }[];
    };
    expect(table.apiVersion).toBe('meta.k8s.io/v1beta1');
    expect(table.rows).toEqual([{ cells: ['free', '', '60m'] }]);
  });

  it('prints repeated events with their count, like kubectl', () => {
    const table = eventTable(
      [
        {
          metadata: { name: 'lock.1' },
          involvedObject: { kind: 'Lease', name: 'lock' },
          type: 'Normal',
          reason: 'LeaderElection',
          message: 'a became leader\n',
          firstTimestamp: '2025-01-01T00:00:00Z',
          lastTimestamp: '2025-01-01T00:59:00Z',
          count: 3,
          source: { component: 'a' },
        },
      ],
      { version: 'v1', includeObject: 'Metadata', nowMs: now },
    ) as { rows: { cells: unknown[] }[] };
    expect(table.rows[0]!.cells).toEqual(['60s (x3 over 60m)', 'Normal', 'LeaderElection', 'lease/lock', '', 'a', 'a became leader', '60m', 3, 'lock.1']);
  });
});
