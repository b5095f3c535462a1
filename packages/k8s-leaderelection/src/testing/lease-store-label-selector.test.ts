/**
 * The store's `labelSelector` on list and watch: only matching objects, and on a watch the API
 * server's rule for objects whose labels change (ADDED when they start matching, DELETED with
 * their previous state when they stop).
 */
import { describe, expect, it } from '@jest/globals';
import { ApiError } from '../errors.js';
import type { Lease, LeaseWatchEvent } from '../lease.js';
import { settle } from './fake-clock.js';
import { LeaseStore, type WatchFilter } from './lease-store.js';

const NS = 'default';

function lease(name: string, labels?: Record<string, string>, namespace = NS): [string, Lease] {
  return [namespace, { metadata: { name, ...(labels ? { labels } : {}) } }];
}

/** A store holding web-1, web-2 (app=web), db (app=db) and bare (no labels) in default, web-3 in prod. */
function seeded(): LeaseStore {
  const store = new LeaseStore();
  for (const [ns, body] of [
    lease('web-1', { app: 'web' }),
    lease('web-2', { app: 'web', tier: 'front' }),
    lease('db', { app: 'db' }),
    lease('bare'),
    lease('web-3', { app: 'web' }, 'prod'),
  ]) {
    store.create(ns, body);
  }
  return store;
}

const names = (items: Lease[]): string[] => items.map((l) => `${l.metadata?.namespace}/${l.metadata?.name}`);

function relabel(store: LeaseStore, namespace: string, name: string, labels: Record<string, string>): Lease {
  const current = store.get(namespace, name);
  return store.update(namespace, name, { ...current, metadata: { ...current.metadata, labels } }).lease;
}

/** Opens a watch that records what it sees, as `TYPE name app=<label>`. */
function recorder(store: LeaseStore, filter: WatchFilter): { seen: string[]; events: LeaseWatchEvent[]; stop(): void } {
  const events: LeaseWatchEvent[] = [];
  const handle = store.watch(filter, (event) => events.push(event));
  return {
    events,
    get seen() {
      return events.map((e) => `${e.type} ${(e.object as Lease).metadata?.name} app=${(e.object as Lease).metadata?.labels?.app ?? '-'}`);
    },
    stop: () => handle.stop(),
  };
}

function refusal(fn: () => unknown): { code: number; reason: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return { code: err.statusCode, reason: err.reason, message: err.status.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('LeaseStore.list with a labelSelector', () => {
  it('returns only the Leases whose labels match, in one namespace or in all', () => {
    const store = seeded();
    expect(names(store.list(NS, { labelSelector: 'app=web' }).items)).toEqual(['default/web-1', 'default/web-2']);
    expect(names(store.list(undefined, { labelSelector: 'app=web' }).items)).toEqual(['default/web-1', 'default/web-2', 'prod/web-3']);
    expect(names(store.list(NS, { labelSelector: 'app in (web,db),tier!=front' }).items)).toEqual(['default/db', 'default/web-1']);
    expect(names(store.list(NS, { labelSelector: '!app' }).items)).toEqual(['default/bare']);
    expect(names(store.list(NS, { labelSelector: '' }).items)).toHaveLength(4);
  });

  it('combines with the name of a field selector', () => {
    const store = seeded();
    expect(names(store.list(NS, { name: 'web-2', labelSelector: 'tier=front' }).items)).toEqual(['default/web-2']);
    expect(store.list(NS, { name: 'db', labelSelector: 'app=web' }).items).toEqual([]);
  });

  it('refuses a selector that does not parse with 400 BadRequest in the parser words', () => {
    expect(refusal(() => seeded().list(NS, { labelSelector: 'app in (web' }))).toEqual({
      code: 400,
      reason: 'BadRequest',
      message: "unable to parse requirement: found '', expected: ',' or ')'",
    });
  });
});

describe('LeaseStore.watch with a labelSelector', () => {
  it('starts with ADDED for the matching Leases only', async () => {
    const store = seeded();
    const w = recorder(store, { namespace: NS, labelSelector: 'app=web' });
    await settle();
    expect(w.seen).toEqual(['ADDED web-1 app=web', 'ADDED web-2 app=web']);
    w.stop();
  });

  it('delivers creations, updates and deletions of matching Leases, and nothing of the others', async () => {
    const store = seeded();
    const w = recorder(store, { namespace: NS, labelSelector: 'app=web', resourceVersion: store.resourceVersion });
    store.create(...lease('web-4', { app: 'web' }));
    store.create(...lease('cache', { app: 'cache' }));
    relabel(store, NS, 'web-1', { app: 'web', tier: 'back' });
    relabel(store, NS, 'db', { app: 'db', tier: 'back' });
    store.delete(NS, 'web-4');
    store.delete(NS, 'cache');
    await settle();
    expect(w.seen).toEqual(['ADDED web-4 app=web', 'MODIFIED web-1 app=web', 'DELETED web-4 app=web']);
    w.stop();
  });

  it('delivers a Lease that starts matching as ADDED, and one that stops as DELETED with its previous state', async () => {
    const store = seeded();
    const w = recorder(store, { namespace: NS, labelSelector: 'app=web', resourceVersion: store.resourceVersion });
    const joined = relabel(store, NS, 'db', { app: 'web' });
    const left = relabel(store, NS, 'web-1', { app: 'db' });
    await settle();
    expect(w.seen).toEqual(['ADDED db app=web', 'DELETED web-1 app=web']);
    expect((w.events[0]!.object as Lease).metadata?.resourceVersion).toBe(joined.metadata?.resourceVersion);
    // The DELETED object is the last state the watch saw, at the update's resourceVersion.
    expect((w.events[1]!.object as Lease).metadata?.resourceVersion).toBe(left.metadata?.resourceVersion);
    expect((w.events[1]!.object as Lease).metadata?.labels).toEqual({ app: 'web' });
    // Once gone from the watch, further changes are not delivered until it matches again.
    relabel(store, NS, 'web-1', { app: 'db', tier: 'x' });
    relabel(store, NS, 'web-1', { app: 'web' });
    await settle();
    expect(w.seen.slice(2)).toEqual(['ADDED web-1 app=web']);
    w.stop();
  });

  it('replays history from a resourceVersion with the same rule', async () => {
    const store = seeded();
    const from = store.resourceVersion;
    relabel(store, NS, 'db', { app: 'web' });
    relabel(store, NS, 'web-2', { app: 'api' });
    relabel(store, NS, 'bare', { other: 'x' });
    const w = recorder(store, { namespace: NS, labelSelector: 'app=web', resourceVersion: from });
    await settle();
    expect(w.seen).toEqual(['ADDED db app=web', 'DELETED web-2 app=web']);
    w.stop();
  });

  it('watches every namespace when no namespace is given', async () => {
    const store = seeded();
    const w = recorder(store, { labelSelector: 'app=web', resourceVersion: store.resourceVersion });
    relabel(store, 'prod', 'web-3', { app: 'web', tier: 'x' });
    store.create(...lease('web-9', { app: 'web' }, 'staging'));
    store.create(...lease('db-9', { app: 'db' }, 'staging'));
    await settle();
    expect(w.seen).toEqual(['MODIFIED web-3 app=web', 'ADDED web-9 app=web']);
    w.stop();
  });

  it('gives every watch its own view of one change', async () => {
    const store = seeded();
    const rv = store.resourceVersion;
    const web = recorder(store, { namespace: NS, labelSelector: 'app=web', resourceVersion: rv });
    const db = recorder(store, { namespace: NS, labelSelector: 'app=db', resourceVersion: rv });
    const all = recorder(store, { namespace: NS, resourceVersion: rv });
    relabel(store, NS, 'web-1', { app: 'db' });
    await settle();
    expect(web.seen).toEqual(['DELETED web-1 app=web']);
    expect(db.seen).toEqual(['ADDED web-1 app=db']);
    expect(all.seen).toEqual(['MODIFIED web-1 app=db']);
    for (const w of [web, db, all]) w.stop();
  });

  it('refuses a selector that does not parse with 400 before looking at the resourceVersion', () => {
    const store = seeded();
    store.compact();
    expect(refusal(() => store.watch({ namespace: NS, labelSelector: 'app=', resourceVersion: '1' }, () => {})).code).toBe(410);
    expect(refusal(() => store.watch({ namespace: NS, labelSelector: 'app==(', resourceVersion: '1' }, () => {}))).toEqual({
      code: 400,
      reason: 'BadRequest',
      message: "unable to parse requirement: found '(', expected: identifier",
    });
    expect(store.watcherCount).toBe(0);
  });
});
