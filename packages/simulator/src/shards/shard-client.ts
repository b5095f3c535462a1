/**
 * One sharded replica's view of the API: a LeaseClient over its SimClient that tells, for every
 * request the process sends, which resource it is for (a shard Lease, its membership Lease, the
 * set's list or watch), and for every shard write whose answer names the process, when (on its
 * own clock) that write was sent: the time a term's lease counts from (S3).
 */
import type { DeleteRequestOptions, Lease, LeaseClient, LeaseListResult, ListRequestOptions, RequestOptions, SetWatchOptions } from '@leasekit/k8s-leaderelection';
import type { SimClient } from '../sim-client.js';

export type ShardResource = { kind: 'shard'; shard: number } | { kind: 'membership' } | { kind: 'list' } | { kind: 'watchSet' };

export interface AccountingHooks {
  /** The shard index of a Lease name, or undefined for any other Lease. */
  shardOf(name: string): number | undefined;
  /** A request left the process. */
  sent(resource: ShardResource): void;
  /** A shard write sent at `sentAtMs` (own clock) was answered with a record naming this process. */
  ownWriteAnswered(shard: number, sentAtMs: number): void;
  /** The process's own monotonic now. */
  now(): number;
  identity: string;
}

/** No per-Lease `watch`: a ShardedElector serves its shard Electors' watches from its set watch. */
export function accountingClient(client: SimClient, hooks: AccountingHooks): LeaseClient {
  const resourceOf = (name: string): ShardResource => {
    const shard = hooks.shardOf(name);
    return shard === undefined ? { kind: 'membership' } : { kind: 'shard', shard };
  };
  const write = (lease: Lease, send: () => Promise<Lease>): Promise<Lease> => {
    const name = lease.metadata?.name ?? '';
    const shard = hooks.shardOf(name);
    const sentAtMs = hooks.now();
    hooks.sent(resourceOf(name));
    return send().then((written) => {
      if (shard !== undefined && written.spec?.holderIdentity === hooks.identity) hooks.ownWriteAnswered(shard, sentAtMs);
      return written;
    });
  };
  return {
    get: (namespace: string, name: string, options?: RequestOptions) => {
      hooks.sent(resourceOf(name));
      return client.get(namespace, name, options);
    },
    create: (namespace: string, lease: Lease, options?: RequestOptions) => write(lease, () => client.create(namespace, lease, options)),
    update: (namespace: string, lease: Lease, options?: RequestOptions) => write(lease, () => client.update(namespace, lease, options)),
    list: (namespace: string, options?: ListRequestOptions): Promise<LeaseListResult> => {
      hooks.sent({ kind: 'list' });
      return client.list(namespace, options);
    },
    delete: (namespace: string, name: string, options?: DeleteRequestOptions): Promise<void> => {
      hooks.sent(resourceOf(name));
      return client.delete(namespace, name, options);
    },
    watchSet: (namespace: string, options: SetWatchOptions): Promise<void> => {
      hooks.sent({ kind: 'watchSet' });
      return client.watchSet(namespace, options);
    },
  };
}
