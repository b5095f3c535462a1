/**
 * The sharding scenario (issue 13): N shard Leases (64) led by M replica **processes** (5), each the
 * demo's shard replica (`@leasekit/demo/shard-process`: the adapter's `ShardedLeaderElectionComponent`
 * over a `ShardedElector`, its own client-node connections, the same process `pnpm demo --shards`
 * runs) talking to the embedded server in this process. Four phases, one after another on the same set:
 *
 * - `start`: M replicas start on free shard Leases (pre-created with the set's label, as the other
 *   scenarios pre-create theirs), counted from the moment every replica's run() was called;
 * - `join`: one more replica starts (M -> M+1), counted from its run() call;
 * - `crash`: one replica is killed with SIGKILL (nothing released, no membership deleted);
 * - `leave`: one replica gets SIGTERM (its run() signal aborts: it hands its shards over).
 *
 * Each phase ends once the set has been **balanced** (read from the server's Leases: every shard held
 * by a live replica, each live replica holding floor or ceil of N/M) without interruption for a
 * quiet period longer than the settle time plus a handover interval (so a pending move would
 * show). Time to balance: from the phase's event to the moment the set became balanced for good.
 * Moves: holder changes from one replica to another (see shard-tracker.ts). Between `start` and
 * `join` the server's request counters measure the steady state. Every time is this process's
 * `performance.now()`: the store's watch fires in the task of the write it reports.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SHARD_SET_LABEL, memberOfLabelValue, shardLeaseName, type Lease } from '@leasekit/k8s-leaderelection';
import { startLeaseApiServer, type LeaseApiServer, type VerbCounts } from '@leasekit/lease-apiserver';
import { CountingLogger, sleep } from './candidates.js';
import { NAMESPACE } from './election-trials.js';
import type { Timings } from './options.js';
import { SHARD_REPLICA_SCRIPT, ShardProcess } from '@leasekit/demo/shard-process';
import { shardSetTimings, type ShardMembershipTimings } from '@leasekit/demo/shard-protocol';
import { ShardTracker, heldCounts, isBalanced } from '@leasekit/demo/shard-tracker';

/** The scenario's phases, in order. */
export const SHARD_PHASES = ['start', 'join', 'crash', 'leave'] as const;
export type ShardPhaseName = (typeof SHARD_PHASES)[number];

export type { ShardMembershipTimings } from '@leasekit/demo/shard-protocol';

/** Everything the scenario needs. */
export interface ShardsOptions {
  /** N, the shard Leases. */
  readonly shards: number;
  /** M, the replicas at the start (one more joins, then one crashes and one leaves). */
  readonly replicas: number;
  readonly timings: Timings;
  readonly membership: ShardMembershipTimings;
  readonly handoverIntervalMs: number;
  readonly settleMs: number;
  /** How long the steady state is counted, after the start phase. */
  readonly steadyMs: number;
  /** The replica entry point. @default dist/shard-replica.js next to this module */
  readonly replicaScript?: string;
  readonly onPhase?: (phase: ShardPhase) => void;
}

/** One phase, measured. */
export interface ShardPhase {
  readonly name: ShardPhaseName;
  /** What happened, in words (`shard-3 joined`, ...). */
  readonly event: string;
  /** Live replicas after the event. */
  readonly live: number;
  /** From the event to the set balanced for good; NaN when it never was (see `failure`). */
  readonly balanceMs: number;
  /** Holder changes from one replica to another during the phase (start: from the first fork). */
  readonly moves: number;
  /** Shards taken that nobody had held (the start phase's first acquisitions, from the first fork). */
  readonly acquisitions: number;
  /** The fewest moves any placement needs: the joiner's floor share, the crashed or leaving replica's shards. */
  readonly minimumMoves: number;
  /** Shards each live replica held when the phase ended, by identity. */
  readonly held: Record<string, number>;
  /** Process start to run() called (start: the slowest replica; join: the joiner), ms. */
  readonly bootMs?: number;
  /** The replicas' warnings and errors during the phase (an error: a shard's term lost to a late renewal). */
  readonly warnings: number;
  readonly errors: number;
  readonly failure?: string;
}

/** The steady state between the start and the join, counted by the server. */
export interface ShardSteady {
  readonly windowMs: number;
  readonly requests: number;
  readonly perMinute: number;
  /** Per verb, per minute (only verbs that were used). */
  readonly perMinuteByVerb: Record<string, number>;
  /** Shard moves during the window (a balanced set should move nothing). */
  readonly moves: number;
  /** Watch streams open at the end of the window (one set watch per replica expected). */
  readonly openWatches: number;
  /** The replicas' warnings and errors during the window (an error: a shard's term lost to a late renewal). */
  readonly warnings: number;
  readonly errors: number;
  /** The target, per minute: the shards' renewals, the memberships' refreshes, one watch per replica. */
  readonly target: { readonly renewals: number; readonly memberships: number; readonly watches: number; readonly total: number };
}

/** Everything the scenario measured. */
export interface ShardsResult {
  readonly shards: number;
  readonly replicas: number;
  readonly timings: Timings;
  readonly membership: ShardMembershipTimings;
  readonly handoverIntervalMs: number;
  readonly settleMs: number;
  /** How long a phase's balance must hold before the phase counts as done. */
  readonly quietMs: number;
  readonly phases: ShardPhase[];
  /** undefined when the start phase never balanced (nothing steady to count). */
  readonly steady: ShardSteady | undefined;
  /** Rebalancing handovers each replica that stopped gracefully reported giving (before its SIGTERM). */
  readonly handoversByReplica: Record<string, number>;
  readonly log: CountingLogger;
  /** The replicas' warnings and errors by message (numbers elided), with their counts. */
  readonly logByMessage: Record<string, number>;
}

/** The sharding settings that follow from the shard timings (the demo's `--shards` uses the same: see shard-protocol.ts there). */
export function shardSettings(timings: Timings): Pick<ShardsOptions, 'membership' | 'handoverIntervalMs' | 'settleMs'> {
  return shardSetTimings(timings);
}

/** The steady-state target per minute (see the README): renewals + membership refreshes + one watch per replica. */
export function steadyTarget(shards: number, replicas: number, retryPeriodMs: number, membershipRenewIntervalMs: number): ShardSteady['target'] {
  const renewals = (shards * 60_000) / retryPeriodMs;
  const memberships = (replicas * 60_000) / membershipRenewIntervalMs;
  const watches = replicas;
  return { renewals, memberships, watches, total: renewals + memberships + watches };
}

/** Runs the four phases; the server and every replica are stopped before it resolves. */
export async function runShards(o: ShardsOptions): Promise<ShardsResult> {
  const quietMs = o.settleMs + 2 * o.handoverIntervalMs + o.timings.retryPeriodMs;
  const server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
  const dir = await mkdtemp(join(tmpdir(), 'leasekit-bench-shards-'));
  const scene = new Scene(server, o, dir, quietMs);
  try {
    return await scene.run();
  } finally {
    await scene.stopAll();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The set, its replicas and what the server shows of them. */
class Scene {
  private readonly setName = 'bench-shards';
  private readonly tracker: ShardTracker;
  private readonly log = new CountingLogger();
  private readonly processes: ShardProcess[] = [];
  /** The replicas counted live (a killed or stopping one is removed at once). */
  private live: string[] = [];
  /** Since when the set is balanced without interruption (undefined: it is not). */
  private balancedSince: number | undefined;
  private nextIndex = 1;
  /** Warnings and errors by message, with their counts. */
  private readonly messages = new Map<string, number>();

  constructor(
    private readonly server: LeaseApiServer,
    private readonly o: ShardsOptions,
    private readonly dir: string,
    private readonly quietMs: number,
  ) {
    this.tracker = new ShardTracker(o.shards);
  }

  async run(): Promise<ShardsResult> {
    const { o, server } = this;
    const label = memberOfLabelValue(this.setName);
    for (let s = 0; s < o.shards; s++) {
      server.store.create(NAMESPACE, { metadata: { name: shardLeaseName(this.setName, s), labels: { [SHARD_SET_LABEL]: label } } });
    }
    const shardOf = new Map(Array.from({ length: o.shards }, (_, s) => [shardLeaseName(this.setName, s), s]));
    const watch = server.store.watch({ namespace: NAMESPACE, labelSelector: `${SHARD_SET_LABEL}=${label}` }, (event) => {
      const lease = event.object as Lease;
      const shard = shardOf.get(lease.metadata?.name ?? '');
      if (shard === undefined) return;
      this.tracker.observe(shard, event.type === 'DELETED' ? '' : (lease.spec?.holderIdentity ?? ''), performance.now());
      this.judge();
    });
    const phases: ShardPhase[] = [];
    const record = (phase: ShardPhase): void => {
      phases.push(phase);
      o.onPhase?.(phase);
    };
    let steady: ShardSteady | undefined;
    try {
      // start: M replicas, counted from the moment the last of them called run().
      let mark = this.logMark();
      const forkedAt = performance.now();
      const first: ShardProcess[] = [];
      for (let i = 0; i < o.replicas; i++) first.push(await this.add());
      await Promise.all(first.map((p) => p.ready));
      const readyAt = performance.now();
      record(await this.phase('start', `${o.replicas} replicas started`, readyAt, 0, { bootMs: readyAt - forkedAt, countFrom: forkedAt, mark }));
      if (phases[0]!.failure === undefined) steady = await this.steady();
      // join: one more.
      mark = this.logMark();
      const joinForkedAt = performance.now();
      const joiner = await this.add();
      await joiner.ready;
      const joinedAt = performance.now();
      record(await this.phase('join', `${joiner.identity} joined`, joinedAt, Math.floor(o.shards / this.live.length), { bootMs: joinedAt - joinForkedAt, mark }));
      // crash: the first replica, killed.
      const victim = this.processes[0]!;
      const victimHeld = this.heldBy(victim.identity);
      this.live = this.live.filter((id) => id !== victim.identity);
      mark = this.logMark();
      const killedAt = performance.now();
      victim.signal('SIGKILL');
      this.judge();
      record(await this.phase('crash', `${victim.identity} killed (SIGKILL)`, killedAt, victimHeld, { mark }));
      // leave: the second replica, stopped as SIGTERM stops it.
      const leaver = this.processes[1]!;
      const leaverHeld = this.heldBy(leaver.identity);
      this.live = this.live.filter((id) => id !== leaver.identity);
      mark = this.logMark();
      const termAt = performance.now();
      leaver.signal('SIGTERM');
      this.judge();
      const leave = await this.phase('leave', `${leaver.identity} stopped (SIGTERM)`, termAt, leaverHeld, { mark });
      if (!(await leaver.waitForExit(o.timings.renewDeadlineMs + 10_000))) {
        record({ ...leave, failure: `${leaver.identity} did not exit after SIGTERM` });
      } else {
        record(leave);
      }
    } finally {
      watch.stop();
    }
    await this.stopAll();
    const handoversByReplica: Record<string, number> = {};
    for (const p of this.processes) if (p.handovers !== undefined) handoversByReplica[p.identity] = p.handovers;
    for (const p of this.processes) for (const line of p.output.slice(0, 5)) this.log.error(`output: ${line}`, { identity: p.identity });
    return {
      shards: o.shards,
      replicas: o.replicas,
      timings: o.timings,
      membership: o.membership,
      handoverIntervalMs: o.handoverIntervalMs,
      settleMs: o.settleMs,
      quietMs: this.quietMs,
      phases,
      steady,
      handoversByReplica,
      log: this.log,
      logByMessage: Object.fromEntries([...this.messages].sort(([, a], [, b]) => b - a)),
    };
  }

  /** Forks one more replica and counts it live. */
  private async add(): Promise<ShardProcess> {
    const identity = `shard-${this.nextIndex++}`;
    const { o } = this;
    const kubeconfig = await this.server.writeKubeconfig(join(this.dir, `${identity}.kubeconfig`), { token: `${identity}-token`, namespace: NAMESPACE });
    const replica = new ShardProcess(
      o.replicaScript ?? SHARD_REPLICA_SCRIPT,
      {
        identity,
        setName: this.setName,
        namespace: NAMESPACE,
        shards: o.shards,
        kubeconfig,
        elector: { ...o.timings, maxPeerLeaseDurationMs: o.timings.leaseDurationMs },
        membership: o.membership,
        handoverIntervalMs: o.handoverIntervalMs,
        settleMs: o.settleMs,
      },
      { onLog: (level, message) => this.logged(level, identity, message) },
    );
    this.processes.push(replica);
    this.live = [...this.live, identity];
    this.judge();
    return replica;
  }

  /** Counts a replica's warning or error, and tallies it by message (identities and numbers elided). */
  private logged(level: 'warn' | 'error', identity: string, message: string): void {
    (level === 'warn' ? this.log.warn : this.log.error)(message, { identity });
    const key = `${level} ${message.replace(/\d+/g, 'N')}`;
    this.messages.set(key, (this.messages.get(key) ?? 0) + 1);
  }

  /** The warning and error counts so far, to count a phase's or a window's. */
  private logMark(): { warnings: number; errors: number } {
    return { warnings: this.log.warnings, errors: this.log.errors };
  }

  private heldBy(identity: string): number {
    return this.tracker.holders.filter((h) => h === identity).length;
  }

  /** Re-judges the balance after a holder or the live set changed. */
  private judge(): void {
    if (!isBalanced(this.tracker.holders, this.live)) this.balancedSince = undefined;
    else this.balancedSince ??= performance.now();
  }

  /** Waits until the set has stood balanced for the quiet period (bounded) and measures the phase. */
  private async phase(
    name: ShardPhaseName,
    event: string,
    since: number,
    minimumMoves: number,
    { bootMs, countFrom = since, mark }: { readonly bootMs?: number; readonly countFrom?: number; readonly mark: { warnings: number; errors: number } },
  ): Promise<ShardPhase> {
    const { o } = this;
    // Bounded: every shard moving one handover interval apart, plus lease expiries and margins.
    const timeoutMs = 30_000 + o.shards * o.handoverIntervalMs + 4 * o.timings.leaseDurationMs + o.membership.durationMs;
    let failure: string | undefined;
    for (;;) {
      const now = performance.now();
      if (this.balancedSince !== undefined && now - this.balancedSince >= this.quietMs) break;
      if (now - since > timeoutMs) {
        failure = `not balanced within ${Math.round(timeoutMs / 1000)} s`;
        break;
      }
      await sleep(20);
    }
    const end = performance.now();
    const moves = this.tracker.movesSince(countFrom).filter((m) => m.at <= end).length;
    return {
      name,
      event,
      live: this.live.length,
      balanceMs: failure === undefined ? Math.max(0, this.balancedSince! - since) : NaN,
      moves,
      acquisitions: this.tracker.acquisitionsSince(countFrom),
      minimumMoves,
      held: Object.fromEntries(heldCounts(this.tracker.holders, this.live)),
      ...(bootMs !== undefined ? { bootMs } : {}),
      warnings: this.log.warnings - mark.warnings,
      errors: this.log.errors - mark.errors,
      ...(failure !== undefined ? { failure } : {}),
    };
  }

  /** Counts the server's requests for the steady-state window. */
  private async steady(): Promise<ShardSteady> {
    const { o, server } = this;
    const before: VerbCounts = server.counters.snapshot('leases');
    const logBefore = this.logMark();
    const startedAt = performance.now();
    await sleep(o.steadyMs);
    const after: VerbCounts = server.counters.snapshot('leases');
    const windowMs = performance.now() - startedAt;
    const perMinute = (n: number): number => (n * 60_000) / windowMs;
    const perMinuteByVerb: Record<string, number> = {};
    for (const verb of Object.keys(after) as (keyof VerbCounts)[]) {
      const delta = after[verb] - before[verb];
      if (verb !== 'total' && delta > 0) perMinuteByVerb[verb] = perMinute(delta);
    }
    const requests = after.total - before.total;
    return {
      windowMs,
      requests,
      perMinute: perMinute(requests),
      perMinuteByVerb,
      moves: this.tracker.movesSince(startedAt).length,
      openWatches: server.openWatchCount,
      warnings: this.log.warnings - logBefore.warnings,
      errors: this.log.errors - logBefore.errors,
      target: steadyTarget(o.shards, this.live.length, o.timings.retryPeriodMs, o.membership.renewIntervalMs),
    };
  }

  /** Stops every replica still running (SIGTERM, SIGKILL after a grace period). */
  async stopAll(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop(this.o.timings.renewDeadlineMs + 10_000)));
  }
}
