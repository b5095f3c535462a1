import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { leaseClientFor } from './client-factory.js';
import { ConfigError } from './errors.js';
import { KubeLeaseClient } from './lease-lock.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient } from './testing/memory-lease-client.js';
import { FakeClock } from './testing/fake-clock.js';

describe('leaseClientFor', () => {
  it('builds a KubeLeaseClient for a client-node KubeConfig', () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    expect(leaseClientFor(kc, 10_000)).toBeInstanceOf(KubeLeaseClient);
  });

  it('uses any LeaseClient as it is', () => {
    const clock = new FakeClock();
    const client = new MemoryLeaseClient(new LeaseStore({ clock }), { clock });
    expect(leaseClientFor(client, 10_000)).toBe(client);
    const plain = { get: () => Promise.resolve({}), create: () => Promise.resolve({}), update: () => Promise.resolve({}) };
    expect(leaseClientFor(plain, 10_000)).toBe(plain);
  });

  it.each([
    ['a string', 'https://kubernetes.default.svc'],
    ['an object without update', { get: () => undefined, create: () => undefined }],
    ['a number', 7],
  ])('rejects %s with CLIENT_INVALID', (_what, client) => {
    const thrown = (() => {
      try {
        leaseClientFor(client, 10_000);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(thrown).toBeInstanceOf(ConfigError);
    expect(thrown).toMatchObject({ code: 'CLIENT_INVALID', field: 'client' });
  });
});
