import { afterEach, describe, expect, it } from '@jest/globals';
import { kubeConfigFor } from '../__tests__/kube-config.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKubeLeaseClient } from '../lease-lock.js';
import type { Lease, LeaseWatchEvent } from '../lease.js';
import { LeaseStore } from '../testing/lease-store.js';
import { waitFor } from '../__tests__/wait-for.js';

/** A watch-only Lease endpoint over a LeaseStore on 127.0.0.1: enough to see what watchSet asks for and gets. */
async function startWatchServer(store: LeaseStore): Promise<{ url: string; queries: URLSearchParams[]; server: Server }> {
  const queries: URLSearchParams[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    queries.push(url.searchParams);
    const labelSelector = url.searchParams.get('labelSelector') ?? undefined;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const handle = store.watch({ namespace: 'default', ...(labelSelector !== undefined ? { labelSelector } : {}) }, (event: LeaseWatchEvent) => void res.write(`${JSON.stringify(event)}\n`), () => res.end());
    res.on('close', () => handle.stop());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, queries, server };
}

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

describe('KubeLeaseClient.watchSet', () => {
  it('watches the Leases of a label selector (labelSelector, not fieldSelector) and resolves when its signal aborts', async () => {
    const store = new LeaseStore();
    const s = await startWatchServer(store);
    server = s.server;
    const client = createKubeLeaseClient(kubeConfigFor(s.url));
    const events: LeaseWatchEvent[] = [];
    let opened = false;
    const stop = new AbortController();
    const done = client.watchSet!('default', { labelSelector: 'leasekit.io/shard-set=work', signal: stop.signal, onOpen: () => (opened = true), onEvent: (e) => events.push(e) });
    await waitFor('the set watch to open', () => opened);
    const labelled = (name: string): Lease => ({ metadata: { name, labels: { 'leasekit.io/shard-set': 'work' } }, spec: { holderIdentity: 'a' } });
    store.create('default', labelled('work-0'));
    store.create('default', { metadata: { name: 'unrelated' }, spec: { holderIdentity: 'z' } });
    store.create('default', labelled('work-1'));
    await waitFor('two events', () => events.length >= 2);
    expect(events.map((e) => `${e.type}:${(e.object as Lease).metadata?.name}`)).toEqual(['ADDED:work-0', 'ADDED:work-1']);
    expect(s.queries).toHaveLength(1);
    expect(s.queries[0]!.get('watch')).toBe('true');
    expect(s.queries[0]!.get('labelSelector')).toBe('leasekit.io/shard-set=work');
    expect(s.queries[0]!.has('fieldSelector')).toBe(false);
    stop.abort();
    await done;
    client.close?.();
    await waitFor('the store watch to end', () => store.watcherCount === 0);
  });
});
