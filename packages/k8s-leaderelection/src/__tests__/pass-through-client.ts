/**
 * A LeaseClient whose required calls (get, create, update) go to another client: a test's
 * scripted or faulty client extends it and writes only what it changes (a watch, a list), so the
 * test shows what is special about its client and nothing else.
 */
import type { Lease, LeaseClient, RequestOptions } from '../lease.js';

export class PassThroughClient<C extends LeaseClient = LeaseClient> implements LeaseClient {
  constructor(readonly inner: C) {}

  get(namespace: string, name: string, options?: RequestOptions): Promise<Lease> {
    return this.inner.get(namespace, name, options);
  }

  create(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.inner.create(namespace, lease, options);
  }

  update(namespace: string, lease: Lease, options?: RequestOptions): Promise<Lease> {
    return this.inner.update(namespace, lease, options);
  }
}
