/** client-go replica processes (the model in go-replica.ts): start, exit and restart, crash. */
import { MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { GoReplica } from './go-replica.js';
import { healthyLatency, requestLatency, callFault } from './network.js';
import { ReplicaClock } from './replica-clock.js';
import { deriveRandom } from './rng.js';
import { SimClient } from './sim-client.js';
import type { Slot, GoIncarnation } from './sim-types.js';
import { NAMESPACE, LEASE_NAME } from './timings.js';
import { describe, type World } from './world.js';

/** A client-go replica process (see go-replica.ts): never paused; may crash, be partitioned, see API faults. */
export function startGo(w: World, slot: Slot): void {
  if (w.shuttingDown) return;
  const n = ++slot.incarnations;
  const key = `${slot.id}#${n}`;
  const clock = new ReplicaClock(w.clock, { driftRate: slot.driftRate, wallSkewMs: slot.wallSkewMs, startMs: Math.round(w.setup.between(0, 1e6)) });
  const memory = new MemoryLeaseClient(w.store, {
    clock: w.clock,
    latencyMs: () => requestLatency(w),
    fault: (call) => callFault(w, slot, go, call),
  });
  const client = new SimClient(memory, clock, { responseLatencyMs: () => healthyLatency(w) });
  const controller = new AbortController();
  let endTerm: (() => void) | undefined;
  const replica = new GoReplica({
    identity: slot.id,
    namespace: NAMESPACE,
    name: LEASE_NAME,
    ...slot.config.timing,
    expiry: slot.goExpiry,
    clock,
    client,
    random: deriveRandom(w.seed, `go:${key}`),
    onStartedLeading: (token) => {
      w.trace.add(`${key} (client-go) started leading (leaderTransitions ${token})`);
      endTerm = w.checker.termStarted(go, { token, isLeaderAtStart: true, leaseUid: client.lastWriteUid, tokensReceived: new Map(), acquiringWriteSentAtMs: 0 }, w.participants).end;
    },
    onStoppedLeading: () => {
      w.trace.add(`${key} (client-go) stopped leading`);
      endTerm?.();
      endTerm = undefined;
    },
  });
  // eslint-disable-next-line prefer-const -- assigned once below; closures above read it later
  let go!: GoIncarnation;
  go = {
    kind: 'go',
    key,
    slot,
    clock,
    client,
    replica,
    controller,
    state: 'running',
    runSettled: false,
    fenced: false,
    isLeader: () => replica.leading,
    signalLive: () => replica.leading,
    suspended: () => false,
    alive: () => go.state !== 'crashed',
  };
  w.goIncarnations.push(go);
  w.participants.push(go);
  slot.currentGo = go;
  w.disturbNow();
  w.trace.add(`${key} (client-go) started`);
  replica.run(controller.signal).then(
    () => goRunEnded(w, go),
    (err: unknown) => {
      w.checker.report('R', `${key} (client-go model) run() rejected: ${describe(err)}`);
      goRunEnded(w, go);
    },
  );
}

/** client-go's Run returned (leadership lost, or stopped): the process exits and is restarted. */
export function goRunEnded(w: World, go: GoIncarnation): void {
  go.runSettled = true;
  const pending = go.clock.pendingTimers;
  if (pending > 0) w.checker.report('R', `${go.key} (client-go model) ended with ${pending} timer(s) pending: ${go.clock.describePending().join('; ')}`);
  if (go.state === 'crashed') return;
  go.state = 'stopped';
  w.trace.add(`${go.key} (client-go) exited`);
  if (w.shuttingDown) return;
  const L = go.slot.config.timing.leaseDurationMs;
  w.at(w.schedule.between(0.2 * L, L), () => {
    w.disturbNow();
    w.faults.restart++;
    startGo(w, go.slot);
  });
}

export function crashGo(w: World, go: GoIncarnation): void {
  const wasLeader = go.replica.leading;
  go.state = 'crashed';
  go.clock.kill();
  go.client.kill();
  w.checker.crashed(go);
  w.faults.crash++;
  w.disturbNow();
  w.trace.add(`fault: ${go.key} (client-go) crashed${wasLeader ? ' (while leading)' : ''}`);
  const L = go.slot.config.timing.leaseDurationMs;
  w.at(w.schedule.between(0.2 * L, 2 * L), () => {
    w.disturbNow();
    w.faults.restart++;
    startGo(w, go.slot);
  });
}
