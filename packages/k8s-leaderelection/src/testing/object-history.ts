/**
 * The versioned objects of one resource, as the API server keeps them: the current object per
 * namespace and name, the resourceVersion counter, a bounded history of changes (410 Gone beyond
 * it), list and watch by namespace, name and label selector, and the watcher registry with its
 * fan-out; and {@link VersionedStore}, the reading, deleting and watching every store of one
 * resource offers over it. Kind-specific decoding, validation and writes stay in the stores built on
 * it (LeaseStore, CandidateStore); this is the one implementation of their versions and watch.
 */
import type { ObjectMeta } from '../lease.js';
import { clone, plainCanonicalEqual, toJson } from './json-tree.js';
import { EVERYTHING, parseLabelSelector, type LabelSelector } from './label-selector.js';
import type { apiErrorsFor } from './lease-errors.js';
import { checkPreconditions, isRecord } from './object-rules.js';

/** What the history needs of an object: its metadata. */
export interface VersionedObject {
  metadata?: ObjectMeta;
}

/** A change as a watch reports it. */
export interface ObjectEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
}

export interface ListOptions {
  /**
   * The `resourceVersion` query parameter. Any answer is at least this fresh (the store is always
   * current), but it must parse as the API server's resourceVersion: 400 BadRequest otherwise.
   */
  resourceVersion?: string;
  /** Only this object (`fieldSelector=metadata.name=...`). */
  name?: string;
  /**
   * Only objects whose labels match (`labelSelector`, the API server's syntax; 400 BadRequest when
   * it does not parse).
   */
  labelSelector?: string;
}

/** Options of a store's `get`. */
export interface GetOptions {
  /** The `resourceVersion` query parameter: checked like {@link ListOptions.resourceVersion}. */
  resourceVersion?: string;
}

export interface WatchFilter {
  /** undefined means every namespace. */
  namespace?: string;
  name?: string;
  /** Resume after this version; undefined, '' or '0' start with ADDED events for the current state. */
  resourceVersion?: string;
  /**
   * Only objects whose labels match, like {@link ListOptions.labelSelector}. As on the API server,
   * an update that makes an object match arrives as ADDED and one that makes it stop matching as
   * DELETED (its previous state, at the update's resourceVersion).
   */
  labelSelector?: string;
}

export interface WatchHandle {
  /** Stops delivery; idempotent. */
  stop(): void;
}

export interface DeleteOptions {
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface ObjectHistoryOptions {
  /** How many past changes are kept for resuming; older resourceVersions get 410 Gone. */
  historyLimit: number;
  /** The resource's Status errors (not found, preconditions, bad resourceVersion, gone). */
  errors: ReturnType<typeof apiErrorsFor>;
}

interface HistoryEntry<T> {
  rv: number;
  namespace: string;
  name: string;
  event: ObjectEvent<T>;
  /** The object before a MODIFIED event: a label selector needs both states. */
  previous?: T;
}

interface Watcher<T> {
  filter: WatchFilter;
  selector: LabelSelector;
  listener: (event: ObjectEvent<T>) => void;
  onClose: (() => void) | undefined;
  active: boolean;
}

/**
 * The history. Reads return copies; writes take ownership of the object they are given. Watch
 * listeners are called asynchronously (in a microtask), in resourceVersion order.
 */
export class ObjectHistory<T extends VersionedObject> {
  private readonly historyLimit: number;
  private readonly errors: ObjectHistoryOptions['errors'];
  private readonly objects = new Map<string, T>();
  private readonly history: HistoryEntry<T>[] = [];
  private readonly watchers = new Set<Watcher<T>>();
  private revision = 0;
  /** Oldest resourceVersion a watch may resume from; older ones get 410 Gone. */
  private compactedRevision = 0;

  constructor(options: ObjectHistoryOptions) {
    this.historyLimit = Math.max(1, options.historyLimit);
    this.errors = options.errors;
  }

  /** The current resourceVersion. */
  get resourceVersion(): string {
    return String(this.revision);
  }

  /** The stored object itself (no copy: the caller must not change it), or undefined. */
  current(namespace: string, name: string): T | undefined {
    return this.objects.get(key(namespace, name));
  }

  /** A copy of the object; 404 NotFound when there is none. */
  get(namespace: string, name: string, options: GetOptions = {}): T {
    this.parseResourceVersion(options.resourceVersion);
    const found = this.objects.get(key(namespace, name));
    if (!found) throw this.errors.notFound(name);
    return clone(found);
  }

  /** A copy of the object, or undefined (tests reading state). */
  peek(namespace: string, name: string): T | undefined {
    const found = this.objects.get(key(namespace, name));
    return found ? clone(found) : undefined;
  }

  /** Copies of the matching objects in `namespace` (every namespace when undefined), sorted by namespace and name. */
  list(namespace: string | undefined, options: ListOptions = {}): T[] {
    const selector = selectorOf(options.labelSelector);
    this.parseResourceVersion(options.resourceVersion);
    return [...this.objects.entries()]
      .filter(([k, o]) => (namespace === undefined || k.startsWith(`${namespace}/`)) && (options.name === undefined || o.metadata?.name === options.name))
      .filter(([, o]) => selector.matches(o.metadata?.labels))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, o]) => clone(o));
  }

  /**
   * Stores `next` as a create (no `current`) or as the replacement of `current`, stamped with the
   * next resourceVersion, and returns a copy. A replacement that changes nothing is a no-op on the
   * real server (no new resourceVersion, no event): it compares decoded objects, so key order and
   * null-versus-absent do not count. `next.metadata` carries the resourceVersion it replaces.
   */
  write(namespace: string, name: string, next: T, current: T | undefined): T {
    if (current !== undefined && sameCanonicalJson(next, current)) return clone(current);
    next.metadata ??= {};
    next.metadata.resourceVersion = String(++this.revision);
    this.objects.set(key(namespace, name), next);
    // The stored object itself: stored objects are never changed, and every watcher gets a copy (seenBy).
    this.publish(namespace, name, { type: current ? 'MODIFIED' : 'ADDED', object: next }, current);
    return clone(next);
  }

  /** Deletes the object (404 NotFound, or 409 when a precondition fails); returns it at the deletion's resourceVersion. */
  delete(namespace: string, name: string, options: DeleteOptions = {}): T {
    const current = this.objects.get(key(namespace, name));
    if (!current) throw this.errors.notFound(name);
    checkPreconditions(this.errors, name, current, options.preconditions ?? {});
    this.objects.delete(key(namespace, name));
    const deleted = clone(current);
    deleted.metadata = { ...deleted.metadata, resourceVersion: String(++this.revision) };
    this.publish(namespace, name, { type: 'DELETED', object: deleted });
    return clone(deleted);
  }

  /**
   * Watches objects. Throws 410 (reason `Expired`, like the real server's "too old resource
   * version") when `resourceVersion` predates the retained history.
   */
  watch(filter: WatchFilter, listener: (event: ObjectEvent<T>) => void, onClose?: () => void): WatchHandle {
    const selector = selectorOf(filter.labelSelector);
    const watcher: Watcher<T> = { filter, selector, listener, onClose, active: true };
    const rv = filter.resourceVersion;
    let backlog: ObjectEvent<T>[];
    if (rv === undefined || rv === '' || rv === '0') {
      const current = this.list(filter.namespace, { ...(filter.name !== undefined ? { name: filter.name } : {}), ...(filter.labelSelector !== undefined ? { labelSelector: filter.labelSelector } : {}) });
      backlog = current.map((object) => ({ type: 'ADDED' as const, object }));
    } else {
      backlog = this.replay(rv, watcher);
    }
    this.watchers.add(watcher);
    for (const event of backlog) deliver(watcher, event);
    return {
      stop: () => {
        watcher.active = false;
        this.watchers.delete(watcher);
      },
    };
  }

  /** Number of open watches (tests check that clients clean up). */
  get watcherCount(): number {
    return this.watchers.size;
  }

  /** Drops history so that watches resuming before the current version get 410 Gone. */
  compact(): void {
    this.history.length = 0;
    this.compactedRevision = this.revision;
  }

  /** Ends every open watch stream (each `onClose` runs in a microtask; no more events). Returns how many ended. */
  stopAllWatches(): number {
    const ended = [...this.watchers];
    this.watchers.clear();
    for (const watcher of ended) {
      watcher.active = false;
      queueMicrotask(() => watcher.onClose?.());
    }
    return ended.length;
  }

  /**
   * What a watch resuming after resourceVersion `rv` is owed from the history: 410 Expired (the
   * real server's "too old resource version") when `rv` predates the retained history.
   */
  private replay(rv: string, watcher: Watcher<T>): ObjectEvent<T>[] {
    const parsed = this.parseResourceVersion(rv);
    // Beyond every revision this store can reach: nothing to replay, only what comes next.
    const from = parsed > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(parsed);
    if (from < this.compactedRevision) throw this.errors.gone(`too old resource version: ${from} (${this.compactedRevision})`);
    return this.history.filter((h) => h.rv > from).flatMap((h) => seenBy(watcher, h) ?? []);
  }

  /**
   * A resourceVersion as the API server parses it (Go's strconv.ParseUint, base 10, 64 bits): '' and
   * '0' mean "any"; anything else that is not an unsigned integer is refused with 400 BadRequest.
   */
  private parseResourceVersion(rv: string | undefined): bigint {
    if (rv === undefined || rv === '' || rv === '0') return 0n;
    if (!/^[0-9]+$/.test(rv)) throw this.errors.invalidResourceVersion(rv, 'invalid syntax');
    const value = BigInt(rv);
    if (value > 0xffff_ffff_ffff_ffffn) throw this.errors.invalidResourceVersion(rv, 'value out of range');
    return value;
  }

  private publish(namespace: string, name: string, event: ObjectEvent<T>, previous?: T): void {
    // `previous` is the stored object this change replaced: nothing refers to it any more.
    const entry: HistoryEntry<T> = { rv: this.revision, namespace, name, event, ...(previous !== undefined ? { previous } : {}) };
    this.history.push(entry);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.compactedRevision = dropped.rv;
    }
    for (const watcher of this.watchers) {
      const seen = seenBy(watcher, entry);
      if (seen) deliver(watcher, seen);
    }
  }
}

/** Whether the API server decodes two objects alike: their {@link canonicalJson} is equal (compared without writing it for plain trees). */
function sameCanonicalJson(a: unknown, b: unknown): boolean {
  return plainCanonicalEqual(a, b) ?? canonicalJson(a) === canonicalJson(b);
}

/** JSON with sorted keys and without null members: equal for objects the API server decodes alike. */
function canonicalJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (!isRecord(v)) return v;
      return Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== null).map((k) => [k, v[k]]));
    }) as string | undefined;
  } catch (err) {
    if (!(err instanceof RangeError)) throw err;
    return toJson(value, true);
  }
}

/**
 * What every store of one resource offers straight from its {@link ObjectHistory}: reads, deletes,
 * watches and the history's housekeeping. A store extends it with its own decoding, validation and
 * writes, through the history it passes in (`L`: the store's watch listener type).
 */
export class VersionedStore<T extends VersionedObject, L extends (event: ObjectEvent<T>) => void> {
  private readonly history: ObjectHistory<T>;

  constructor(history: ObjectHistory<T>) {
    this.history = history;
  }

  /** The store's current resourceVersion. */
  get resourceVersion(): string {
    return this.history.resourceVersion;
  }

  /** A copy of the object (404 NotFound when there is none); `resourceVersion` must parse (400 otherwise). */
  get(namespace: string, name: string, options: GetOptions = {}): T {
    return this.history.get(namespace, name, options);
  }

  /** Peeks without throwing (tests reading state). */
  peek(namespace: string, name: string): T | undefined {
    return this.history.peek(namespace, name);
  }

  /** Deletes the object (404 NotFound, or 409 when a precondition fails); returns it at the deletion's resourceVersion. */
  delete(namespace: string, name: string, options: DeleteOptions = {}): T {
    return this.history.delete(namespace, name, options);
  }

  /**
   * Watches objects: ADDED for the current state when `resourceVersion` is absent, '' or '0';
   * otherwise the changes after it, or 410 (reason `Expired`, like the real server's "too old
   * resource version") when it predates the retained history.
   */
  watch(filter: WatchFilter, listener: L, onClose?: () => void): WatchHandle {
    return this.history.watch(filter, listener, onClose);
  }

  /** Number of open watches (tests check that clients clean up). */
  get watcherCount(): number {
    return this.history.watcherCount;
  }

  /** Drops history so that watches resuming before the current version get 410 Gone. */
  compact(): void {
    this.history.compact();
  }

  /** Ends every open watch stream (its `onClose` runs; no more events). Returns how many ended. */
  stopAllWatches(): number {
    return this.history.stopAllWatches();
  }
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** A `labelSelector` option parsed (400 BadRequest when it does not parse); absent selects everything. */
function selectorOf(labelSelector: string | undefined): LabelSelector {
  return labelSelector === undefined ? EVERYTHING : parseLabelSelector(labelSelector);
}

/** Calls a watcher's listener with `event` in a microtask, unless it stopped by then. */
function deliver<T>(watcher: Watcher<T>, event: ObjectEvent<T>): void {
  queueMicrotask(() => {
    if (!watcher.active) return;
    try {
      watcher.listener(event);
    } catch {
      // A listener's own failure is its business; other watchers still get their events.
    }
  });
}

function matches(filter: WatchFilter, namespace: string, name: string): boolean {
  return (filter.namespace === undefined || filter.namespace === namespace) && (filter.name === undefined || filter.name === name);
}

/**
 * What one watch sees of a change (a copy), as the API server's watch cache decides it: nothing
 * when neither the new state nor the old one passes; ADDED when only the new one does; DELETED,
 * carrying the old state at the change's resourceVersion, when only the old one does.
 */
function seenBy<T extends VersionedObject>(watcher: Watcher<T>, entry: HistoryEntry<T>): ObjectEvent<T> | undefined {
  if (!matches(watcher.filter, entry.namespace, entry.name)) return undefined;
  const { event } = entry;
  const { selector } = watcher;
  if (selector.empty) return clone(event);
  const current = event.object;
  const before = event.type === 'DELETED' ? current : entry.previous;
  const passesNow = event.type !== 'DELETED' && selector.matches(current.metadata?.labels);
  const passedBefore = before !== undefined && selector.matches(before.metadata?.labels);
  if (passesNow) return { type: passedBefore ? event.type : 'ADDED', object: clone(current) };
  if (!passedBefore) return undefined;
  const gone = clone(before);
  gone.metadata = { ...gone.metadata, resourceVersion: current.metadata?.resourceVersion ?? String(entry.rv) };
  return { type: 'DELETED', object: gone };
}
