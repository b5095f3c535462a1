/** Elector replica processes: starting an incarnation (clock, client, config, callbacks), its end and restart, SIGTERM, leader user code, request and receive hooks. */
import type { ElectorConfig, Lease, LeadershipTerm, Logger } from '@leasekit/k8s-leaderelection';
import { MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { clientGoBudget } from './budget.js';
import { handoverTermEnded, handoverTermStarted } from './handover.js';
import { healthyLatency, requestLatency, callFault } from './network.js';
import { ReplicaClock } from './replica-clock.js';
import { Draw, deriveRandom } from './rng.js';
import { rolloutHostileStep } from './rollout-actor.js';
import { effectiveMaxPeer } from './rollout.js';
import { SimClient, type SentVerb } from './sim-client.js';
import type { Slot, Leadership, Incarnation, MaybeValidTerm } from './sim-types.js';
import { NAMESPACE, LEASE_NAME, MAX_CLOCK_DRIFT_RATE } from './timings.js';
import { describe, type World } from './world.js';

export function startIncarnation(w: World, slot: Slot): void {
  if (w.shuttingDown) return;
  if (slot.hostileOnStart) {
    slot.hostileOnStart = false;
    rolloutHostileStep(w, slot);
  }
  const n = ++slot.incarnations;
  const key = `${slot.id}#${n}`;
  const slotConfig = slot.config;
  const clock = new ReplicaClock(w.clock, {
    driftRate: slot.driftRate,
    wallSkewMs: slot.wallSkewMs,
    wallFaults: slot.wallClock,
    startMs: Math.round(w.setup.between(0, 1e6)),
    random: deriveRandom(w.seed, `resume:${key}`),
  });
  const memory = new MemoryLeaseClient(w.store, {
    clock: w.clock,
    latencyMs: () => requestLatency(w),
    fault: (call) => callFault(w, slot, inc, call),
  });
  const client = new SimClient(memory, clock, {
    responseLatencyMs: () => healthyLatency(w),
    onSend: (verb, body) => requestSent(w, inc, verb, body),
    onReceive: (value) => received(w, inc, value),
  });
  const controller = new AbortController();
  const userTimers = new Set<unknown>();
  const verbose = w.options.verbose === true && w.options.onTrace !== undefined;
  const logger: Logger | undefined = verbose
    ? {
        info: (m, f) => w.trace.detail(`${key} info: ${m} ${fields(f)}`),
        warn: (m, f) => w.trace.detail(`${key} warn: ${m} ${fields(f)}`),
        error: (m, f) => w.trace.detail(`${key} error: ${m} ${fields(f)}`),
      }
    : {};
  // eslint-disable-next-line prefer-const -- assigned once below; closures above read it later
  let inc!: Incarnation;
  const config: ElectorConfig = {
    identity: slot.id,
    leaseName: LEASE_NAME,
    leaseNamespace: NAMESPACE,
    ...slotConfig.timing,
    ...(slotConfig.maxPeerLeaseDurationMs !== undefined ? { maxPeerLeaseDurationMs: slotConfig.maxPeerLeaseDurationMs } : {}),
    maxClockDriftRate: MAX_CLOCK_DRIFT_RATE,
    ...(w.leasekitOnly ? { clientGoFollowers: false } : {}),
    followerStrategy: slot.followerStrategy,
    clock,
    random: deriveRandom(w.seed, `elector:${key}`),
    observer: {
      onRequest: (info) => {
        if (info.errorReason !== undefined) w.lastFailedRequestMs.set(slot.id, w.clock.now());
        if (verbose) w.trace.detail(`${key} ${info.purpose} ${info.verb} ${Math.round(info.durationMs)}ms${info.errorReason ? ` -> ${info.errorReason}` : ''}`);
      },
    },
  };
  const elector = w.factory(
    config,
    client,
    {
      onStartedLeading: (signal, term) => {
        const leaderNow = inc.elector.isLeader();
        w.trace.add(`${key} started leading (token ${term.token}${leaderNow ? '' : ', guarantee already expired'})`);
        // Set first: the checker's S1 check at the term start reads the signal.
        const leadership: { id: number; signal: AbortSignal; term: LeadershipTerm } = { id: 0, signal, term };
        inc.leadership = leadership;
        const started = w.checker.termStarted(
          inc,
          { token: term.token, isLeaderAtStart: leaderNow, leaseUid: client.lastWriteUid, tokensReceived: inc.tokensReceived, acquiringWriteSentAtMs: inc.lastWriteSentAtMs },
          w.participants,
        );
        leadership.id = started.id;
        signal.addEventListener('abort', started.end, { once: true });
        startUserWork(w, inc, leadership);
        handoverTermStarted(w, inc);
      },
      onStoppedLeading: (info) => {
        w.trace.add(`${key} stopped leading: ${info.reason}`);
        handoverTermEnded(w, inc, info.reason);
        if (info.reason !== 'released') return undefined;
        return slowShutdown(w, inc);
      },
      onNewLeader: (identity) => w.trace.detail(`${key} observed new leader ${identity}`),
    },
    logger,
  );
  inc = {
    kind: 'leasekit',
    key,
    slot,
    config: slotConfig,
    clock,
    client,
    elector,
    controller,
    state: 'running',
    runSettled: false,
    userTimers,
    leadership: undefined,
    guaranteedUntilMs: undefined,
    tokensReceived: new Map(),
    lastWriteSentAtMs: -Infinity,
    fenced: true,
    isLeader: () => elector.isLeader(),
    signalLive: () => inc.leadership !== undefined && !inc.leadership.signal.aborted,
    suspended: () => clock.suspended,
    alive: () => inc.state !== 'crashed',
  };
  w.checker.setBudget(inc, clientGoBudget(slotConfig.timing.retryPeriodMs, MAX_CLOCK_DRIFT_RATE));
  clock.onCaughtUp = () => {
    // Judge after the promise callbacks of the last timer have run (they may end the term).
    setImmediate(() => {
      if (inc.state === 'crashed') return;
      w.trace.add(`${key} caught up after pause`);
      w.checker.caughtUp(inc);
      w.disturbEnd();
    });
  };
  w.incarnations.push(inc);
  w.participants.push(inc);
  w.configVersion++;
  w.longestHoldEverMs = Math.max(w.longestHoldEverMs, Math.ceil(effectiveMaxPeer(slotConfig) / 1000) * 1000);
  slot.current = inc;
  w.disturbNow();
  const maxPeer = slotConfig.maxPeerLeaseDurationMs !== undefined ? `, maxPeerLeaseDurationMs ${slotConfig.maxPeerLeaseDurationMs}` : '';
  w.trace.add(`${key} started${slotConfig.timing === w.timing && maxPeer === '' ? '' : ` (L=${slotConfig.timing.leaseDurationMs}${maxPeer})`}`);
  elector.run(controller.signal).then(
    () => runEnded(w, inc),
    (err: unknown) => {
      w.checker.report('R', `${key} run() rejected: ${describe(err)}`);
      runEnded(w, inc);
    },
  );
}

export function runEnded(w: World, inc: Incarnation): void {
  inc.runSettled = true;
  w.configVersion++;
  for (const handle of inc.userTimers) inc.clock.clearTimeout(handle as never);
  inc.userTimers.clear();
  const pending = inc.clock.pendingTimers;
  if (pending > 0) {
    w.checker.report('R', `${inc.key} run() resolved with ${pending} timer(s) still pending on its clock: ${inc.clock.describePending().join('; ')}`);
  }
  if (inc.state === 'crashed') return;
  const wasStopping = inc.state === 'stopping';
  inc.state = 'stopped';
  w.trace.add(`${inc.key} stopped`);
  if (wasStopping && !w.shuttingDown) {
    w.disturbEnd();
    const L = inc.config.timing.leaseDurationMs;
    w.at(w.schedule.between(0.1 * L, L), () => {
      w.disturbNow();
      w.faults.restart++;
      startIncarnation(w, inc.slot);
    });
  }
}

/** SIGTERM: aborts run()'s signal, delivered through the process's clock (queued while paused). */
export function signalStop(w: World, inc: Incarnation): void {
  const handle = inc.clock.setTimeout(() => {
    inc.userTimers.delete(handle);
    inc.controller.abort();
  }, 0);
  inc.userTimers.add(handle);
}

/** The user's onStoppedLeading on shutdown: usually quick, sometimes slow (its work winds down). */
export function slowShutdown(w: World, inc: Incarnation): Promise<void> | undefined {
  const L = inc.config.timing.leaseDurationMs;
  const roll = w.user.random();
  const ms = roll < 0.5 ? w.user.between(0, 20) : roll < 0.95 ? w.user.between(0.5 * L, 0.99 * L) : w.user.between(L, 1.3 * L);
  if (ms > inc.config.timing.renewDeadlineMs) w.faults['slow-shutdown-callback']++;
  return new Promise((resolve) => {
    const handle = inc.clock.setTimeout(() => {
      inc.userTimers.delete(handle);
      resolve();
    }, ms);
    inc.userTimers.add(handle);
  });
}

/**
 * The leader's own work: a reconcile loop on the process's clock, every 0.2 to 0.7 R while its
 * signal is live. Each run records what user code sees (the signal, isLeader(), and
 * term.isValid() where the term has it); after a pause it may run before the elector's guard.
 */
export function startUserWork(w: World, inc: Incarnation, leadership: Leadership): void {
  const R = inc.config.timing.retryPeriodMs;
  const draw = new Draw(deriveRandom(w.seed, `user-work:${inc.key}:${leadership.id}`));
  const term = leadership.term as MaybeValidTerm;
  const tick = (): void => {
    const handle = inc.clock.setTimeout(() => {
      inc.userTimers.delete(handle);
      const view = {
        signalLive: !leadership.signal.aborted,
        isLeader: inc.elector.isLeader(),
        isValid: typeof term.isValid === 'function' ? term.isValid() : undefined,
      };
      w.checker.userWorkRan(inc, leadership.id, view, w.participants);
      if (!leadership.signal.aborted) tick();
    }, draw.between(0.2 * R, 0.7 * R));
    inc.userTimers.add(handle);
  };
  tick();
}

/** Every request an elector process sends: counted, and checked (G, B, S3 on recreation). */
export function requestSent(w: World, inc: Incarnation, verb: SentVerb, body: Lease | undefined): void {
  inc.slot.requestsThisMinute++;
  if (verb === 'create' || verb === 'update') inc.lastWriteSentAtMs = w.clock.now();
  const leadership = inc.leadership;
  const signalLive = leadership !== undefined && !leadership.signal.aborted;
  let isLeader = false;
  if (signalLive) {
    const snapshot = inc.elector.snapshot();
    isLeader = snapshot.isLeader;
    if (snapshot.guaranteedUntilMs !== undefined) inc.guaranteedUntilMs = snapshot.guaranteedUntilMs;
    if (verb === 'create') w.checker.leaseCreatedWhileLeading(inc, leadership.id, leadership.term.token, body?.spec?.leaseTransitions ?? undefined);
  }
  w.checker.requestSent(inc, verb, { signalLive, isLeader, termId: leadership?.id, guaranteedUntilMs: inc.guaranteedUntilMs });
}

/**
 * A Lease (an answer or a watch event) reached the process: remember its token (S3). Records
 * naming the process itself are its own writes (its terms' tokens are checked as tokens it held;
 * its own claim tells it nothing about other terms) or an earlier incarnation's (checked by the
 * per-object order).
 */
export function received(w: World, inc: Incarnation, value: unknown): void {
  const spec = (value as { spec?: { leaseTransitions?: unknown; holderIdentity?: unknown } } | null)?.spec;
  const token = spec?.leaseTransitions;
  if (typeof token !== 'number' || spec?.holderIdentity === inc.slot.id) return;
  if (!inc.tokensReceived.has(token)) inc.tokensReceived.set(token, w.clock.now());
}

function fields(f: Record<string, unknown> | undefined): string {
  if (!f) return '';
  try {
    const text = JSON.stringify(f);
    return text.length > 300 ? `${text.slice(0, 297)}...` : text;
  } catch {
    return '';
  }
}
