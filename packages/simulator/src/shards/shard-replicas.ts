/** Sharded replica processes: starting an incarnation (clock, client, ShardedElector, per-shard participants and terms), its end, SIGTERM, crash, pause and resume, and the request accounting (B). */
import { shardLeaseName, type Logger, type ShardedElectorConfig } from '@leasekit/k8s-leaderelection';
import { MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { SlidingWindow } from '../budget.js';
import { resumeAfter } from '../common-faults.js';
import type { Participant } from '../invariants.js';
import { ReplicaClock } from '../replica-clock.js';
import { deriveRandom } from '../rng.js';
import { SimClient } from '../sim-client.js';
import { MAX_CLOCK_DRIFT_RATE } from '../timings.js';
import { shardBudget, type ShardBudget } from './shard-bounds.js';
import { accountingClient, type ShardResource } from './shard-client.js';
import { shardCallFault } from './shard-network.js';
import type { ShardInc, ShardSlot, ShardTerm } from './shard-types.js';
import { SET_NAME, SHARD_NAMESPACE, type ShardWorld } from './shard-world.js';

export function startShardIncarnation(w: ShardWorld, slot: ShardSlot): void {
  if (w.shuttingDown || slot.current?.state === 'running' || slot.current?.state === 'stopping') return;
  const n = ++slot.incarnations;
  const key = `${slot.id}#${n}`;
  const t = w.timing;
  const clock = new ReplicaClock(w.clock, {
    driftRate: slot.driftRate,
    startMs: Math.round(w.setup.between(0, 1e6)),
    random: deriveRandom(w.seed, `shard-resume:${key}`),
  });
  // eslint-disable-next-line prefer-const -- assigned once below; closures read it later
  let inc!: ShardInc;
  const memory = new MemoryLeaseClient(w.store, {
    clock: w.clock,
    latencyMs: () => requestLatency(w),
    fault: (call) => shardCallFault(w, slot, inc, call),
  });
  const sim = new SimClient(memory, clock, { responseLatencyMs: () => healthyLatency(w) });
  const budget = shardBudget(t, w.shards);
  const windows = new Map<string, SlidingWindow>();
  const reported = new Set<string>();
  const shardIndex = new Map(Array.from({ length: w.shards }, (_, s) => [shardLeaseName(SET_NAME, s), s] as const));
  const client = accountingClient(sim, {
    identity: slot.id,
    shardOf: (name) => shardIndex.get(name),
    now: () => clock.now(),
    ownWriteAnswered: (shard, sentAtMs) => {
      inc.ownWriteSentAt[shard] = Math.max(inc.ownWriteSentAt[shard]!, sentAtMs);
    },
    sent: (resource) => {
      slot.requestsThisMinute++;
      const [name, limit] = budgetOf(resource, budget);
      let window = windows.get(name);
      if (!window) windows.set(name, (window = new SlidingWindow(budget.windowMs)));
      const count = window.add(w.clock.now());
      w.budgetPeakPercent = Math.max(w.budgetPeakPercent, Math.round((1000 * count) / limit) / 10);
      if (count > limit && !reported.has(name)) {
        reported.add(name);
        w.report('B', `${key} sent ${count} requests for ${name} within ${budget.windowMs} ms, over its budget of ${limit}`);
      }
    },
  });
  const verbose = w.options.verbose === true && w.options.onTrace !== undefined;
  const logger: Logger = verbose
    ? { info: (m, f) => w.trace.detail(`${key} info: ${m} ${JSON.stringify(f ?? {})}`), warn: (m, f) => w.trace.detail(`${key} warn: ${m} ${JSON.stringify(f ?? {})}`), error: (m, f) => w.trace.detail(`${key} error: ${m} ${JSON.stringify(f ?? {})}`) }
    : {};
  const config: ShardedElectorConfig = {
    identity: slot.id,
    setName: SET_NAME,
    namespace: SHARD_NAMESPACE,
    shards: w.shards,
    elector: {
      leaseDurationMs: t.leaseDurationMs,
      renewDeadlineMs: t.renewDeadlineMs,
      retryPeriodMs: t.retryPeriodMs,
      maxPeerLeaseDurationMs: t.leaseDurationMs,
      maxClockDriftRate: MAX_CLOCK_DRIFT_RATE,
    },
    membership: { durationMs: t.membershipDurationMs, renewIntervalMs: t.membershipRenewIntervalMs, retryPeriodMs: t.membershipRetryPeriodMs },
    handoverIntervalMs: t.handoverIntervalMs,
    clock,
    random: deriveRandom(w.seed, `shard-elector:${key}`),
  };
  const controller = new AbortController();
  const sharded = w.factory(
    config,
    client,
    {
      onStartedLeading: (shard, signal, term) => {
        const isLeader = inc.sharded.isLeader(shard);
        w.trace.add(`${key} started leading shard ${shard} (token ${term.token}${isLeader ? '' : ', guarantee already expired'})`);
        const holder: { -readonly [K in keyof ShardTerm]: ShardTerm[K] } = { signal, token: term.token, id: 0 };
        inc.terms[shard] = holder;
        const started = w.checkers[shard]!.termStarted(
          inc.participants[shard]!,
          { token: term.token, isLeaderAtStart: isLeader, leaseUid: w.store.peek(SHARD_NAMESPACE, shardLeaseName(SET_NAME, shard))?.metadata?.uid, tokensReceived: new Map(), acquiringWriteSentAtMs: -Infinity },
          w.participants[shard]!,
        );
        holder.id = started.id;
        signal.addEventListener('abort', started.end, { once: true });
      },
      onStoppedLeading: (shard, info) => {
        w.trace.add(`${key} stopped leading shard ${shard}: ${info.reason}`);
      },
    },
    logger,
  );
  inc = {
    key,
    slot,
    clock,
    client: sim,
    sharded,
    controller,
    state: 'running',
    runSettled: false,
    terms: new Array<ShardTerm | undefined>(w.shards).fill(undefined),
    participants: [],
    ownWriteSentAt: new Array<number>(w.shards).fill(-Infinity),
    s3Reported: new Set(),
    timers: new Set(),
  };
  for (let s = 0; s < w.shards; s++) {
    const participant: Participant = {
      key,
      fenced: true,
      isLeader: () => sharded.isLeader(s),
      signalLive: () => inc.terms[s] !== undefined && !inc.terms[s]!.signal.aborted,
      suspended: () => clock.suspended,
      alive: () => inc.state !== 'crashed',
    };
    inc.participants.push(participant);
    w.participants[s]!.push(participant);
  }
  clock.onCaughtUp = () => {
    // Judge after the promise callbacks of the last timer have run (they may end terms).
    setImmediate(() => {
      if (inc.state === 'crashed') return;
      w.trace.add(`${key} caught up after pause`);
      for (let s = 0; s < w.shards; s++) w.checkers[s]!.caughtUp(inc.participants[s]!);
      w.disturbEnd();
      w.liveMaybeChanged();
    });
  };
  w.incarnations.push(inc);
  slot.current = inc;
  w.trace.add(`${key} started`);
  w.liveMaybeChanged();
  sharded.run(controller.signal).then(
    () => runEnded(w, inc),
    (err: unknown) => {
      w.report('R', `${key} run() rejected: ${err instanceof Error ? err.message : String(err)}`);
      runEnded(w, inc);
    },
  );
}

function budgetOf(resource: ShardResource, budget: ShardBudget): [string, number] {
  switch (resource.kind) {
    case 'shard':
      return [`shard ${resource.shard}`, budget.perShard];
    case 'membership':
      return ['its membership', budget.membership];
    case 'list':
      return ['set lists', budget.lists];
    case 'watchSet':
      return ['set watch opens', budget.watchOpens];
  }
}

export function healthyLatency(w: ShardWorld): number {
  return 0.5 + Math.min(40, w.latency.exponential(4));
}

export function requestLatency(w: ShardWorld): number {
  const spike = w.latencySpike;
  return spike ? w.latency.between(spike.minMs, spike.maxMs) : healthyLatency(w);
}

function removeParticipants(w: ShardWorld, inc: ShardInc): void {
  for (let s = 0; s < w.shards; s++) {
    const list = w.participants[s]!;
    const i = list.indexOf(inc.participants[s]!);
    if (i >= 0) list.splice(i, 1);
  }
}

export function runEnded(w: ShardWorld, inc: ShardInc): void {
  inc.runSettled = true;
  for (const handle of inc.timers) inc.clock.clearTimeout(handle as never);
  inc.timers.clear();
  if (inc.clock.pendingTimers > 0) {
    w.report('R', `${inc.key} run() resolved with ${inc.clock.pendingTimers} timer(s) still pending on its clock: ${inc.clock.describePending().join('; ')}`);
  }
  if (inc.state === 'crashed') return;
  const wasStopping = inc.state === 'stopping';
  inc.state = 'stopped';
  removeParticipants(w, inc);
  w.trace.add(`${inc.key} stopped`);
  w.liveMaybeChanged();
  // A graceful restart comes back after a while; a leave waits for a join.
  if (wasStopping && !w.shuttingDown && !inc.slot.left) {
    const L = w.timing.leaseDurationMs;
    w.at(w.schedule.between(0.1 * L, L), () => startShardIncarnation(w, inc.slot));
  }
}

/** SIGTERM: aborts run()'s signal through the process's clock (queued while paused). */
export function signalStop(inc: ShardInc): void {
  const handle = inc.clock.setTimeout(() => {
    inc.timers.delete(handle);
    inc.controller.abort();
  }, 0);
  inc.timers.add(handle);
}

/** The process dies: no release, no handover; its shards are orphans until someone leads them again (UNOWNED). */
export function crashIncarnation(w: ShardWorld, inc: ShardInc): void {
  const held: number[] = [];
  for (let s = 0; s < w.shards; s++) if (inc.participants[s]!.isLeader() || inc.participants[s]!.signalLive()) held.push(s);
  const wasSuspended = inc.clock.suspended;
  inc.state = 'crashed';
  inc.clock.kill();
  inc.client.kill();
  for (let s = 0; s < w.shards; s++) w.checkers[s]!.crashed(inc.participants[s]!);
  removeParticipants(w, inc);
  if (wasSuspended) w.disturbEnd();
  const now = w.clock.now();
  for (const shard of held) w.orphans.push({ shard, holder: inc.key, sinceMs: now, disturbed: w.disturbances > 0 });
  w.trace.add(`fault: ${inc.key} crashed${held.length > 0 ? ` holding shards ${held.join(',')}` : ''}`);
  w.liveMaybeChanged();
}

export function pauseIncarnation(w: ShardWorld, inc: ShardInc, durationMs: number): void {
  inc.clock.pause();
  for (let s = 0; s < w.shards; s++) w.checkers[s]!.suspended(inc.participants[s]!);
  w.faults.pause++;
  w.disturbBegin();
  w.trace.add(`fault: ${inc.key} paused for ${Math.round(durationMs)} ms (holding ${inc.sharded.heldShards().length} shards)`);
  w.liveMaybeChanged();
  resumeAfter(w, inc, durationMs);
}
