/**
 * `pnpm demo --shards N` as a function: the embedded server with N free shard Leases, the replica
 * processes (`shard-replica.js`), their `shard.acquired` / `shard.lost` events printed as they
 * come and gathered in a {@link ShardLedger}, a picture of who holds what once a second while it
 * changes, and the scene itself (shards-scene.ts) through {@link ShardsStage}; then the Leases left
 * behind, the summary and the checks. Exit code 0 when every check passed, 1 when one failed or the
 * run could not go on, 130 when interrupted. Every wait is bounded and interruptible; the cleanup
 * stops every replica (SIGTERM, then SIGKILL), then closes the server and removes the temp dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { SHARD_SET_LABEL, createKubeLeaseClient, memberOfLabelValue, shardLeaseName, type LeaseClient } from '@leasekit/k8s-leaderelection';
import { describeError } from '@leasekit/k8s-leaderelection/internal';
import { startLeaseApiServer, type LeaseApiServer } from '@leasekit/lease-apiserver';
import { DemoFailed, pause, pollUntil, runGuarded } from './interruptible.js';
import type { DemoOptions } from './options.js';
import { nowMs } from './protocol.js';
import { describeExit } from './replica-process.js';
import { shellQuote, type DemoIo } from './run-demo.js';
import { SHARD_GRID_LEGEND, shardGridLine } from './shard-grid.js';
import { ShardLedger } from './shard-ledger.js';
import { shardReplicaConfig, type ShardSetSettings } from './shard-options.js';
import { SHARD_REPLICA_SCRIPT, ShardProcess } from './shard-process.js';
import { shardSetTimings, type ShardEventMessage } from './shard-protocol.js';
import { requestCountsLine } from './summary.js';
import { isBalanced } from './shard-tracker.js';
import { runShardsScene, shardsSummaryLines, type ShardsResult, type ShardsStage } from './shards-scene.js';
import { Timeline, formatDuration } from './timeline.js';

/** How often the picture is printed while the holders change. */
export const PICTURE_INTERVAL_MS = 1000;

/** Runs the `--shards` scene; never rejects. Returns the exit code. */
export async function runShardsDemo(options: DemoOptions, io: DemoIo, signal: AbortSignal, replicaScript = SHARD_REPLICA_SCRIPT): Promise<number> {
  return new ShardsRun(options, io, signal, replicaScript).run();
}

class ShardsRun implements ShardsStage {
  readonly ledger: ShardLedger;
  private readonly startedAt = nowMs();
  private readonly timeline: Timeline;
  private readonly settings: ShardSetSettings;
  private readonly processes = new Map<string, ShardProcess>();
  private server: LeaseApiServer | undefined;
  private tmpDir: string | undefined;
  private kubeconfigPath: string | undefined;
  private client: LeaseClient | undefined;
  private ticker: ReturnType<typeof setInterval> | undefined;
  private lastPicture = '';

  /** Reads the set from `options`; forks `replicaScript` for each replica; prints through `io`; stops when `signal` aborts. */
  constructor(private readonly options: DemoOptions, private readonly io: DemoIo, private readonly signal: AbortSignal, private readonly replicaScript: string) {
    const o = options;
    this.timeline = new Timeline(this.startedAt, (line) => io.out(line));
    this.settings = { setName: o.leaseName, namespace: o.namespace, shards: o.shards!, leaseDurationMs: o.leaseDurationMs, renewDeadlineMs: o.renewDeadlineMs, retryPeriodMs: o.retryPeriodMs };
    this.ledger = new ShardLedger(this.settings.shards);
  }

  async run(): Promise<number> {
    let exitCode = await runGuarded(
      async () => ((await this.scene()).checks.every((c) => c.ok) ? 0 : 1),
      () => this.cleanup(),
      this.signal,
      {
        interrupted: () => this.say('interrupted: stopping every replica (SIGTERM: each hands its shards over or releases them), then the server'),
        failed: (reason) => this.io.err(`demo failed: ${reason}`),
      },
    );
    if (exitCode === 0 && [...this.processes.values()].some((p) => p.alive)) exitCode = 1;
    return exitCode;
  }

  private async scene(): Promise<ShardsResult> {
    const o = this.options;
    const { setName, namespace, shards } = this.settings;
    this.server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
    this.tmpDir = await mkdtemp(join(tmpdir(), 'leasekit-demo-shards-'));
    this.kubeconfigPath = await this.server.writeKubeconfig(join(this.tmpDir, 'kubeconfig'), { namespace });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(this.kubeconfigPath);
    this.client = createKubeLeaseClient(kubeConfig, { requestTimeoutMs: 5000 });
    this.say(`Lease API: embedded server ${this.server.url} (no cluster needed)`);

    // Free shard Leases with the set's label, so nobody waits out a claim on a missing one.
    const label = `${SHARD_SET_LABEL}=${memberOfLabelValue(setName)}`;
    for (let s = 0; s < shards; s++) {
      await this.client.create(namespace, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: shardLeaseName(setName, s), namespace, labels: { [SHARD_SET_LABEL]: memberOfLabelValue(setName) } } });
    }
    this.say(`created ${shards} shard Leases ${shardLeaseName(setName, 0)} .. ${shardLeaseName(setName, shards - 1)}, free, labelled ${label} (a missing one would be claimed first, and led only after the claim stood one lease duration)`);
    this.say('watch them live from another terminal:');
    this.io.out(`             kubectl --kubeconfig ${shellQuote(this.kubeconfigPath)} get leases -n ${namespace} -l ${label} -w`);
    const t = shardSetTimings(o);
    this.say(
      `shards: lease ${formatDuration(o.leaseDurationMs)}, renew deadline ${formatDuration(o.renewDeadlineMs)}, retry period ${formatDuration(o.retryPeriodMs)}; ` +
        `membership ${formatDuration(t.membership.durationMs)} refreshed every ${formatDuration(t.membership.renewIntervalMs)}; at most one handover per ${formatDuration(t.handoverIntervalMs)} per replica, after the members stood ${formatDuration(t.settleMs)}`,
    );
    this.say(`the "shards" lines: ${SHARD_GRID_LEGEND}`);
    this.ticker = setInterval(() => this.pictureIfChanged(), PICTURE_INTERVAL_MS);

    const result = await runShardsScene(this, o.replicas);
    clearInterval(this.ticker);
    await this.showFinalLeases(label);
    this.io.out('');
    for (const line of shardsSummaryLines(result)) this.io.out(line);
    this.io.out(requestCountsLine(this.server.counters.snapshot('leases'), 'replicas and this demo'));
    this.io.out('');
    return result;
  }

  // -----------------------------------------------------------------------------------------
  // The stage.

  async addReplica(identity: string): Promise<void> {
    const proc = new ShardProcess(this.replicaScript, shardReplicaConfig(this.settings, identity, this.kubeconfigPath!), {
      onEvent: (m) => this.event(m),
      onLog: (level, message, at) => this.timeline.line(at, identity, `${level}: ${message}`),
      onOutput: (line) => this.timeline.line(nowMs(), identity, `| ${line}`),
      onExit: (exit) => {
        const at = nowMs();
        this.timeline.line(at, identity, exit.signal ? `process killed by ${exit.signal}` : `process exited with code ${exit.code ?? '?'}`);
        const orphaned = this.ledger.died(identity, describeExit(exit), at);
        if (orphaned.length > 0) this.timeline.line(at, identity, `died holding shards ${orphaned.join(' ')}: their Leases name it until they expire`);
      },
    });
    this.processes.set(identity, proc);
    this.say(`forked ${identity} (pid ${proc.pid ?? '?'})`);
    // Generous: four or five Node processes starting at once on a busy machine took 25 s.
    const bound = 60_000;
    const started = await Promise.race([proc.ready.then(() => true), pause(bound, this.signal).then(() => false)]);
    if (!started || !proc.alive) throw new DemoFailed(`${identity} did not start within ${formatDuration(bound)}${proc.output.length > 0 ? `: ${proc.output.join(' / ')}` : ''}`);
  }

  async kill(identity: string): Promise<void> {
    const proc = this.processes.get(identity)!;
    proc.signal('SIGKILL');
    if (!(await proc.waitForExit(5000))) throw new DemoFailed(`${identity} did not die within 5 s of SIGKILL`);
  }

  async untilBalanced(live: readonly string[]): Promise<boolean> {
    const o = this.options;
    const t = shardSetTimings(o);
    // A pending move would show within the settle time plus two handover intervals.
    const quietMs = t.settleMs + 2 * t.handoverIntervalMs + o.retryPeriodMs;
    // Bounded: every shard moving one handover interval apart, plus lease expiries and margins.
    const boundMs = 30_000 + this.settings.shards * t.handoverIntervalMs + 4 * o.leaseDurationMs + t.membership.durationMs;
    let since: number | undefined;
    return pollUntil(
      () => {
        if (!isBalanced(this.ledger.holders, live)) since = undefined;
        else since ??= nowMs();
        return since !== undefined && nowMs() - since >= quietMs;
      },
      boundMs,
      this.signal,
    );
  }

  picture(live: readonly string[]): void {
    this.lastPicture = shardGridLine(this.ledger.holders, live, this.ledger.dead);
    this.timeline.line(nowMs(), 'shards', this.lastPicture);
  }

  async stopAll(live: readonly string[]): Promise<void> {
    const remaining = [...live];
    while (remaining.length > 0) {
      const identity = remaining.shift()!;
      const proc = this.processes.get(identity)!;
      this.say(`SIGTERM ${identity}${remaining.length > 0 ? ': it hands its shards to the others' : ', the last: it releases its shards'}`);
      await proc.stop(this.options.renewDeadlineMs + 5000);
      // Before the next one leaves, the others hold every shard (a handover taken).
      if (remaining.length > 0) await pollUntil(() => this.ledger.holders.every((h) => remaining.includes(h)), this.options.leaseDurationMs + 5000, this.signal);
    }
    this.pictureIfChanged([]);
  }

  requests(): number {
    return this.server!.counters.snapshot('leases').total;
  }

  now(): number {
    return nowMs();
  }

  say(text: string): void {
    this.timeline.line(nowMs(), 'demo', text);
  }

  // -----------------------------------------------------------------------------------------

  private event(m: ShardEventMessage): void {
    if (m.event === 'shard.acquired') {
      this.ledger.acquired(m.identity, m.shard, m.token, m.at);
      this.timeline.line(m.at, m.identity, `shard.acquired ${m.shard} (token ${m.token})`);
    } else {
      this.ledger.lost(m.identity, m.shard, m.reason ?? '?', m.at);
      this.timeline.line(m.at, m.identity, `shard.lost ${m.shard} (${m.reason ?? '?'}, token ${m.token})`);
    }
  }

  /** The picture, when the holders changed since the last one (live: the processes running now). */
  private pictureIfChanged(live = [...this.processes.values()].filter((p) => p.alive).map((p) => p.identity)): void {
    const line = shardGridLine(this.ledger.holders, live, this.ledger.dead);
    if (line !== this.lastPicture) this.picture(live);
  }

  private async showFinalLeases(label: string): Promise<void> {
    const { namespace, setName, shards } = this.settings;
    try {
      const { items } = await this.client!.list!(namespace, { labelSelector: label });
      const shardNames = new Set(Array.from({ length: shards }, (_, s) => shardLeaseName(setName, s)));
      const shardLeases = items.filter((l) => shardNames.has(l.metadata?.name ?? ''));
      const held = shardLeases.filter((l) => (l.spec?.holderIdentity ?? '') !== '').map((l) => `${l.metadata?.name} (${l.spec?.holderIdentity})`);
      const members = items.length - shardLeases.length;
      this.timeline.line(
        nowMs(),
        'lease',
        `at the end: ${shardLeases.length} shard Leases, ${held.length === 0 ? 'none held (released)' : `still held: ${held.join(', ')}`}; ` +
          `${members} membership Lease${members === 1 ? '' : 's'} left${members > 0 ? ' (a killed replica’s, until it expires)' : ''}`,
      );
    } catch (err) {
      this.say(`could not list the shard Leases at the end: ${describeError(err)}`);
    }
  }

  /** Leaves nothing behind: replicas exited, server closed, temp files gone. */
  private async cleanup(): Promise<void> {
    clearInterval(this.ticker);
    try {
      await Promise.all([...this.processes.values()].map((p) => p.stop(this.options.renewDeadlineMs + 5000)));
    } finally {
      this.client?.close?.();
      await this.server?.close();
      if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true });
    }
  }
}
