/** List paging: limit, continue tokens, and remainingItemCount only without a label selector. */
import { describe, expect, it } from '@jest/globals';
import { ApiError } from '@leasekit/k8s-leaderelection';
import { LeaseStore } from '@leasekit/k8s-leaderelection/testing';
import { pageOf, paginate } from './paging.js';

const NS = 'default';

describe('paginate', () => {
  it('pages with limit and continue, reporting the remaining count', () => {
    const all = ['a', 'b', 'c'];
    const first = paginate(all, { limit: 2 });
    expect(first).toEqual({ items: ['a', 'b'], more: { continue: expect.any(String), remainingItemCount: 1 } });
    const second = paginate(all, { limit: 2, continue: first.more.continue! });
    expect(second).toEqual({ items: ['c'], more: {} });
    expect(paginate(all, {})).toEqual({ items: all, more: {} });
  });

  it('refuses a continue token that is not one of its own with 400', () => {
    expect(() => paginate(['a'], { continue: Buffer.from('-4').toString('base64') })).toThrow(ApiError);
  });

  it('leaves out remainingItemCount under a non-empty label selector, as the API server does', () => {
    expect(paginate(['a', 'b', 'c'], { limit: 1, labelSelector: 'app=web' }).more).toEqual({ continue: expect.any(String) });
    expect(paginate(['a', 'b', 'c'], { limit: 1, labelSelector: ' ' }).more.remainingItemCount).toBe(2);
  });
});

describe('pageOf a LeaseList', () => {
  it('pages through the Leases a selector matches, keeping the list resourceVersion', () => {
    const store = new LeaseStore();
    for (const [ns, name, app] of [[NS, 'web-1', 'web'], [NS, 'db', 'db'], [NS, 'web-2', 'web'], ['prod', 'web-3', 'web']] as const) {
      store.create(ns, { metadata: { name, labels: { app } } });
    }
    const selected = { labelSelector: 'app=web' };
    const first = pageOf(store.list(undefined, selected), { ...selected, limit: 2 });
    expect(first.items.map((l) => `${l.metadata?.namespace}/${l.metadata?.name}`)).toEqual(['default/web-1', 'default/web-2']);
    expect(first.metadata).toEqual({ resourceVersion: store.resourceVersion, continue: expect.any(String) });
    const rest = pageOf(store.list(undefined, selected), { ...selected, limit: 2, continue: first.metadata.continue });
    expect(rest.items.map((l) => l.metadata?.name)).toEqual(['web-3']);
    expect(rest.metadata.continue).toBeUndefined();
    expect(pageOf(store.list(undefined), { limit: 2 }).metadata.remainingItemCount).toBe(2);
  });
});
