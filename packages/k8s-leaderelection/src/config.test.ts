import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { systemClock } from './clock.js';
import { isDnsLabel, isDnsSubdomain, resolveConfig, type ElectorConfig } from './config.js';
import { Elector } from './elector.js';
import type { ConfigError} from './errors.js';
import { type ConfigErrorCode } from './errors.js';
import { configErrorOf } from './__tests__/thrown.js';
import { silentLogger } from './logger.js';
import { seededRandom, systemRandom } from './random.js';
import { FakeClock } from './testing/fake-clock.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient } from './testing/memory-lease-client.js';

const VALID: ElectorConfig = { identity: 'pod-a', leaseName: 'my-lease', leaseNamespace: 'default' };

function rejects(config: unknown): ConfigError {
  return configErrorOf(() => resolveConfig(config as ElectorConfig));
}

function expectRule(err: ConfigError, code: ConfigErrorCode, field: string, ...mentions: string[]): void {
  expect(err.code).toBe(code);
  expect(err.field).toBe(field);
  expect(err.message).toContain(field);
  for (const text of mentions) expect(err.message).toContain(text);
}

function memoryClient(): MemoryLeaseClient {
  return new MemoryLeaseClient(new LeaseStore());
}

describe('resolveConfig: a missing config', () => {
  it.each([null, undefined])('rejects a %s config with CONFIG_MISSING', (config) => {
    const err = rejects(config);
    expect(err.code).toBe('CONFIG_MISSING');
    expect(err.field).toBe('config');
    expect(err.message).toContain('config cannot be nil');
  });

  it('rejects a config that is not an object', () => {
    expect(rejects('pod-a').code).toBe('CONFIG_MISSING');
  });
});

describe('resolveConfig: identity, lease name and namespace', () => {
  const fields = [
    { field: 'identity', code: 'IDENTITY_EMPTY', seed: 'identity cannot be empty' },
    { field: 'leaseName', code: 'LEASE_NAME_EMPTY', seed: 'lease name cannot be empty' },
    { field: 'leaseNamespace', code: 'LEASE_NAMESPACE_EMPTY', seed: 'lease namespace cannot be empty' },
  ] as const;

  for (const { field, code, seed } of fields) {
    it(`rejects a missing ${field} with the seed's message`, () => {
      const { [field]: _omitted, ...rest } = VALID;
      expectRule(rejects(rest), code, field, seed, 'undefined');
    });

    it(`rejects a null ${field}`, () => {
      expectRule(rejects({ ...VALID, [field]: null }), code, field, seed, 'null');
    });

    it(`rejects an empty ${field}`, () => {
      expectRule(rejects({ ...VALID, [field]: '' }), code, field, seed, 'empty string');
    });

    it(`rejects a whitespace-only ${field}`, () => {
      expectRule(rejects({ ...VALID, [field]: ' \t\n ' }), code, field, seed, 'whitespace');
    });

    it(`rejects a ${field} that is a number with FIELD_TYPE, naming the type and the value`, () => {
      expectRule(rejects({ ...VALID, [field]: 42 }), 'FIELD_TYPE', field, 'string', 'number', '42');
    });

    it(`rejects a ${field} that is an object with FIELD_TYPE`, () => {
      expectRule(rejects({ ...VALID, [field]: { name: 'x' } }), 'FIELD_TYPE', field, 'object');
    });
  }

  it('keeps an identity with surrounding spaces as written (it is compared byte for byte with the holder)', () => {
    expect(resolveConfig({ ...VALID, identity: ' pod-a ' }).identity).toBe(' pod-a ');
  });
});

describe('resolveConfig: first failure wins, in the seed order', () => {
  it('reports the identity before the lease name, namespace and client', () => {
    const err = configErrorOf(() => new Elector({ identity: '', leaseName: '', leaseNamespace: '' }, null));
    expect(err.code).toBe('IDENTITY_EMPTY');
  });

  it('reports the lease name before the namespace and client', () => {
    const err = configErrorOf(() => new Elector({ identity: 'a', leaseName: '', leaseNamespace: '' }, null));
    expect(err.code).toBe('LEASE_NAME_EMPTY');
  });

  it('reports the namespace before the client', () => {
    const err = configErrorOf(() => new Elector({ identity: 'a', leaseName: 'l', leaseNamespace: '' }, null));
    expect(err.code).toBe('LEASE_NAMESPACE_EMPTY');
  });

  it.each([null, undefined])('reports a %s client with the seed message "clientset cannot be nil"', (client) => {
    const err = configErrorOf(() => new Elector(VALID, client));
    expect(err.code).toBe('CLIENT_MISSING');
    expect(err.field).toBe('client');
    expect(err.message).toContain('clientset cannot be nil');
  });

  it('reports a missing client right after the three identity checks, before the name format', () => {
    const err = configErrorOf(() => new Elector({ ...VALID, leaseName: 'Not_A_Name' }, null));
    expect(err.code).toBe('CLIENT_MISSING');
  });

  it('does not ask for a client when resolving a config on its own', () => {
    expect(resolveConfig(VALID).identity).toBe('pod-a');
  });

  it('reports the lease name format before the namespace format', () => {
    expect(rejects({ ...VALID, leaseName: 'A', leaseNamespace: 'B' }).code).toBe('LEASE_NAME_INVALID');
  });

  it('reports the namespace format before the durations', () => {
    expect(rejects({ ...VALID, leaseNamespace: 'B', leaseDurationMs: Number.NaN }).code).toBe('LEASE_NAMESPACE_INVALID');
  });
});

describe('Elector constructor: the client', () => {
  it.each([
    ['an empty object', {}],
    ['a string', 'https://kubernetes.default.svc'],
    ['an object with only get', { get: () => Promise.resolve({}) }],
    ['an object with get and create but no update', { get: () => Promise.resolve({}), create: () => Promise.resolve({}) }],
  ])('rejects %s, which is neither a KubeConfig nor a LeaseClient', (_label, client) => {
    const err = configErrorOf(() => new Elector(VALID, client, {}, silentLogger));
    expect(err.code).toBe('CLIENT_INVALID');
    expect(err.field).toBe('client');
    expect(err.message).toContain('KubeConfig');
    expect(err.message).toContain('LeaseClient');
  });

  it('accepts a LeaseClient and makes no API call while constructing', () => {
    const client = memoryClient();
    const elector = new Elector(VALID, client, {}, silentLogger);
    expect(elector.isLeader()).toBe(false);
    expect(elector.getLeader()).toBe('');
    expect(client.calls).toEqual([]);
  });

  it('accepts a client-node KubeConfig', () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'http://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    expect(new Elector(VALID, kc, {}, silentLogger).config.leaseName).toBe('my-lease');
  });

  it('validates the config through the constructor too', () => {
    const err = configErrorOf(() => new Elector({ ...VALID, retryPeriodMs: 0 }, memoryClient()));
    expect(err.code).toBe('RETRY_PERIOD_NOT_POSITIVE');
  });
});

describe('resolveConfig: lease name is a DNS subdomain', () => {
  it.each(['a', 'a.b-c', '0', 'my-lease.example.com', 'a'.repeat(253)])('accepts %s', (leaseName) => {
    expect(resolveConfig({ ...VALID, leaseName }).leaseName).toBe(leaseName);
  });

  it.each([
    ['an upper-case letter', 'A'],
    ['a leading dash', '-a'],
    ['a trailing dash', 'a-'],
    ['an underscore', 'a_b'],
    ['an empty label', 'a..b'],
    ['a trailing dot', 'a.'],
    ['a space', 'a b'],
    ['254 characters', 'a'.repeat(254)],
  ])('rejects a lease name with %s', (_label, leaseName) => {
    const err = rejects({ ...VALID, leaseName });
    expectRule(err, 'LEASE_NAME_INVALID', 'leaseName', 'DNS subdomain');
    expect(err.message).toContain(JSON.stringify(leaseName));
  });

  it('agrees with the exported isDnsSubdomain at the length boundary', () => {
    expect(isDnsSubdomain('a'.repeat(253))).toBe(true);
    expect(isDnsSubdomain('a'.repeat(254))).toBe(false);
    expect(isDnsSubdomain('')).toBe(false);
  });
});

describe('resolveConfig: lease namespace is a DNS label', () => {
  it.each(['a', 'kube-system', '0abc', 'a'.repeat(63)])('accepts %s', (leaseNamespace) => {
    expect(resolveConfig({ ...VALID, leaseNamespace }).leaseNamespace).toBe(leaseNamespace);
  });

  it.each([
    ['64 characters', 'a'.repeat(64)],
    ['a dot', 'team.a'],
    ['an upper-case letter', 'Default'],
    ['a leading dash', '-ns'],
    ['a trailing dash', 'ns-'],
    ['an underscore', 'my_ns'],
  ])('rejects a namespace with %s', (_label, leaseNamespace) => {
    const err = rejects({ ...VALID, leaseNamespace });
    expectRule(err, 'LEASE_NAMESPACE_INVALID', 'leaseNamespace', 'DNS label');
    expect(err.message).toContain(JSON.stringify(leaseNamespace));
  });

  it('agrees with the exported isDnsLabel at the length boundary', () => {
    expect(isDnsLabel('a'.repeat(63))).toBe(true);
    expect(isDnsLabel('a'.repeat(64))).toBe(false);
  });
});

describe('resolveConfig: durations', () => {
  const durations = ['leaseDurationMs', 'renewDeadlineMs', 'retryPeriodMs', 'onStoppedLeadingTimeoutMs'] as const;

  for (const field of durations) {
    it(`rejects a ${field} given as a string with FIELD_TYPE`, () => {
      expectRule(rejects({ ...VALID, [field]: '5000' }), 'FIELD_TYPE', field, 'number', '"5000"');
    });

    it(`rejects a null ${field} with FIELD_TYPE instead of taking the default`, () => {
      expectRule(rejects({ ...VALID, [field]: null }), 'FIELD_TYPE', field);
    });

    it.each([Number.NaN, Infinity, -Infinity])(`rejects a ${field} of %s with DURATION_NOT_FINITE`, (value) => {
      expectRule(rejects({ ...VALID, [field]: value }), 'DURATION_NOT_FINITE', field, String(value));
    });
  }

  it.each([-1, 0])('rejects a leaseDurationMs of %s (not greater than the renew deadline)', (value) => {
    expectRule(rejects({ ...VALID, leaseDurationMs: value }), 'LEASE_DURATION_NOT_GREATER_THAN_RENEW_DEADLINE', 'leaseDurationMs', `(${value})`);
  });

  it.each([-1, 0])('rejects a renewDeadlineMs of %s (not greater than 1.2 x the retry period)', (value) => {
    expectRule(rejects({ ...VALID, renewDeadlineMs: value }), 'RENEW_DEADLINE_TOO_SHORT', 'renewDeadlineMs', `(${value})`);
  });

  it.each([-1, 0])('rejects a retryPeriodMs of %s', (value) => {
    expectRule(rejects({ ...VALID, retryPeriodMs: value }), 'RETRY_PERIOD_NOT_POSITIVE', 'retryPeriodMs', `(${value})`);
  });

  it('rejects a negative onStoppedLeadingTimeoutMs and accepts zero', () => {
    expectRule(rejects({ ...VALID, onStoppedLeadingTimeoutMs: -1 }), 'OPTION_INVALID', 'onStoppedLeadingTimeoutMs', '(-1)');
    expect(resolveConfig({ ...VALID, onStoppedLeadingTimeoutMs: 0 }).onStoppedLeadingTimeoutMs).toBe(0);
  });

  it('rejects a lease duration equal to the renew deadline and accepts one 1 ms longer', () => {
    const err = rejects({ ...VALID, leaseDurationMs: 10_000, renewDeadlineMs: 10_000 });
    expectRule(err, 'LEASE_DURATION_NOT_GREATER_THAN_RENEW_DEADLINE', 'leaseDurationMs', '(10000)', 'renewDeadlineMs');
    expect(resolveConfig({ ...VALID, leaseDurationMs: 10_001, renewDeadlineMs: 10_000 }).leaseDurationMs).toBe(10_001);
  });

  it.each([
    [2_000, 2_400],
    [1_000, 1_200],
    [5, 6],
  ])('rejects a renew deadline of exactly 1.2 x the retry period (%s ms -> %s ms) and accepts 1 ms more', (retryPeriodMs, renewDeadlineMs) => {
    const err = rejects({ ...VALID, retryPeriodMs, renewDeadlineMs });
    expectRule(err, 'RENEW_DEADLINE_TOO_SHORT', 'renewDeadlineMs', `(${renewDeadlineMs})`, '1.2', 'retryPeriodMs');
    const ok = resolveConfig({ ...VALID, retryPeriodMs, renewDeadlineMs: renewDeadlineMs + 1 });
    expect(ok.renewDeadlineMs).toBe(renewDeadlineMs + 1);
  });

  it('rejects a lease duration of 999 ms and accepts 1000 ms', () => {
    const timings = { renewDeadlineMs: 800, retryPeriodMs: 200, clientGoFollowers: false };
    const err = rejects({ ...VALID, ...timings, leaseDurationMs: 999 });
    expectRule(err, 'LEASE_DURATION_TOO_SHORT', 'leaseDurationMs', '(999)', '1000');
    const ok = resolveConfig({ ...VALID, ...timings, leaseDurationMs: 1000 });
    expect(ok.leaseDurationMs).toBe(1000);
    expect(ok.leaseDurationSeconds).toBe(1);
  });

  it('rejects a lease duration whose seconds do not fit the int32 leaseDurationSeconds', () => {
    const err = rejects({ ...VALID, leaseDurationMs: (2 ** 31 - 1) * 1000 + 1 });
    expectRule(err, 'OPTION_INVALID', 'leaseDurationMs', 'int32');
    expect(resolveConfig({ ...VALID, leaseDurationMs: (2 ** 31 - 1) * 1000 }).leaseDurationSeconds).toBe(2 ** 31 - 1);
  });

  it.each([
    [1000, 1],
    [1001, 2],
    [1500, 2],
    [15_000, 15],
  ])('writes a lease duration of %s ms as %s whole seconds, rounded up', (leaseDurationMs, seconds) => {
    expect(resolveConfig({ ...VALID, leaseDurationMs, renewDeadlineMs: 800, retryPeriodMs: 200, clientGoFollowers: false }).leaseDurationSeconds).toBe(seconds);
  });

  it('rejects a lease too short for client-go followers to see a renewal in time, unless clientGoFollowers is false', () => {
    // The guarantee, 1000 x 0.98 / 1.01 = 970 ms, does not cover a whole second plus a retry period.
    const timings = { leaseDurationMs: 1000, renewDeadlineMs: 800, retryPeriodMs: 200 };
    const err = rejects({ ...VALID, ...timings });
    expectRule(err, 'LEASE_TOO_SHORT_FOR_CLIENT_GO', 'leaseDurationMs', '(1000)', '1000 ms + retryPeriodMs (200)', 'clientGoFollowers: false');
    expect(resolveConfig({ ...VALID, ...timings, clientGoFollowers: false }).clientGoFollowers).toBe(false);
    // The boundary: 1500 ms with R = 250 gives 1455 ms > 1250 ms; with R = 460, 1455 < 1460.
    expect(resolveConfig({ ...VALID, leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 250 }).clientGoFollowers).toBe(true);
    expectRule(rejects({ ...VALID, leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 460 }), 'LEASE_TOO_SHORT_FOR_CLIENT_GO', 'leaseDurationMs');
  });
});

describe('resolveConfig: other options', () => {
  it.each([-0.01, 0.25, 1, Number.NaN, '0.01'])('rejects a maxClockDriftRate of %s', (value) => {
    expectRule(rejects({ ...VALID, maxClockDriftRate: value }), 'OPTION_INVALID', 'maxClockDriftRate', String(value));
  });

  it('accepts a maxClockDriftRate of 0 and just under 0.25', () => {
    expect(resolveConfig({ ...VALID, maxClockDriftRate: 0 }).maxClockDriftRate).toBe(0);
    expect(resolveConfig({ ...VALID, maxClockDriftRate: 0.249 }).maxClockDriftRate).toBe(0.249);
  });

  it.each(['push', 'WATCH', '', 1])('rejects a followerStrategy of %p', (value) => {
    expectRule(rejects({ ...VALID, followerStrategy: value }), 'OPTION_INVALID', 'followerStrategy', JSON.stringify(value));
  });

  it.each(['watch', 'poll'] as const)('accepts the followerStrategy %s', (followerStrategy) => {
    expect(resolveConfig({ ...VALID, followerStrategy }).followerStrategy).toBe(followerStrategy);
  });

  it.each(['releaseOnCancel', 'once', 'recordEvents'] as const)('rejects a %s that is not a boolean', (field) => {
    expectRule(rejects({ ...VALID, [field]: 'true' }), 'FIELD_TYPE', field, 'boolean', '"true"');
    expectRule(rejects({ ...VALID, [field]: 1 }), 'FIELD_TYPE', field, 'boolean', '1');
  });

  it('keeps booleans as given', () => {
    const config = resolveConfig({ ...VALID, releaseOnCancel: false, once: true, recordEvents: true });
    expect([config.releaseOnCancel, config.once, config.recordEvents]).toEqual([false, true, true]);
  });

  it('rejects an empty or whitespace name and a name that is not a string', () => {
    expectRule(rejects({ ...VALID, name: '' }), 'OPTION_INVALID', 'name', 'name cannot be empty');
    expectRule(rejects({ ...VALID, name: '   ' }), 'OPTION_INVALID', 'name');
    expectRule(rejects({ ...VALID, name: 7 }), 'FIELD_TYPE', 'name', '7');
  });

  it('keeps a given name', () => {
    expect(resolveConfig({ ...VALID, name: 'controller-a' }).name).toBe('controller-a');
  });

  it.each([
    ['an empty object', {}],
    ['a number', 5],
    ['a clock without wallNow', { now: () => 0, setTimeout: () => ({}), clearTimeout: () => undefined }],
  ])('rejects a clock that is %s', (_label, clock) => {
    expectRule(rejects({ ...VALID, clock }), 'OPTION_INVALID', 'clock');
  });

  it.each([0.5, 'random', {}])('rejects a random source that is not a function (%p)', (random) => {
    expectRule(rejects({ ...VALID, random }), 'OPTION_INVALID', 'random');
  });

  it('uses the injected clock and random source', () => {
    const clock = new FakeClock();
    const random = seededRandom(3);
    const config = resolveConfig({ ...VALID, clock, random });
    expect(config.clock).toBe(clock);
    expect(config.random).toBe(random);
  });
});

describe('resolveConfig: defaults', () => {
  it('applies client-go defaults and the documented ones', () => {
    const config = resolveConfig(VALID);
    expect(config).toMatchObject({
      identity: 'pod-a',
      leaseName: 'my-lease',
      leaseNamespace: 'default',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      releaseOnCancel: true,
      once: false,
      recordEvents: false,
      name: 'my-lease',
      onStoppedLeadingTimeoutMs: 15_000,
      maxClockDriftRate: 0.01,
      followerStrategy: 'watch',
      leaseDurationSeconds: 15,
    });
    expect(config.clock).toBe(systemClock);
    expect(config.random).toBe(systemRandom);
    expect(config.observer).toBeUndefined();
  });

  it('defaults onStoppedLeadingTimeoutMs to a custom lease duration', () => {
    expect(resolveConfig({ ...VALID, leaseDurationMs: 30_000 }).onStoppedLeadingTimeoutMs).toBe(30_000);
  });

  it('returns a frozen object that cannot be changed after validation', () => {
    const config = resolveConfig(VALID);
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { leaseDurationMs: number }).leaseDurationMs = 1;
    }).toThrow(TypeError);
    expect(config.leaseDurationMs).toBe(15_000);
  });
});

describe('resolveConfig: coordinated leader election', () => {
  const COORDINATED: ElectorConfig = { ...VALID, coordinated: true, binaryVersion: '1.33.2' };

  it('is off by default and then carries no candidate settings', () => {
    expect(resolveConfig(VALID).coordinated).toBeUndefined();
    expect(resolveConfig({ ...VALID, coordinated: false, binaryVersion: 'not semver' }).coordinated).toBeUndefined();
  });

  it('names the LeaseCandidate after the identity, and refuses an identity the API server would refuse as its name', () => {
    expect(resolveConfig({ ...COORDINATED, identity: 'pod-0.lease-y' }).coordinated?.name).toBe('pod-0.lease-y');
    const error = (config: ElectorConfig): unknown => {
      try {
        resolveConfig(config);
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(error({ ...COORDINATED, identity: 'pod-1:8080' })).toMatchObject({ code: 'OPTION_INVALID', field: 'identity' });
    expect(error({ ...COORDINATED, identity: 'x'.repeat(254) })).toMatchObject({ code: 'OPTION_INVALID', field: 'identity' });
    // Not coordinated: no LeaseCandidate, so the identity needs no such name.
    expect(resolveConfig({ ...VALID, identity: 'pod-1:8080' }).coordinated).toBeUndefined();
  });

  it('defaults emulationVersion to binaryVersion and strategy to OldestEmulationVersion', () => {
    const name = VALID.identity;
    expect(resolveConfig(COORDINATED).coordinated).toEqual({ name, binaryVersion: '1.33.2', emulationVersion: '1.33.2', strategy: 'OldestEmulationVersion' });
    expect(resolveConfig({ ...COORDINATED, emulationVersion: '1.32.0', strategy: 'example.com/newest' }).coordinated).toEqual({
      name,
      binaryVersion: '1.33.2',
      emulationVersion: '1.32.0',
      strategy: 'example.com/newest',
    });
  });

  it('requires binaryVersion when coordinated', () => {
    expectRule(rejects({ ...VALID, coordinated: true }), 'OPTION_INVALID', 'binaryVersion', 'required');
  });

  it.each(['v1.33.0', '1.33', '1.33.0.1', '01.2.3', ' 1.2.3'])('rejects binaryVersion %j (not semver without a leading v)', (version) => {
    expectRule(rejects({ ...COORDINATED, binaryVersion: version }), 'OPTION_INVALID', 'binaryVersion', 'semantic version');
  });

  it('accepts pre-release and build semver', () => {
    expect(resolveConfig({ ...COORDINATED, binaryVersion: '1.34.0-alpha.1+abc' }).coordinated?.binaryVersion).toBe('1.34.0-alpha.1+abc');
  });

  it('rejects an emulationVersion newer than binaryVersion or not semver', () => {
    expectRule(rejects({ ...COORDINATED, emulationVersion: '1.34.0' }), 'OPTION_INVALID', 'emulationVersion', 'newer than binaryVersion');
    expectRule(rejects({ ...COORDINATED, emulationVersion: 'latest' }), 'OPTION_INVALID', 'emulationVersion', 'semantic version');
  });

  it('rejects an unknown strategy and non-string or non-boolean values', () => {
    expectRule(rejects({ ...COORDINATED, strategy: 'Newest' }), 'OPTION_INVALID', 'strategy', 'OldestEmulationVersion');
    expectRule(rejects({ ...COORDINATED, strategy: 3 }), 'FIELD_TYPE', 'strategy');
    expectRule(rejects({ ...COORDINATED, binaryVersion: 133 }), 'FIELD_TYPE', 'binaryVersion');
    expectRule(rejects({ ...VALID, coordinated: 'yes' }), 'FIELD_TYPE', 'coordinated');
  });

  it('the Elector refuses coordinated with a client lacking the LeaseCandidate methods, naming client', () => {
    const err = configErrorOf(() => new Elector(COORDINATED, memoryClient()));
    expect(err.code).toBe('CLIENT_INVALID');
    expect(err.field).toBe('client');
  });
});
