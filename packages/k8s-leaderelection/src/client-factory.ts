/** Owns the one choice of Lease backend (a KubeConfig becomes a KubeLeaseClient), so the elector sees only the LeaseClient interface. */
import { ConfigError } from './errors.js';
import { createKubeLeaseClient, isKubeConfig } from './lease-lock.js';
import type { LeaseClient } from './lease.js';

/** Whether `value` has the three methods every {@link LeaseClient} must have. */
export function isLeaseClient(value: unknown): value is LeaseClient {
  const c = value as Partial<LeaseClient> | null;
  return c != null && typeof c.get === 'function' && typeof c.create === 'function' && typeof c.update === 'function';
}

/**
 * The LeaseClient an elector uses for `client`: a KubeConfig gets its own API client whose
 * requests time out after `requestTimeoutMs`; a LeaseClient is returned unchanged. Anything else
 * throws {@link ConfigError} `CLIENT_INVALID`.
 */
export function leaseClientFor(client: unknown, requestTimeoutMs: number): LeaseClient {
  if (isKubeConfig(client)) return createKubeLeaseClient(client, { requestTimeoutMs });
  if (isLeaseClient(client)) return client;
  throw new ConfigError(
    'CLIENT_INVALID',
    'client',
    'client must be a KubeConfig from @kubernetes/client-node or a LeaseClient (get, create and update methods)',
  );
}
