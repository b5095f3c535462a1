/**
 * Owns the patch formats of PATCH requests: RFC 7386 JSON merge patch (strategic merge patch is
 * the same for a Lease or an Event: neither has keyed lists), RFC 6902 JSON patch, and server-side
 * apply as a merge onto the current object. A patch only computes the new object; the store
 * writes it with its own compare-and-swap, decoding and validation (`LeaseStore.update` or
 * `CandidateStore.update` with `via`).
 */
import { ApiError, type Lease } from '@leasekit/k8s-leaderelection';
import { makeStatus } from '@leasekit/k8s-leaderelection/internal';
import { objectRules } from '@leasekit/k8s-leaderelection/internal';
import { leaseErrors, type LeaseStore, type WriteResult } from '@leasekit/k8s-leaderelection/testing';
import type { PatchFormat } from './http.js';
import { cloneJson, jsonText } from './json-text.js';

const { isRecord } = objectRules;

/** RFC 7386 JSON merge patch, without recursion (a patch may nest as deep as its client likes). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return cloneJson(patch);
  const root: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  const pending: [Record<string, unknown>, Record<string, unknown>][] = [[root, patch]];
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [result, patchNode] = item;
    for (const [key, value] of Object.entries(patchNode)) {
      if (value === null) delete result[key];
      else if (!isRecord(value)) result[key] = cloneJson(value);
      else {
        const existing = result[key];
        const merged: Record<string, unknown> = isRecord(existing) ? { ...existing } : {};
        result[key] = merged;
        pending.push([merged, value]);
      }
    }
  }
  return root;
}

/** RFC 6902 JSON patch, the operations kubectl uses (add, replace, remove, test, copy, move). */
export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw leaseErrors.badRequest('json patch must be an array of operations');
  let doc = cloneJson(target);
  const parse = (path: unknown): string[] => {
    if (typeof path !== 'string' || (path !== '' && !path.startsWith('/'))) throw leaseErrors.badRequest(`invalid json patch path ${JSON.stringify(path)}`);
    return path === '' ? [] : path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  };
  const parentOf = (parts: string[]): [Record<string, unknown> | unknown[], string] => {
    let node: unknown = doc;
    for (const part of parts.slice(0, -1)) {
      node = Array.isArray(node) ? node[Number(part)] : isRecord(node) ? node[part] : undefined;
      if (node === undefined) throw leaseErrors.badRequest(`json patch path not found: /${parts.join('/')}`);
    }
    if (!isRecord(node) && !Array.isArray(node)) throw leaseErrors.badRequest(`json patch path not found: /${parts.join('/')}`);
    return [node, parts[parts.length - 1] ?? ''];
  };
  const read = (parts: string[]): unknown => {
    const [parent, key] = parentOf(parts);
    return Array.isArray(parent) ? parent[Number(key)] : parent[key];
  };
  const write = (parts: string[], value: unknown, insert: boolean): void => {
    if (parts.length === 0) {
      doc = value;
      return;
    }
    const [parent, key] = parentOf(parts);
    if (Array.isArray(parent)) {
      const index = key === '-' ? parent.length : Number(key);
      if (insert) parent.splice(index, 0, value);
      else parent[index] = value;
    } else parent[key] = value;
  };
  const remove = (parts: string[]): void => {
    const [parent, key] = parentOf(parts);
    if (Array.isArray(parent)) parent.splice(Number(key), 1);
    else {
      if (!(key in parent)) throw leaseErrors.badRequest(`json patch: nothing to remove at /${parts.join('/')}`);
      delete parent[key];
    }
  };
  for (const raw of ops) {
    if (!isRecord(raw)) throw leaseErrors.badRequest('json patch operation must be an object');
    const path = parse(raw.path);
    switch (raw.op) {
      case 'add':
        write(path, cloneJson(raw.value), true);
        break;
      case 'replace':
        if (read(path) === undefined) throw leaseErrors.badRequest(`json patch: nothing to replace at ${String(raw.path)}`);
        write(path, cloneJson(raw.value), false);
        break;
      case 'remove':
        remove(path);
        break;
      case 'test':
        if (jsonText(read(path)) !== jsonText(raw.value)) {
          throw new ApiError(makeStatus(422, 'Invalid', `json patch test operation failed at ${String(raw.path)}`));
        }
        break;
      case 'copy':
      case 'move': {
        const from = parse(raw.from);
        const value = cloneJson(read(from));
        if (raw.op === 'move') remove(from);
        write(path, value, true);
        break;
      }
      default:
        throw leaseErrors.badRequest(`json patch: unknown operation ${JSON.stringify(raw.op)}`);
    }
  }
  return doc;
}

/** The object a patch of `format` makes of `current` (JSON patch, or a merge for the others). */
export function applyPatch(current: unknown, patch: unknown, format: PatchFormat): unknown {
  return format === 'json' ? jsonPatch(current, patch) : mergePatch(current, patch);
}

/** What a PATCH needs of a store: the current object, and a write of the patched one. */
export interface PatchTarget<R> {
  /** The current object, undefined when there is none. */
  readonly current: object | undefined;
  /** What apply patches onto when there is no object yet (apiVersion, kind, name, namespace). */
  readonly empty: object;
  /** 404 for a missing object. */
  readonly notFound: () => Error;
  /** Writes the patched object with the store's compare-and-swap, decoding and validation. */
  readonly write: (patched: unknown, via: 'patch' | 'apply') => R;
}

/**
 * PATCH of a stored object: the patch applied to the current object and written back with the
 * store's compare-and-swap (the server is single-threaded: nothing writes in between).
 * Server-side apply creates a missing object; the other formats answer 404 for one.
 */
export function patchStored<R>(target: PatchTarget<R>, patch: unknown, format: PatchFormat): R {
  if (!target.current && format !== 'apply') throw target.notFound();
  return target.write(applyPatch(target.current ?? target.empty, patch, format), format === 'apply' ? 'apply' : 'patch');
}

/** PATCH of a Lease (see {@link patchStored}). */
export function patchLease(store: LeaseStore, namespace: string, name: string, patch: unknown, format: PatchFormat): WriteResult {
  const empty: Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name, namespace } };
  return patchStored(
    { current: store.peek(namespace, name), empty, notFound: () => leaseErrors.notFound(name), write: (patched, via) => store.update(namespace, name, patched, { via }) },
    patch,
    format,
  );
}
