/**
 * The setup the elector-over-HTTP tests share: a fresh server on 127.0.0.1 per test recording
 * every request, electors with short but valid timings whose client-node KubeConfig carries
 * `Bearer <id>` (so faults and records can single one out), and a teardown that stops every
 * elector, awaits its run() and closes the server, so no handle outlives a test.
 */
import { afterEach, beforeEach } from '@jest/globals';
import { Elector, type ElectorConfig, type LeaderCallbacks, type Logger } from '@leasekit/k8s-leaderelection';
import { startLeaseApiServer, type LeaseApiServer, type RequestRecord } from '../index.js';
import { memoryLogger } from './helpers.js';

export const NS = 'default';
/** leaseDuration > renewDeadline > 1.2 x retryPeriod, leaseDuration >= 1000. */
export const TIMINGS = { leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 250 } as const;

/** What the teardown needs of a test's replica. */
export interface Running {
  readonly stop: AbortController;
  readonly done: Promise<void>;
}

/** The current test's server, its request records and the replicas it started. */
export interface ServerFixture<R extends Running> {
  readonly server: LeaseApiServer;
  readonly records: RequestRecord[];
  readonly replicas: R[];
}

/**
 * Registers the per-test server lifecycle (call at the top of a test file) and returns a view of
 * the current test's state. `beforeClose` runs first in the teardown (clearing faults, say).
 */
export function serverFixture<R extends Running>(beforeClose?: (server: LeaseApiServer) => void): ServerFixture<R> {
  let server: LeaseApiServer | undefined;
  let records: RequestRecord[] = [];
  let replicas: R[] = [];
  beforeEach(async () => {
    records = [];
    replicas = [];
    server = await startLeaseApiServer({ onRequest: (r) => records.push(r) });
  });
  afterEach(async () => {
    if (server) beforeClose?.(server);
    for (const r of replicas) r.stop.abort();
    await Promise.all(replicas.map((r) => r.done));
    await server?.close();
  });
  return {
    get server(): LeaseApiServer {
      if (!server) throw new Error('the server starts in beforeEach');
      return server;
    },
    get records() {
      return records;
    },
    get replicas() {
      return replicas;
    },
  };
}

/** An elector on `server` whose requests carry `Bearer <id>`, with {@link TIMINGS} unless overridden. */
export function electorOver(
  server: LeaseApiServer,
  id: string,
  config: Partial<ElectorConfig> & Pick<ElectorConfig, 'leaseName'>,
  callbacks: LeaderCallbacks = {},
  logger: Logger = memoryLogger(),
): Elector {
  return new Elector({ identity: id, leaseNamespace: NS, ...TIMINGS, ...config }, server.kubeConfig({ token: id }), callbacks, logger);
}

/** Records of requests sent by the elector `id`. */
export const from = (id: string) => (rec: RequestRecord) => rec.headers.authorization === `Bearer ${id}`;

/** A free Lease, so the first candidate takes it at once (a missing one is created only after a lease duration). */
export function seedFreeLease(server: LeaseApiServer, name: string, token = 0): void {
  server.store.create(NS, { metadata: { name }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: token } });
}
