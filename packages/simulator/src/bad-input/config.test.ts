/**
 * Bad-input matrix, part 1: invalid configuration. Every field missing, of the wrong type, NaN,
 * Infinity, negative, at and beyond each boundary. What the user gets: a ConfigError thrown by the
 * constructor, with the rule's code and the field's name; nothing is started, so nothing can
 * leak. Accepted edge values are run and stopped to show they neither crash nor leak.
 */
import { describe, expect, it } from '@jest/globals';
import { ConfigError, Elector, type ElectorConfig } from '@leasekit/k8s-leaderelection';
import { MAX_INT32 } from '@leasekit/k8s-leaderelection/internal';
import { FakeClock, LeaseStore, MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { rig } from './harness.js';

const BASE = { identity: 'a', leaseName: 'l', leaseNamespace: 'default' } as const;
type Rejected = readonly [label: string, config: unknown, code: string, field: string];

const strings = (field: 'identity' | 'leaseName' | 'leaseNamespace', emptyCode: string): Rejected[] => [
  [`${field} missing`, { ...BASE, [field]: undefined }, emptyCode, field],
  [`${field} null`, { ...BASE, [field]: null }, emptyCode, field],
  [`${field} empty`, { ...BASE, [field]: '' }, emptyCode, field],
  [`${field} only whitespace`, { ...BASE, [field]: '   ' }, emptyCode, field],
  [`${field} a number`, { ...BASE, [field]: 42 }, 'FIELD_TYPE', field],
  [`${field} NaN`, { ...BASE, [field]: NaN }, 'FIELD_TYPE', field],
  [`${field} an object`, { ...BASE, [field]: {} }, 'FIELD_TYPE', field],
];

const durations = (field: 'leaseDurationMs' | 'renewDeadlineMs' | 'retryPeriodMs' | 'onStoppedLeadingTimeoutMs'): Rejected[] => [
  [`${field} a string`, { ...BASE, [field]: '15000' }, 'FIELD_TYPE', field],
  [`${field} null`, { ...BASE, [field]: null }, 'FIELD_TYPE', field],
  [`${field} a boolean`, { ...BASE, [field]: true }, 'FIELD_TYPE', field],
  [`${field} a bigint`, { ...BASE, [field]: 10n }, 'FIELD_TYPE', field],
  [`${field} NaN`, { ...BASE, [field]: NaN }, 'DURATION_NOT_FINITE', field],
  [`${field} Infinity`, { ...BASE, [field]: Infinity }, 'DURATION_NOT_FINITE', field],
  [`${field} -Infinity`, { ...BASE, [field]: -Infinity }, 'DURATION_NOT_FINITE', field],
];

const flags = (field: 'releaseOnCancel' | 'once' | 'recordEvents'): Rejected[] => [
  [`${field} the string 'true'`, { ...BASE, [field]: 'true' }, 'FIELD_TYPE', field],
  [`${field} the number 1`, { ...BASE, [field]: 1 }, 'FIELD_TYPE', field],
  [`${field} null`, { ...BASE, [field]: null }, 'FIELD_TYPE', field],
];

const REJECTED: Rejected[] = [
  ['config null', null, 'CONFIG_MISSING', 'config'],
  ['config undefined', undefined, 'CONFIG_MISSING', 'config'],
  ['config a string', 'a', 'CONFIG_MISSING', 'config'],
  ['config an array', [], 'IDENTITY_EMPTY', 'identity'],
  ...strings('identity', 'IDENTITY_EMPTY'),
  ...strings('leaseName', 'LEASE_NAME_EMPTY'),
  ...strings('leaseNamespace', 'LEASE_NAMESPACE_EMPTY'),
  ['leaseName not a DNS subdomain', { ...BASE, leaseName: 'My_Lease' }, 'LEASE_NAME_INVALID', 'leaseName'],
  ['leaseName 254 characters (beyond 253)', { ...BASE, leaseName: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}` }, 'LEASE_NAME_INVALID', 'leaseName'],
  ['leaseNamespace 64 characters (beyond 63)', { ...BASE, leaseNamespace: 'n'.repeat(64) }, 'LEASE_NAMESPACE_INVALID', 'leaseNamespace'],
  ['leaseNamespace with a dot', { ...BASE, leaseNamespace: 'a.b' }, 'LEASE_NAMESPACE_INVALID', 'leaseNamespace'],
  ...durations('leaseDurationMs'),
  ...durations('renewDeadlineMs'),
  ...durations('retryPeriodMs'),
  ...durations('onStoppedLeadingTimeoutMs'),
  // Order matters (first failure wins): L > RD is checked before L >= 1000.
  ['leaseDurationMs negative', { ...BASE, leaseDurationMs: -1 }, 'LEASE_DURATION_NOT_GREATER_THAN_RENEW_DEADLINE', 'leaseDurationMs'],
  ['leaseDurationMs zero', { ...BASE, leaseDurationMs: 0 }, 'LEASE_DURATION_NOT_GREATER_THAN_RENEW_DEADLINE', 'leaseDurationMs'],
  ['leaseDurationMs 999 (just below 1000)', { ...BASE, leaseDurationMs: 999, renewDeadlineMs: 800, retryPeriodMs: 100 }, 'LEASE_DURATION_TOO_SHORT', 'leaseDurationMs'],
  ['leaseDurationMs 1000 with client-go followers (the default)', { ...BASE, leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100 }, 'LEASE_TOO_SHORT_FOR_CLIENT_GO', 'leaseDurationMs'],
  ['leaseDurationMs equal to renewDeadlineMs', { ...BASE, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 }, 'LEASE_DURATION_NOT_GREATER_THAN_RENEW_DEADLINE', 'leaseDurationMs'],
  ['leaseDurationMs beyond int32 seconds', { ...BASE, leaseDurationMs: MAX_INT32 * 1000 + 1 }, 'OPTION_INVALID', 'leaseDurationMs'],
  ['leaseDurationMs 1e300', { ...BASE, leaseDurationMs: 1e300 }, 'OPTION_INVALID', 'leaseDurationMs'],
  ['renewDeadlineMs negative', { ...BASE, renewDeadlineMs: -1 }, 'RENEW_DEADLINE_TOO_SHORT', 'renewDeadlineMs'],
  ['renewDeadlineMs zero', { ...BASE, renewDeadlineMs: 0 }, 'RENEW_DEADLINE_TOO_SHORT', 'renewDeadlineMs'],
  ['renewDeadlineMs exactly 1.2 x retryPeriodMs', { ...BASE, renewDeadlineMs: 2400, retryPeriodMs: 2000 }, 'RENEW_DEADLINE_TOO_SHORT', 'renewDeadlineMs'],
  ['retryPeriodMs negative', { ...BASE, retryPeriodMs: -1 }, 'RETRY_PERIOD_NOT_POSITIVE', 'retryPeriodMs'],
  ['retryPeriodMs zero', { ...BASE, retryPeriodMs: 0 }, 'RETRY_PERIOD_NOT_POSITIVE', 'retryPeriodMs'],
  ['onStoppedLeadingTimeoutMs negative', { ...BASE, onStoppedLeadingTimeoutMs: -1 }, 'OPTION_INVALID', 'onStoppedLeadingTimeoutMs'],
  ...flags('releaseOnCancel'),
  ...flags('once'),
  ...flags('recordEvents'),
  ['maxClockDriftRate NaN', { ...BASE, maxClockDriftRate: NaN }, 'OPTION_INVALID', 'maxClockDriftRate'],
  ['maxClockDriftRate Infinity', { ...BASE, maxClockDriftRate: Infinity }, 'OPTION_INVALID', 'maxClockDriftRate'],
  ['maxClockDriftRate negative', { ...BASE, maxClockDriftRate: -0.01 }, 'OPTION_INVALID', 'maxClockDriftRate'],
  ['maxClockDriftRate 0.25 (the excluded bound)', { ...BASE, maxClockDriftRate: 0.25 }, 'OPTION_INVALID', 'maxClockDriftRate'],
  ['maxClockDriftRate a string', { ...BASE, maxClockDriftRate: '0.01' }, 'OPTION_INVALID', 'maxClockDriftRate'],
  ['followerStrategy in capitals', { ...BASE, followerStrategy: 'WATCH' }, 'OPTION_INVALID', 'followerStrategy'],
  ['followerStrategy empty', { ...BASE, followerStrategy: '' }, 'OPTION_INVALID', 'followerStrategy'],
  ['followerStrategy a number', { ...BASE, followerStrategy: 1 }, 'OPTION_INVALID', 'followerStrategy'],
  ['name empty', { ...BASE, name: '' }, 'OPTION_INVALID', 'name'],
  ['name null', { ...BASE, name: null }, 'OPTION_INVALID', 'name'],
  ['name a number', { ...BASE, name: 42 }, 'FIELD_TYPE', 'name'],
  ['clock an empty object', { ...BASE, clock: {} }, 'OPTION_INVALID', 'clock'],
  ['clock a number', { ...BASE, clock: 42 }, 'OPTION_INVALID', 'clock'],
  ['clock with only now()', { ...BASE, clock: { now: () => 0 } }, 'OPTION_INVALID', 'clock'],
  ['random a string', { ...BASE, random: 'x' }, 'OPTION_INVALID', 'random'],
  ['random a number', { ...BASE, random: 4 }, 'OPTION_INVALID', 'random'],
];

function client(): MemoryLeaseClient {
  const clock = new FakeClock();
  return new MemoryLeaseClient(new LeaseStore({ clock }), { clock });
}

describe('bad input: configuration the constructor rejects', () => {
  it.each(REJECTED.map(([label, config, code, field]) => ({ label, config, code, field })))('$label: throws ConfigError $code naming $field', ({ config, code, field }) => {
    let thrown: unknown;
    try {
      new Elector(config as ElectorConfig, client());
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).toMatchObject({ code, field });
    expect((thrown as Error).message).toContain(field === 'config' ? 'config' : field.replace(/Ms$/, ''));
  });

  it.each([
    ['undefined', undefined, 'CLIENT_MISSING'],
    ['null', null, 'CLIENT_MISSING'],
    ['an empty object', {}, 'CLIENT_INVALID'],
    ['a string', 'https://kubernetes', 'CLIENT_INVALID'],
  ])('client %s: throws ConfigError %s', (_label, value, code) => {
    let thrown: unknown;
    try {
      new Elector(BASE, value);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).toMatchObject({ code, field: 'client' });
  });
});

type Accepted = readonly [label: string, config: Record<string, unknown>];

const ACCEPTED: Accepted[] = [
  ['leaseDurationMs exactly 1000 (the lower bound)', { leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 100, clientGoFollowers: false }],
  ['leaseDurationMs one more than renewDeadlineMs', { leaseDurationMs: 10_001, renewDeadlineMs: 10_000 }],
  ['leaseDurationMs not whole seconds (rounded up in the Lease)', { leaseDurationMs: 2_500, renewDeadlineMs: 2_000, retryPeriodMs: 500 }],
  ['leaseDurationMs at the int32-seconds maximum', { leaseDurationMs: MAX_INT32 * 1000 }],
  ['renewDeadlineMs just above 1.2 x retryPeriodMs', { renewDeadlineMs: 2401, retryPeriodMs: 2000 }],
  ['onStoppedLeadingTimeoutMs zero', { onStoppedLeadingTimeoutMs: 0 }],
  ['maxClockDriftRate zero', { maxClockDriftRate: 0 }],
  ['maxClockDriftRate 0.2499 (just inside the bound)', { maxClockDriftRate: 0.2499 }],
  ['maxClockDriftRate null (the default)', { maxClockDriftRate: null }],
  ['followerStrategy null (the default)', { followerStrategy: null }],
  ['observer a string (ignored)', { observer: 'x' }],
  ['observer a number (ignored)', { observer: 4 }],
  ['observer whose hooks are not functions (each call fails and is logged)', { observer: { onRequest: 'x', onAcquired: 1 } }],
];

describe('bad input: edge configuration the constructor accepts', () => {
  it.each(ACCEPTED.map(([label, config]) => ({ label, config })))('$label: runs, leads and stops without leaking', async ({ config }) => {
    const r = rig({ config: config as Partial<ElectorConfig> });
    await r.clock.advanceUntil(() => r.elector.isLeader(), 60_000);
    expect(r.elector.isLeader()).toBe(true);
    expect(r.settled()).toBe(false);
    const { pendingTimers, resolved } = await r.stop();
    expect(resolved).toBe(true);
    expect(pendingTimers).toBe(0);
    expect(r.store.get('default', 'bad-input').spec?.holderIdentity).toBe('');
  });
});
