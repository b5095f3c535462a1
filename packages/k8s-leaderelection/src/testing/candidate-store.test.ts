import { describe, expect, it } from '@jest/globals';
import { apiErrorOf } from '../__tests__/thrown.js';
import type { LeaseCandidate } from '../lease.js';
import { CandidateStore, compareSemver, parseSemver, parseSemverTolerant, type CandidateWatchEvent } from './candidate-store.js';
import { FakeClock, settle } from './fake-clock.js';

const NS = 'default';

function candidate(name: string, spec: Partial<NonNullable<LeaseCandidate['spec']>> = {}, labels?: Record<string, string>): LeaseCandidate {
  return {
    metadata: { name, ...(labels ? { labels } : {}) },
    spec: { leaseName: 'ctrl', binaryVersion: '1.33.0', emulationVersion: '1.33.0', strategy: 'OldestEmulationVersion', ...spec },
  };
}

describe('CandidateStore: validation as the API server words it', () => {
  it('stores a valid candidate as a v1beta1 LeaseCandidate with uid, resourceVersion and creationTimestamp', () => {
    const clock = new FakeClock({ startWallMs: Date.parse('2026-01-02T03:04:05.678Z') });
    const stored = new CandidateStore({ clock }).create(NS, candidate('a'));
    expect(stored).toMatchObject({ apiVersion: 'coordination.k8s.io/v1beta1', kind: 'LeaseCandidate' });
    expect(stored.metadata).toMatchObject({ name: 'a', namespace: NS, resourceVersion: '1', creationTimestamp: '2026-01-02T03:04:05Z' });
    expect(stored.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('requires leaseName, binaryVersion and strategy', () => {
    const err = apiErrorOf(() => new CandidateStore().create(NS, { metadata: { name: 'a' }, spec: {} }));
    expect(err.statusCode).toBe(422);
    expect(err.status.message).toBe(
      'LeaseCandidate.coordination.k8s.io "a" is invalid: [spec.leaseName: Required value, spec.binaryVersion: Required value, spec.strategy: Required value]',
    );
    expect(err.status.details).toMatchObject({ name: 'a', group: 'coordination.k8s.io', kind: 'LeaseCandidate' });
  });

  it('refuses versions that are not strict semver, and a binary version older than the emulation version', () => {
    const store = new CandidateStore();
    const notSemver = apiErrorOf(() => store.create(NS, candidate('a', { binaryVersion: 'v1.33', emulationVersion: '1.33' })));
    expect(notSemver.status.details?.causes).toEqual([
      { reason: 'FieldValueInvalid', field: 'spec.emulationVersion', message: 'Invalid value: "1.33": must be a valid semantic version' },
      { reason: 'FieldValueInvalid', field: 'spec.binaryVersion', message: 'Invalid value: "v1.33": must be a valid semantic version' },
      // As in the real validation: an emulation version that does not parse counts as none.
      { reason: 'FieldValueRequired', field: 'spec.emulationVersion', message: "Required value: must be specified when `strategy` is 'OldestEmulationVersion'" },
    ]);
    const older = apiErrorOf(() => store.create(NS, candidate('a', { binaryVersion: '1.32.0', emulationVersion: '1.33.0' })));
    expect(older.status.details?.causes).toEqual([
      { reason: 'FieldValueInvalid', field: 'spec.binaryVersion', message: 'Invalid value: "1.32.0": must be greater than or equal to `emulationVersion`' },
    ]);
  });

  it('requires an emulation version for OldestEmulationVersion and refuses unknown strategies', () => {
    const store = new CandidateStore();
    const noEmulation = apiErrorOf(() => store.create(NS, candidate('a', { emulationVersion: '' })));
    expect(noEmulation.status.details?.causes).toEqual([
      { reason: 'FieldValueRequired', field: 'spec.emulationVersion', message: "Required value: must be specified when `strategy` is 'OldestEmulationVersion'" },
    ]);
    const unknown = apiErrorOf(() => store.create(NS, candidate('a', { strategy: 'Newest' })));
    expect(unknown.status.details?.causes?.[0]).toMatchObject({ reason: 'FieldValueNotSupported', field: 'spec.strategy' });
    expect(() => store.create(NS, candidate('b', { strategy: 'example.com/custom', emulationVersion: '' }))).not.toThrow();
  });

  it('allows names a Lease may not have (a ConfigMap key) but not a slash', () => {
    const store = new CandidateStore();
    expect(() => store.create(NS, candidate('Replica_1'))).not.toThrow();
    const err = apiErrorOf(() => store.create(NS, candidate('a/b')));
    expect(err.status.details?.causes?.[0]?.field).toBe('metadata.name');
  });

  it('refuses a pingTime that is not a MicroTime with 400, naming the v1beta1 version', () => {
    const err = apiErrorOf(() => new CandidateStore().create(NS, candidate('a', { pingTime: '2026-01-02T03:04:05Z' })));
    expect(err.statusCode).toBe(400);
    expect(err.status.message).toMatch(/^LeaseCandidate in version "v1beta1" cannot be handled as a LeaseCandidate: parsing time "2026-01-02T03:04:05Z"/);
  });

  it('refuses a body of another apiVersion', () => {
    const err = apiErrorOf(() => new CandidateStore().create(NS, { ...candidate('a'), apiVersion: 'coordination.k8s.io/v1' }));
    expect(err.statusCode).toBe(400);
    expect(err.status.message).toBe('the API version in the data (coordination.k8s.io/v1) does not match the expected API version (coordination.k8s.io/v1beta1)');
  });
});

describe('CandidateStore: writes', () => {
  it('answers a second create of the name with 409 AlreadyExists in the real words', () => {
    const store = new CandidateStore();
    store.create(NS, candidate('a'));
    const err = apiErrorOf(() => store.create(NS, candidate('a')));
    expect(err.statusCode).toBe(409);
    expect(err.status.message).toBe('leasecandidates.coordination.k8s.io "a" already exists');
  });

  it('compares and swaps on resourceVersion, and a no-op update keeps it', () => {
    const store = new CandidateStore();
    const first = store.create(NS, candidate('a'));
    const renewed = store.update(NS, 'a', { ...first, spec: { ...first.spec, renewTime: '2026-01-02T03:04:05.000000Z' } }).candidate;
    expect(renewed.metadata?.resourceVersion).toBe('2');
    const stale = apiErrorOf(() => store.update(NS, 'a', first));
    expect(stale.reason).toBe('Conflict');
    expect(stale.status.message).toMatch(/^Operation cannot be fulfilled on leasecandidates.coordination.k8s.io "a": the object has been modified/);
    expect(store.update(NS, 'a', renewed).candidate.metadata?.resourceVersion).toBe('2');
    expect(store.resourceVersion).toBe('2');
  });

  it('keeps leaseName immutable', () => {
    const store = new CandidateStore();
    const first = store.create(NS, candidate('a'));
    const err = apiErrorOf(() => store.update(NS, 'a', { ...first, spec: { ...first.spec, leaseName: 'other' } }));
    expect(err.status.details?.causes).toEqual([{ reason: 'FieldValueInvalid', field: 'spec.leaseName', message: 'Invalid value: "other": field is immutable' }]);
  });

  it('needs a resourceVersion to replace an existing candidate, and creates a missing one without it', () => {
    const store = new CandidateStore();
    expect(store.update(NS, 'a', candidate('a')).created).toBe(true);
    const err = apiErrorOf(() => store.update(NS, 'a', candidate('a')));
    expect(err.status.message).toBe('leasecandidates.coordination.k8s.io "a" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update');
  });

  it('deletes with preconditions and answers 404 in the real words afterwards', () => {
    const store = new CandidateStore();
    const a = store.create(NS, candidate('a'));
    expect(apiErrorOf(() => store.delete(NS, 'a', { preconditions: { resourceVersion: '99' } })).reason).toBe('Conflict');
    store.delete(NS, 'a', { preconditions: { uid: a.metadata!.uid! } });
    const err = apiErrorOf(() => store.get(NS, 'a'));
    expect(err.statusCode).toBe(404);
    expect(err.status.message).toBe('leasecandidates.coordination.k8s.io "a" not found');
  });

  it('lists by namespace, name and label selector, and deletes a selected collection', () => {
    const store = new CandidateStore();
    store.create(NS, candidate('b', {}, { app: 'x' }));
    store.create(NS, candidate('a', {}, { app: 'y' }));
    store.create('other', candidate('c', {}, { app: 'x' }));
    expect(store.list(NS).items.map((c) => c.metadata?.name)).toEqual(['a', 'b']);
    expect(store.list(undefined, { labelSelector: 'app=x' }).items.map((c) => c.metadata?.name)).toEqual(['b', 'c']);
    expect(store.list(undefined, { name: 'a' }).items).toHaveLength(1);
    expect(store.list(NS).kind).toBe('LeaseCandidateList');
    expect(store.deleteCollection(undefined, { labelSelector: 'app=x' }).map((c) => c.metadata?.name)).toEqual(['b', 'c']);
    expect(store.list(undefined).items.map((c) => c.metadata?.name)).toEqual(['a']);
  });
});

describe('CandidateStore: watch', () => {
  it('delivers ADDED, MODIFIED and DELETED, and resumes from a resourceVersion', async () => {
    const store = new CandidateStore();
    const seen: CandidateWatchEvent[] = [];
    const handle = store.watch({ namespace: NS }, (e) => seen.push(e));
    const a = store.create(NS, candidate('a'));
    store.update(NS, 'a', { ...a, spec: { ...a.spec, pingTime: '2026-01-02T03:04:05.000000Z' } });
    store.delete(NS, 'a');
    store.create('other', candidate('z'));
    await settle();
    expect(seen.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    handle.stop();

    const resumed: CandidateWatchEvent[] = [];
    const again = store.watch({ namespace: NS, resourceVersion: '1' }, (e) => resumed.push(e));
    await settle();
    expect(resumed.map((e) => [e.type, (e.object as LeaseCandidate).metadata?.resourceVersion])).toEqual([
      ['MODIFIED', '2'],
      ['DELETED', '3'],
    ]);
    again.stop();
    expect(store.watcherCount).toBe(0);
  });

  it('answers a resume from before the retained history with 410 Expired', () => {
    const store = new CandidateStore({ historyLimit: 1 });
    store.create(NS, candidate('a'));
    store.create(NS, candidate('b'));
    store.create(NS, candidate('c'));
    const err = apiErrorOf(() => store.watch({ resourceVersion: '1' }, () => undefined));
    expect(err.statusCode).toBe(410);
    expect(err.reason).toBe('Expired');
  });

  it('sees a candidate leave a label selector as DELETED', async () => {
    const store = new CandidateStore();
    const a = store.create(NS, candidate('a', {}, { role: 'cp' }));
    const seen: string[] = [];
    const handle = store.watch({ labelSelector: 'role=cp' }, (e) => seen.push(e.type));
    store.update(NS, 'a', { ...a, metadata: { ...a.metadata, labels: { role: 'worker' } } });
    await settle();
    expect(seen).toEqual(['ADDED', 'DELETED']);
    handle.stop();
  });
});

describe('semantic versions', () => {
  it('parses strictly for validation and tolerantly for ranking', () => {
    expect(parseSemver('1.31.0')).toEqual({ core: [1, 31, 0], pre: [] });
    expect(parseSemver('1.31')).toBeUndefined();
    expect(parseSemver('01.31.0')).toBeUndefined();
    expect(parseSemverTolerant('v1.31')).toEqual({ core: [1, 31, 0], pre: [] });
    expect(parseSemverTolerant('1.x')).toBeUndefined();
  });

  it('orders by precedence, a pre-release before its release', () => {
    const v = (s: string) => parseSemver(s)!;
    expect(compareSemver(v('1.31.0'), v('1.32.0'))).toBeLessThan(0);
    expect(compareSemver(v('1.32.0-alpha.1'), v('1.32.0'))).toBeLessThan(0);
    expect(compareSemver(v('1.32.0-alpha.2'), v('1.32.0-alpha.10'))).toBeLessThan(0);
    expect(compareSemver(v('1.32.0+build'), v('1.32.0'))).toBe(0);
  });
});
