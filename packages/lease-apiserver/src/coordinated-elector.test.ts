/**
 * Coordinated leader election end to end: electors with `coordinated: true` and a client-node
 * KubeConfig keep their LeaseCandidates over HTTP, and the embedded server's coordinator
 * (OldestEmulationVersion) picks the holder. Short but valid timings; waits are bounded polls on
 * conditions; nothing asserts how fast anything happened.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { Elector } from '@leasekit/k8s-leaderelection';
import { startLeaseApiServer, type LeaseApiServer, type RequestRecord } from './index.js';
import { memoryLogger, waitFor } from './__tests__/helpers.js';
import { NS, TIMINGS, from } from './__tests__/server-fixture.js';

const LEASE = 'controller';

interface Replica {
  id: string;
  elector: Elector;
  stop: AbortController;
  done: Promise<void>;
  started: number;
}

let server: LeaseApiServer | undefined;
let records: RequestRecord[] = [];
const replicas: Replica[] = [];

afterEach(async () => {
  for (const r of replicas) r.stop.abort();
  await Promise.all(replicas.splice(0).map((r) => r.done));
  await server?.close();
  server = undefined;
  records = [];
});

async function start(): Promise<LeaseApiServer> {
  server = await startLeaseApiServer({
    coordinator: { electionDurationMs: 300, requeueIntervalMs: 100 },
    onRequest: (r) => records.push(r),
  });
  return server;
}

function replica(s: LeaseApiServer, id: string, emulationVersion: string): Replica {
  const stop = new AbortController();
  const r: Replica = { id, stop, started: 0, done: Promise.resolve(), elector: undefined as unknown as Elector };
  r.elector = new Elector(
    { identity: id, leaseName: LEASE, leaseNamespace: NS, ...TIMINGS, clientGoFollowers: false, coordinated: true, binaryVersion: '1.33.0', emulationVersion },
    s.kubeConfig({ token: id }),
    {
      onStartedLeading: () => {
        r.started++;
      },
    },
    memoryLogger(),
  );
  r.done = r.elector.run(stop.signal);
  replicas.push(r);
  return r;
}

const leaseWritesBy = (id: string): RequestRecord[] =>
  records.filter((rec) => rec.resource === 'leases' && from(id)(rec) && (rec.verb === 'create' || rec.verb === 'update'));

describe('coordinated leader election over HTTP with the embedded coordinator', () => {
  it('the coordinator elects the oldest emulation version; it leads after its own write, the other never writes the Lease', async () => {
    const s = await start();
    const a = replica(s, 'a', '1.32.0');
    const b = replica(s, 'b', '1.33.0');
    let worst = 0;
    const count = (): number => replicas.filter((r) => r.elector.isLeader()).length;
    await waitFor(() => {
      worst = Math.max(worst, count());
      return a.elector.isLeader();
    }, 'a leads', 15_000);
    expect(b.elector.isLeader()).toBe(false);
    expect(s.candidates.peek(NS, 'a')?.spec?.emulationVersion).toBe('1.32.0');
    expect(s.candidates.peek(NS, 'b')?.spec?.leaseName).toBe(LEASE);
    // Neither elector created the Lease; a wrote it (its acquisition), b never did.
    expect(leaseWritesBy('a').filter((rec) => rec.verb === 'create')).toHaveLength(0);
    expect(leaseWritesBy('a').filter((rec) => rec.verb === 'update' && rec.statusCode === 200).length).toBeGreaterThan(0);
    expect(leaseWritesBy('b')).toHaveLength(0);
    expect(s.store.get(NS, LEASE).spec?.holderIdentity).toBe('a');
    expect(worst).toBe(1);
  });

  it('when the leader stops (and releases), the coordinator elects the other, never two leaders', async () => {
    const s = await start();
    const a = replica(s, 'a', '1.32.0');
    const b = replica(s, 'b', '1.33.0');
    await waitFor(() => a.elector.isLeader(), 'a leads', 15_000);
    let worst = 0;
    a.stop.abort();
    await waitFor(() => {
      worst = Math.max(worst, replicas.filter((r) => r.elector.isLeader()).length);
      return b.elector.isLeader();
    }, 'b leads', 15_000);
    await a.done;
    expect(worst).toBeLessThanOrEqual(1);
    expect(leaseWritesBy('b').filter((rec) => rec.verb === 'create')).toHaveLength(0);
    expect(s.store.get(NS, LEASE).spec?.holderIdentity).toBe('b');
  });
});
