import { describe, expect, it } from '@jest/globals';
import type { Lease, LeaseWatchEvent } from '../lease.js';
import { toSafeLogger, silentLogger } from '../logger.js';
import { seededRandom } from '../random.js';
import { FakeClock } from '../testing/fake-clock.js';
import { LeaseStore } from '../testing/lease-store.js';
import { MemoryLeaseClient } from '../testing/memory-lease-client.js';
import { SetFeed, isNewerVersion } from './set-feed.js';

const NS = 'default';
const SELECTOR = 'leasekit.io/shard-set=work';

function lease(name: string, holder: string, labelled = true): Lease {
  return {
    metadata: { name, ...(labelled ? { labels: { 'leasekit.io/shard-set': 'work' } } : {}) },
    spec: { holderIdentity: holder, leaseDurationSeconds: 10 },
  };
}

function setup() {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  const client = new MemoryLeaseClient(store, { clock });
  const changes: [string, string | undefined][] = [];
  const feed = new SetFeed({
    client,
    namespace: NS,
    labelSelector: SELECTOR,
    clock,
    random: seededRandom(1),
    retryPeriodMs: 1000,
    requestTimeoutMs: 5000,
    log: toSafeLogger(silentLogger),
    onChange: (name, l) => changes.push([name, l?.spec?.holderIdentity ?? undefined]),
  });
  const stop = new AbortController();
  const done = feed.run(stop.signal);
  const finish = async (): Promise<void> => {
    stop.abort();
    await clock.advance(0);
    await done;
    expect(store.watcherCount).toBe(0);
  };
  return { clock, store, client, feed, changes, finish };
}

/** A per-Lease watch through `feed.clientFor`, collecting its events. */
function watchOne(feed: SetFeed, client: MemoryLeaseClient, name: string, resourceVersion?: string) {
  const events: LeaseWatchEvent[] = [];
  const stop = new AbortController();
  let opened = false;
  let ended = false;
  const done = feed
    .clientFor(client)
    .watch!(NS, name, { signal: stop.signal, ...(resourceVersion ? { resourceVersion } : {}), onOpen: () => (opened = true), onEvent: (e) => events.push(e) })
    .then(() => (ended = true));
  return { events, stop: () => stop.abort(), done, isOpen: () => opened, isEnded: () => ended };
}

const holders = (events: LeaseWatchEvent[]): string[] => events.map((e) => `${e.type}:${(e.object as Lease).spec?.holderIdentity ?? ''}`);

describe('SetFeed: one watch for a whole Lease set', () => {
  it('serves per-Lease watches for many Leases from one list and one label-selector watch', async () => {
    const { clock, store, client, feed, changes, finish } = setup();
    store.create(NS, lease('work-0', 'a'));
    store.create(NS, lease('other', 'z', false));
    await clock.advance(0);
    const w0 = watchOne(feed, client, 'work-0');
    const w1 = watchOne(feed, client, 'work-1');
    await clock.advance(0);
    expect(w0.isOpen() && w1.isOpen()).toBe(true);
    store.create(NS, lease('work-1', 'b'));
    const current = store.get(NS, 'work-0');
    store.update(NS, 'work-0', { ...current, spec: { ...current.spec, holderIdentity: 'c' } });
    store.update(NS, 'other', { ...store.get(NS, 'other'), spec: { holderIdentity: 'y' } });
    await clock.advance(0);
    expect(holders(w0.events)).toEqual(['ADDED:a', 'MODIFIED:c']);
    expect(holders(w1.events)).toEqual(['ADDED:b']);
    // The unlabelled Lease is not part of the set.
    expect(changes).toEqual([['work-0', 'a'], ['work-1', 'b'], ['work-0', 'c']]);
    expect(client.verbs()).toEqual(['list', 'watchSet']);
    expect(feed.requests).toEqual({ lists: 1, watches: 1 });
    w0.stop();
    w1.stop();
    await Promise.all([w0.done, w1.done]);
    await finish();
  });

  it('on opening a per-Lease watch delivers the cached state only when it is newer than the resourceVersion given', async () => {
    const { clock, store, client, feed, finish } = setup();
    const created = store.create(NS, lease('work-0', 'a'));
    await clock.advance(0);
    const same = watchOne(feed, client, 'work-0', created.metadata?.resourceVersion);
    const older = watchOne(feed, client, 'work-0', '0');
    const gone = watchOne(feed, client, 'work-9', '0');
    await clock.advance(0);
    expect(same.events).toEqual([]);
    expect(holders(older.events)).toEqual(['ADDED:a']);
    expect(gone.events.map((e) => e.type)).toEqual(['DELETED']);
    for (const w of [same, older, gone]) w.stop();
    await finish();
  });

  it('after its stream ends with 410 Gone it relists, reports what was deleted meanwhile, and ends the per-Lease watches with the stream', async () => {
    const { clock, store, client, feed, changes, finish } = setup();
    store.create(NS, lease('work-0', 'a'));
    store.create(NS, lease('work-1', 'b'));
    await clock.advance(0);
    const w0 = watchOne(feed, client, 'work-0');
    await clock.advance(0);
    store.stopAllWatches();
    store.delete(NS, 'work-1');
    store.compact();
    await clock.advance(0);
    expect(w0.isEnded()).toBe(true);
    expect(feed.open).toBe(false);
    await clock.advance(10_000);
    expect(feed.open).toBe(true);
    expect(feed.lease('work-1')).toBeUndefined();
    expect(changes).toContainEqual(['work-1', undefined]);
    expect(client.verbs().filter((v) => v === 'list').length).toBe(2);
    await finish();
  });

  it('a set watch that never opens is ended after the request timeout, then the set is relisted and watched again', async () => {
    const clock = new FakeClock();
    const store = new LeaseStore({ clock });
    let hangs = 1;
    const client = new MemoryLeaseClient(store, { clock, fault: (call) => (call.verb === 'watchSet' && hangs-- > 0 ? { kind: 'hang' } : undefined) });
    const changes: string[] = [];
    const feed = new SetFeed({
      client,
      namespace: NS,
      labelSelector: SELECTOR,
      clock,
      random: seededRandom(2),
      retryPeriodMs: 1000,
      requestTimeoutMs: 5000,
      log: toSafeLogger(silentLogger),
      onChange: (name) => changes.push(name),
    });
    const stop = new AbortController();
    const done = feed.run(stop.signal);
    await clock.advance(0);
    expect(feed.requests).toEqual({ lists: 1, watches: 1 });
    store.create(NS, lease('work-0', 'a')); // unseen: the first watch hangs
    await clock.advance(4_900);
    expect(feed.open).toBe(false);
    expect(changes).toEqual([]);
    // Past the request timeout and the backoff (at most 1.5 retry periods): relisted, watching again.
    await clock.advance(100 + 1_500);
    expect(feed.requests).toEqual({ lists: 2, watches: 2 });
    expect(feed.open).toBe(true);
    expect(changes).toEqual(['work-0']);
    stop.abort();
    await clock.advance(0);
    await done;
    expect(store.watcherCount).toBe(0);
  });

  it('compares resourceVersions as integers when both are, else by difference', () => {
    expect(isNewerVersion('10', '9')).toBe(true);
    expect(isNewerVersion('9', '10')).toBe(false);
    expect(isNewerVersion('9', '9')).toBe(false);
    expect(isNewerVersion('abc', 'abd')).toBe(true);
    expect(isNewerVersion(undefined, '1')).toBe(false);
    expect(isNewerVersion('1', undefined)).toBe(true);
  });
});
