/**
 * Three electors in one process on the in-memory Lease store: they elect a leader, the leader
 * shuts down (releasing the lease), another takes over at once; then that leader crashes (stops
 * renewing without releasing) and the last one takes over after the lease expires.
 * Run it with `pnpm example`.
 */
import { Elector, type Logger } from '../index.js';
import { LeaseStore, MemoryLeaseClient } from '../testing/index.js';

const store = new LeaseStore();
const started = performance.now();
const stamp = (): string => `+${((performance.now() - started) / 1000).toFixed(2)}s`.padStart(8);
const say = (line: string): void => console.log(`${stamp()}  ${line}`);
const quiet: Logger = { warn: () => {}, error: (m) => say(`error: ${m}`) };

interface Replica {
  id: string;
  elector: Elector;
  stop: AbortController;
  crash: AbortController;
  done: Promise<void>;
}

function replica(id: string): Replica {
  const stop = new AbortController();
  const crash = new AbortController();
  // A crashed replica's client answers nothing: it can neither renew nor release.
  const client = new MemoryLeaseClient(store, { fault: () => (crash.signal.aborted ? { kind: 'error', error: new Error('process crashed') } : undefined) });
  const elector = new Elector(
    { identity: id, leaseName: 'example', leaseNamespace: 'default', leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 400 },
    client,
    {
      onStartedLeading: (signal, term) => {
        say(`${id} started leading (fencing token ${term.token})`);
        signal.addEventListener('abort', () => say(`${id} leadership signal aborted`), { once: true });
      },
      onStoppedLeading: ({ reason }) => say(`${id} stopped leading (${reason})`),
      onNewLeader: (leader) => say(`${id} sees leader ${leader}`),
    },
    quiet,
  );
  return { id, elector, stop, crash, done: elector.run(stop.signal) };
}

const until = async (what: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = performance.now() + timeoutMs;
  while (!what()) {
    if (performance.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};
const leaderOf = (rs: Replica[]): Replica | undefined => rs.find((r) => r.elector.isLeader());

async function main(): Promise<void> {
  say('starting replicas a, b, c on one in-memory Lease store');
  const replicas = ['a', 'b', 'c'].map(replica);
  await until(() => leaderOf(replicas) !== undefined, 10_000);
  const first = leaderOf(replicas)!;
  say(`leader: ${first.id}`);

  say(`stopping ${first.id} gracefully (it releases the lease)`);
  const t0 = performance.now();
  first.stop.abort();
  await first.done;
  const rest = replicas.filter((r) => r !== first);
  await until(() => leaderOf(rest) !== undefined);
  const second = leaderOf(rest)!;
  say(`handover to ${second.id} took ${Math.round(performance.now() - t0)} ms`);

  say(`crashing ${second.id} (no renewals, no release)`);
  const t1 = performance.now();
  second.crash.abort();
  const last = rest.filter((r) => r !== second);
  await until(() => leaderOf(last) !== undefined, 10_000);
  say(`failover to ${leaderOf(last)!.id} took ${Math.round(performance.now() - t1)} ms (lease duration 2000 ms)`);

  for (const r of replicas) r.stop.abort();
  await Promise.all(replicas.map((r) => r.done));
  const spec = store.get('default', 'example').spec;
  say(`done. lease holder ${JSON.stringify(spec?.holderIdentity)}, transitions ${spec?.leaseTransitions}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
