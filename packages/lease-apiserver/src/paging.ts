/**
 * Owns list paging: `limit` and opaque `continue` tokens (offsets into the sorted list), and the
 * list metadata they produce. As on the API server, a page selected by labels has no
 * `remainingItemCount`: it cannot count what the selector leaves.
 */
import { leaseErrors, parseLabelSelector } from '@leasekit/k8s-leaderelection/testing';

/** The paging parameters of a list request. */
export interface PageOptions {
  /** At most this many items; the rest is reachable with `continue`. */
  readonly limit?: number;
  /** The token from a previous page's `metadata.continue`. */
  readonly continue?: string;
  /** The list's `labelSelector`, if any: a non-empty one leaves out `remainingItemCount`. */
  readonly labelSelector?: string;
}

/** One page of a list and what its metadata says about the rest. */
export interface Page<T> {
  readonly items: T[];
  readonly more: PageMetadata;
}

/** Cuts one page out of `all` (already sorted); 400 BadRequest for a token that is not one of ours. */
export function paginate<T>(all: readonly T[], options: PageOptions): Page<T> {
  let start = 0;
  if (options.continue) {
    const decoded = Number(Buffer.from(options.continue, 'base64').toString('utf8'));
    if (!Number.isInteger(decoded) || decoded < 0) throw leaseErrors.badRequest('invalid continue token');
    start = decoded;
  }
  const limit = options.limit && options.limit > 0 ? options.limit : Infinity;
  const items = all.slice(start, start + limit);
  const next = start + items.length;
  if (next >= all.length) return { items, more: {} };
  const token = Buffer.from(String(next)).toString('base64');
  const counted = options.labelSelector === undefined || parseLabelSelector(options.labelSelector).empty;
  return { items, more: counted ? { continue: token, remainingItemCount: all.length - next } : { continue: token } };
}

/** What paging adds to a list's metadata. */
export interface PageMetadata {
  continue?: string;
  remainingItemCount?: number;
}

/** A list as one page: its metadata with {@link PageMetadata}. */
export type Paged<L extends { metadata: object }> = Omit<L, 'metadata'> & { metadata: L['metadata'] & PageMetadata };

/** A list with one page of its items, the paging metadata joined to its own. */
export function pageOf<T, L extends { metadata: object; items: T[] }>(list: L, options: PageOptions): Paged<L> {
  const { items, more } = paginate(list.items, options);
  return { ...list, metadata: { ...list.metadata, ...more }, items };
}
