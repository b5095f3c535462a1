import { describe, expect, it } from '@jest/globals';
import { LEASE, NS, world } from './__tests__/harness.js';
import { CLAIM_ANNOTATION } from './claim.js';
import { resolveConfig, type ElectorConfig } from './config.js';
import { ConfigError } from './errors.js';
import { labelKeyProblem, labelKeyProblems, labelValueProblem, labelValueProblems } from './labels.js';

const VALID: ElectorConfig = { identity: 'pod-a', leaseName: 'my-lease', leaseNamespace: 'default' };
const LABELS = { 'app.kubernetes.io/name': 'my-controller', team: 'infra' };

function labelsError(labels: unknown): ConfigError {
  try {
    resolveConfig({ ...VALID, labels } as ElectorConfig);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

describe('label key and value rules (the API server rules)', () => {
  it.each(['app', 'a', 'my.name', 'My_Name-1', 'example.com/name', 'app.kubernetes.io/part-of', `${'a'.repeat(63)}`])('accepts the key %s', (key) => {
    expect(labelKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ['', 'empty name part'],
    ['-app', 'name part'],
    ['app-', 'name part'],
    ['a b', 'name part'],
    ['a'.repeat(64), 'name part'],
    ['/app', 'empty prefix'],
    ['Example.com/app', 'prefix'],
    ['example.com/', 'empty name part'],
    ['a/b/c', "more than one '/'"],
  ])('rejects the key %j (%s)', (key, problem) => {
    expect(labelKeyProblem(key)).toContain(problem);
  });

  it.each(['', 'v', 'my_value', 'V-1.2', 'a'.repeat(63)])('accepts the value %j', (value) => {
    expect(labelValueProblem(value)).toBeUndefined();
  });

  it.each(['-v', 'v-', 'a b', 'a/b', 'a'.repeat(64)])('rejects the value %j', (value) => {
    expect(labelValueProblem(value)).toBeDefined();
  });
});

describe('label key and value validation in the API server words', () => {
  it('accepts what the API server accepts', () => {
    for (const key of ['app', 'a', 'app.kubernetes.io/name', 'A_b-c.d', 'x/y']) expect([key, labelKeyProblems(key)]).toEqual([key, []]);
    for (const value of ['', 'web', 'A_b-c.d', '1'.repeat(63)]) expect([value, labelValueProblems(value)]).toEqual([value, []]);
  });

  it('refuses keys with more than one slash, an empty prefix or name, and values that do not start alphanumeric', () => {
    expect(labelKeyProblems('a/b/c')[0]).toMatch(/^a valid label key must consist of /);
    expect(labelKeyProblems('/x')).toContain('prefix part must be non-empty');
    expect(labelKeyProblems('x/')).toContain('name part must be non-empty');
    expect(labelValueProblems('_x')).toHaveLength(1);
  });
});

describe('one rule, two wordings', () => {
  it.each(['app', '', '-a', 'a'.repeat(63), 'a'.repeat(64), '/x', 'x/', 'a/b/c', 'Example.com/x', `${'p'.repeat(254)}/x`, 'ex.com/a_b', 'é', 'a b'])(
    'the option and the store agree whether %j is a valid label key and value',
    (text) => {
      expect(labelKeyProblem(text) === undefined).toBe(labelKeyProblems(text).length === 0);
      expect(labelValueProblem(text) === undefined).toBe(labelValueProblems(text).length === 0);
    },
  );
});

describe('resolveConfig: labels', () => {
  it('defaults to no labels', () => {
    expect(resolveConfig(VALID).labels).toEqual({});
  });

  it('keeps a frozen copy of valid labels, so a later change to the caller object has no effect', () => {
    const given: Record<string, string> = { ...LABELS };
    const resolved = resolveConfig({ ...VALID, labels: given });
    given['team'] = 'changed';
    expect(resolved.labels).toEqual(LABELS);
    expect(Object.isFrozen(resolved.labels)).toBe(true);
  });

  it('rejects an invalid key with LABELS_INVALID, naming the key', () => {
    const err = labelsError({ ok: 'x', 'bad key': 'y' });
    expect(err.code).toBe('LABELS_INVALID');
    expect(err.field).toBe('labels');
    expect(err.message).toContain('"bad key"');
  });

  it('rejects an invalid value with LABELS_INVALID, naming the key and the value', () => {
    const err = labelsError({ app: 'not valid!' });
    expect(err.code).toBe('LABELS_INVALID');
    expect(err.message).toContain('"app"');
    expect(err.message).toContain('"not valid!"');
  });

  it('rejects a value that is not a string with LABELS_INVALID', () => {
    const err = labelsError({ replicas: 3 });
    expect(err.code).toBe('LABELS_INVALID');
    expect(err.message).toContain('"replicas"');
  });

  it.each([null, 'app=x', ['app']])('rejects labels that are not an object (%j) with FIELD_TYPE', (labels) => {
    const err = labelsError(labels);
    expect(err.code).toBe('FIELD_TYPE');
    expect(err.field).toBe('labels');
  });
});

describe('Elector: labels on the Leases it creates', () => {
  it('writes the labels on its claim and keeps them when the claim becomes its term', async () => {
    const w = world();
    const a = w.replica('a', { config: { labels: LABELS } });
    a.start();
    await w.clock.advance(0);
    const claim = w.store.get(NS, LEASE);
    expect(claim.metadata?.annotations?.[CLAIM_ANNOTATION]).toBe('a');
    expect(claim.metadata?.labels).toEqual(LABELS);
    expect(await w.clock.advanceUntil(() => a.elector.isLeader(), 20_000)).toBe(true);
    const lease = w.store.get(NS, LEASE);
    expect(lease.metadata?.annotations?.[CLAIM_ANNOTATION]).toBeUndefined();
    expect(lease.metadata?.labels).toEqual(LABELS);
    await a.stop();
  });

  it('writes the labels when the leader recreates its deleted Lease', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE } });
    const a = w.replica('a', { config: { labels: LABELS } });
    a.start();
    await w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    w.store.delete(NS, LEASE);
    await w.clock.advanceUntil(() => w.store.peek(NS, LEASE) !== undefined, 10_000);
    const recreated = w.store.get(NS, LEASE);
    expect(recreated.spec?.holderIdentity).toBe('a');
    expect(recreated.metadata?.labels).toEqual(LABELS);
    expect(a.elector.isLeader()).toBe(true);
    await a.stop();
  });

  it('does not relabel an existing Lease it takes over (as client-go)', async () => {
    const w = world();
    w.store.create(NS, { metadata: { name: LEASE, labels: { owner: 'someone-else' } } });
    const a = w.replica('a', { config: { labels: LABELS } });
    a.start();
    await w.clock.advance(0);
    expect(a.elector.isLeader()).toBe(true);
    expect(w.store.get(NS, LEASE).metadata?.labels).toEqual({ owner: 'someone-else' });
    await a.stop();
  });

  it('creates Leases without labels when none are configured', async () => {
    const w = world();
    const a = w.replica('a');
    a.start();
    await w.clock.advance(0);
    expect(w.store.get(NS, LEASE).metadata?.labels).toBeUndefined();
    await a.stop();
  });
});
