/**
 * The demo scenario as a function: connect (embedded server or a real cluster), make sure the
 * Lease exists, start the replica processes, wait for a leader, SIGKILL it and time the failover,
 * SIGTERM the next leader and time the graceful handover, stop the rest, then print the summary
 * and draw the picture. With `--prometheus` a real Prometheus scrapes the replicas from their
 * start, and what it recorded is printed and drawn at the end. `demo.ts` only wires process
 * signals to `signal`; tests run the built CLI.
 *
 * Every wait is bounded and interruptible: an abort of `signal` (Ctrl-C) or a timeout goes
 * straight to the cleanup, which SIGTERMs every replica (they release the Lease), SIGKILLs any
 * that do not exit in time, stops Prometheus (removing its temp dir), and only then closes the server.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { createKubeLeaseClient, isNotFound, type LeaseClient } from '@leasekit/k8s-leaderelection';
import { describeError, recordFromLease, systemClock } from '@leasekit/k8s-leaderelection/internal';
import { candidatesFor } from '@leasekit/k8s-leaderelection/testing';
import { Coordinator, startLeaseApiServer, type LeaseApiServer } from '@leasekit/lease-apiserver';
import { DemoFailed, Interrupted, pause, runGuarded } from './interruptible.js';
import { LeaseView } from './lease-view.js';
import type { DemoOptions } from './options.js';
import { PrometheusServer } from './prometheus.js';
import { PROMETHEUS_PACKAGE, findExecutable } from './prometheus-tools.js';
import { nowMs, type BusEventMessage, type ReplicaConfig, type ReplicaMessage } from './protocol.js';
import { beginTerm, endTerm, type DemoRecord, type Measurement, type ReplicaRecord, type SignalRecord } from './record.js';
import { ReplicaProcess, describeExit, type ExitInfo } from './replica-process.js';
import { coordinatedSummaryLines, runCoordinatedScene, type CoordinatedStage } from './coordinated-scene.js';
import { resourceTables } from './kubectl-tables.js';
import { membershipTimings } from './replica-component.js';
import { rolloutSummaryLines, runRolloutPhase, type RolloutReplicaOptions, type RolloutStage } from './rollout-scene.js';
import { describeMeasurement, requestCountsLine, summaryLines } from './summary.js';
import { scrapeLeaderSeries, scrapedTimelineLines } from './scraped.js';
import { renderTimelineSvg } from './svg.js';
import { Timeline, describeLeaseChange, describeMessage, formatDuration } from './timeline.js';

/** How often `--prometheus` scrapes the replicas: a fraction of the demo's 2 s lease duration. */
export const DEMO_SCRAPE_INTERVAL_MS = 500;

/** Where the demo writes. */
export interface DemoIo {
  out(line: string): void;
  err(line: string): void;
}

/** How a run ended. */
export interface DemoResult {
  /** 0: the scenario completed; 1: it failed; 130: interrupted. */
  readonly exitCode: number;
  readonly record: DemoRecord;
  /** The picture, when it could be written. */
  readonly svgPath: string | undefined;
}

/** The replica entry point next to this file (`dist/replica.js` once built). */
export function defaultReplicaScript(): string {
  return fileURLToPath(new URL('./replica.js', import.meta.url));
}

/** Runs the whole demo; never rejects (failures become exit code 1 with a message). */
export async function runDemo(options: DemoOptions, io: DemoIo, signal: AbortSignal, replicaScript = defaultReplicaScript()): Promise<DemoResult> {
  return new DemoRun(options, io, signal, replicaScript).run();
}

class DemoRun {
  private readonly startedAt = nowMs();
  private readonly timeline: Timeline;
  private readonly processes: ReplicaProcess[] = [];
  private readonly messages: ReplicaMessage[] = [];
  private readonly waiters = new Set<(message: ReplicaMessage) => void>();
  private record: DemoRecord | undefined;
  private server: LeaseApiServer | undefined;
  private tmpDir: string | undefined;
  /** The kubeconfig file the replicas load (undefined: in-cluster). */
  private kubeconfigPath: string | undefined;
  private client: LeaseClient | undefined;
  private view: LeaseView | undefined;
  /** With `--prometheus`: the server, and when it started scraping. */
  private prometheus: PrometheusServer | undefined;
  private prometheusFromMs = 0;
  /** With `--coordinated`: the embedded server's coordinator, once started. */
  private coordinator: Coordinator | undefined;
  /** Replicas forked with `handoverOnShutdown: 'newest'`. */
  private readonly handingOver = new Set<string>();

  constructor(
    private readonly options: DemoOptions,
    private readonly io: DemoIo,
    private readonly signal: AbortSignal,
    private readonly replicaScript: string,
  ) {
    this.timeline = new Timeline(this.startedAt, (line) => io.out(line));
  }

  async run(): Promise<DemoResult> {
    let exitCode = await runGuarded(
      async () => {
        await this.scenario();
        return 0;
      },
      (code) => this.cleanup(code !== 0),
      this.signal,
      {
        interrupted: () => this.say('interrupted: stopping every replica (SIGTERM, so each releases the Lease if it holds it), then the server'),
        failed: (reason) => this.io.err(`demo failed: ${reason}`),
      },
    );
    const record = this.record ?? this.emptyRecord('not connected');
    record.endedAt = nowMs();
    const svgPath = await this.writeSvg(record);
    if (exitCode === 0 && this.processes.some((p) => p.alive)) exitCode = 1;
    return { exitCode, record, svgPath };
  }

  // -----------------------------------------------------------------------------------------
  // The scenario, step by step.

  private async scenario(): Promise<void> {
    const o = this.options;
    const prometheusBinary = o.prometheus ? findExecutable('prometheus') : undefined;
    if (o.prometheus && prometheusBinary === undefined) {
      throw new DemoFailed(`--prometheus: the prometheus binary is not on PATH; install the Debian package "${PROMETHEUS_PACKAGE}" (sudo apt-get install ${PROMETHEUS_PACKAGE}) or put prometheus on PATH`);
    }
    // 1. Where the Lease lives: our own embedded server, or a real cluster.
    const target = await this.connect();
    this.record = this.emptyRecord(target);
    this.say(`Lease API: ${target}`);

    // 2. The Lease, and our own watch on it (the timeline's "lease" lines). In coordinated mode
    // the coordinator creates it once there are candidates.
    if (!o.coordinated) await this.ensureLease();
    this.view = new LeaseView(this.client!, o.namespace, o.leaseName, (change) => this.timeline.line(change.at, 'lease', describeLeaseChange(change, o.coordinated)));
    await this.view.start(o.coordinated ? 0 : 5000);
    this.say('watch the Lease live from another terminal:');
    this.io.out(`             ${this.kubectlCommand()}`);

    if (o.coordinated) return this.coordinatedScenario();

    // 3. The replicas: real processes, each a small controller serving /metrics and /healthz.
    this.say(`starting ${o.replicas} replica processes (lease ${formatDuration(o.leaseDurationMs)}, renew deadline ${formatDuration(o.renewDeadlineMs)}, retry period ${formatDuration(o.retryPeriodMs)}, ${o.followerStrategy} followers)`);
    await this.startReplicas();
    if (prometheusBinary !== undefined) await this.startPrometheus(prometheusBinary);

    // 4. A leader, and a look at what the replicas export.
    const first = await this.nextLeader(0, [], 30_000 + 2 * o.leaseDurationMs, 'the first leader');
    await this.pause(o.settleMs);
    await this.scrapeReplicas();
    if (o.rollout) return this.rolloutScenario();

    // 5. Crash: SIGKILL the leader. Nobody releases; the others wait for the Lease to expire.
    const failover = await this.takeover(first.identity, 'SIGKILL', o.leaseDurationMs + o.renewDeadlineMs + 10_000);
    await this.pause(o.settleMs);

    // 6. Graceful: SIGTERM the new leader. It stops leading and releases; another takes over at once.
    const handover = await this.takeover(failover.to, 'SIGTERM', o.leaseDurationMs + 10_000);
    const stoppedLeader = this.processes.find((p) => p.identity === handover.from);
    await stoppedLeader?.waitForExit(o.renewDeadlineMs + 5000);
    await this.pause(Math.min(o.settleMs, 1500));

    // 7. The end: stop the rest the way Kubernetes would, and show the Lease they leave behind.
    this.say('stopping the remaining replicas (SIGTERM)');
    await this.stopAll('shutdown');
    await this.showFinalLease();
    if (this.prometheus) await this.readScraped();
    this.record!.endedAt = nowMs();
    this.io.out('');
    for (const line of summaryLines(this.record!, this.requestCounts())) this.io.out(line);
    this.io.out('');
    if (this.record!.scraped) {
      for (const line of scrapedTimelineLines(this.record!.scraped, this.startedAt)) this.io.out(line);
      this.io.out('');
    }
  }

  /**
   * `--rollout` (after the first leader): two rolling updates of every replica, (a) SIGTERM only,
   * (b) the leader handing over to the newest replica first (see rollout-scene.ts), then the end.
   */
  private async rolloutScenario(): Promise<void> {
    const o = this.options;
    const names = (from: number): string[] => Array.from({ length: o.replicas }, (_, i) => `replica-${from + i}`);
    const stage = this.rolloutStage();
    // The first replicas release on SIGTERM; every replica a rollout forks hands over to the newest.
    const a = await runRolloutPhase(stage, 'release', names(1), names(o.replicas + 1));
    this.record!.rollout = [a];
    this.say(rolloutSummaryLines([a])[0]!);
    await this.pause(o.settleMs);
    const b = await runRolloutPhase(stage, 'newest', names(o.replicas + 1), names(2 * o.replicas + 1));
    this.record!.rollout.push(b);
    this.say(rolloutSummaryLines([b])[0]!);
    await this.pause(Math.min(o.settleMs, 1500));

    // Followers first: a leader stopped with live members would hand the Lease to one that is
    // stopping too. Stopped last, alone, it releases.
    this.say('stopping the remaining replicas (SIGTERM), the followers first, then the leader (no live member left: it releases)');
    await this.stopAll('shutdown', (identity) => identity !== stage.leader());
    await this.stopAll('shutdown');
    await this.showFinalLease();
    this.record!.endedAt = nowMs();
    this.io.out('');
    for (const line of summaryLines(this.record!, this.requestCounts())) this.io.out(line);
    this.io.out('');
    for (const line of rolloutSummaryLines(this.record!.rollout)) this.io.out(line);
    this.io.out('');
  }

  /** The rollout scene's view of this run: real processes, their messages and the record. */
  private rolloutStage(): RolloutStage {
    const o = this.options;
    const takeoverBound = o.leaseDurationMs + o.renewDeadlineMs + 10_000;
    const leader = (): string | undefined => this.record!.replicas.find((r) => r.terms.some((t) => t.endAt === undefined))?.identity;
    return {
      addReplica: async (identity, options) => {
        const since = this.messages.length;
        const proc = this.forkReplica(identity, options);
        this.say(`rollout: forked ${identity} (pid ${proc.pid ?? '?'})${options.handoverOnShutdown ? ` with handoverOnShutdown: 'newest'` : ''}, waiting until it follows the Lease`);
        await this.waitFor((m) => m.type === 'ready' && m.identity === identity, since, 30_000, `${identity} to start`);
        await this.waitFor((m) => m.type === 'event' && m.identity === identity && (m.event === 'leader.observed' || m.event === 'leader.became'), since, takeoverBound, `${identity} to follow the Lease`);
        // It has seen the Lease; a watching follower opens its watch right after, and its
        // membership Lease is written when it starts. A retry period covers that (the demo cannot
        // see a real cluster's watches; a Deployment would wait for readiness here).
        await this.pause(o.retryPeriodMs);
      },
      leader,
      stop: async (identity) => {
        const proc = this.processes.find((p) => p.identity === identity)!;
        const wasLeader = leader() === identity;
        const since = this.messages.length;
        const how = this.handingOver.has(identity) ? `hands the Lease to the newest live replica (handoverOnShutdown: 'newest')` : 'releases the Lease and any follower may take it';
        this.say(`rollout: SIGTERM ${identity}${wasLeader ? `, the leader: it ${how}` : ' (a follower)'}`);
        const at = nowMs();
        proc.signal('SIGTERM');
        this.record!.signals.push({ signal: 'SIGTERM', target: identity, at, purpose: 'rollout' });
        if (!(await proc.waitForExit(o.renewDeadlineMs + 5000))) throw new DemoFailed(`${identity} did not exit within ${formatDuration(o.renewDeadlineMs + 5000)} of SIGTERM`);
        if (wasLeader) await this.nextLeader(since, [identity], takeoverBound, `a new leader after the SIGTERM of ${identity}`);
      },
      untilLeader: async () => {
        if (leader() === undefined) await this.nextLeader(this.messages.length, [], takeoverBound, 'a leader after the rollout');
      },
      terms: () => this.record!.replicas.flatMap((r) => r.terms.map((t) => ({ identity: r.identity, startAt: t.startAt, endAt: t.endAt }))),
      now: nowMs,
      say: (text) => this.say(text),
    };
  }

  /**
   * `--coordinated`: the coordinator on the embedded server picks the holder among three
   * coordinated replicas of different emulation versions (see coordinated-scene.ts); then what
   * kubectl shows, and the end.
   */
  private async coordinatedScenario(): Promise<void> {
    const o = this.options;
    const c = this.coordinatorTimings();
    this.say(
      `coordinated replicas (lease ${formatDuration(o.leaseDurationMs)}, renew deadline ${formatDuration(o.renewDeadlineMs)}, retry period ${formatDuration(o.retryPeriodMs)}, ${o.followerStrategy} followers); ` +
        `the coordinator waits ${formatDuration(c.electionDurationMs)} for ping answers, looks again every ${formatDuration(c.requeueIntervalMs)}, writes leaseDurationSeconds ${c.leaseDurationSeconds}`,
    );
    const result = await runCoordinatedScene(this.coordinatedStage());
    this.record!.coordinated = result;
    await this.pause(Math.min(o.settleMs, 1500));

    this.io.out('');
    for (const line of await resourceTables(
      { kubeconfigPath: this.kubeconfigPath!, cacheDir: join(this.tmpDir!, 'kubectl-cache'), serverUrl: this.server!.url, namespace: o.namespace },
      ['leasecandidates', 'leases'],
    )) {
      this.io.out(`  ${line}`);
    }
    this.io.out('');

    this.say('stopping the replicas (SIGTERM): the holder releases; the coordinator keeps the candidates (as kube-apiserver does) until they expire');
    await this.stopAll('shutdown');
    await this.showFinalLease();
    this.record!.endedAt = nowMs();
    this.io.out('');
    for (const line of summaryLines(this.record!, this.requestCounts())) this.io.out(line);
    this.io.out('');
    for (const line of coordinatedSummaryLines(result)) this.io.out(line);
    this.io.out('');
  }

  /** The coordinator's timings for the demo: a fraction of the real 5 s, the demo's lease duration. */
  private coordinatorTimings(): { electionDurationMs: number; requeueIntervalMs: number; leaseDurationSeconds: number } {
    return { electionDurationMs: 1000, requeueIntervalMs: 1000, leaseDurationSeconds: Math.max(1, Math.ceil(this.options.leaseDurationMs / 1000)) };
  }

  /** The coordinated scene's view of this run. */
  private coordinatedStage(): CoordinatedStage {
    const o = this.options;
    const bound = o.leaseDurationMs + o.renewDeadlineMs + 15_000;
    return {
      addCandidate: async ({ identity, version }) => {
        const since = this.messages.length;
        const proc = this.forkReplica(identity, { coordinatedVersion: version });
        this.say(`forked ${identity} (pid ${proc.pid ?? '?'}), coordinated: true, binaryVersion = emulationVersion = ${version}`);
        await this.waitFor((m) => m.type === 'ready' && m.identity === identity, since, 30_000, `${identity} to start`);
        // Its LeaseCandidate, in the server's store (this scene runs on the embedded server only).
        const deadline = nowMs() + bound;
        while (!candidatesFor(this.server!.candidates, o.namespace, o.leaseName).some((c) => c.metadata?.name === identity)) {
          if (nowMs() > deadline) throw new DemoFailed(`${identity} did not create its LeaseCandidate within ${formatDuration(bound)}`);
          await this.pause(50);
        }
        this.say(`${identity}'s LeaseCandidate is registered`);
      },
      startCoordinator: () => {
        const timings = this.coordinatorTimings();
        this.coordinator = new Coordinator({ ...timings, leases: this.server!.store, candidates: this.server!.candidates, clock: systemClock }).start();
        this.say('the coordinator starts (OldestEmulationVersion): it pings the candidates, ranks them and writes the holder into the Lease');
      },
      leader: () => this.record!.replicas.find((r) => r.terms.some((t) => t.endAt === undefined))?.identity,
      untilLeader: async () => {
        const open = this.record!.replicas.find((r) => r.terms.some((t) => t.endAt === undefined));
        if (open) return open.identity;
        return (await this.nextLeader(0, [], bound, 'the coordinator to name a leader')).identity;
      },
      untilLeads: async (identity) => {
        await this.waitFor((m) => m.type === 'event' && m.event === 'leader.became' && m.identity === identity, 0, bound, `${identity} to lead`);
      },
      settle: () => this.pause(o.settleMs),
      terms: () => this.record!.replicas.flatMap((r) => r.terms.map((t) => ({ identity: r.identity, startAt: t.startAt, endAt: t.endAt }))),
      now: nowMs,
      say: (text) => this.say(text),
    };
  }

  /** `--prometheus`: a real Prometheus scraping every replica (a `pod` label each), until cleanup. */
  private async startPrometheus(binary: string): Promise<void> {
    const targets = this.record!.replicas.map((r) => ({ pod: r.identity, port: r.port! }));
    this.prometheus = await PrometheusServer.start({ binary, targets, scrapeIntervalMs: DEMO_SCRAPE_INTERVAL_MS, jobName: 'leasekit-demo' });
    this.prometheusFromMs = nowMs();
    const graph = `${this.prometheus.url}/graph?g0.expr=${encodeURIComponent('leasekit_leader_election_is_leader')}&g0.tab=0&g0.range_input=1m`;
    this.say(`prometheus ${this.prometheus.url} scrapes the ${targets.length} replicas every ${formatDuration(DEMO_SCRAPE_INTERVAL_MS)} (pod label: the replica); while the demo runs: ${graph}`);
    const deadline = nowMs() + 15_000;
    for (;;) {
      const up = (await this.prometheus.targets()).filter((t) => t.health === 'up').length;
      if (up === targets.length) break;
      if (nowMs() > deadline) throw new DemoFailed(`Prometheus scraped only ${up} of ${targets.length} replicas within 15 s`);
      await this.pause(100);
    }
  }

  /** Reads back what Prometheus scraped, once the replicas' exits have been scraped too. */
  private async readScraped(): Promise<void> {
    await this.pause(2 * DEMO_SCRAPE_INTERVAL_MS);
    try {
      this.record!.scraped = await scrapeLeaderSeries(this.prometheus!, this.options.leaseName, this.prometheusFromMs, nowMs(), DEMO_SCRAPE_INTERVAL_MS);
    } catch (err) {
      throw new DemoFailed(`could not read the is_leader series back from Prometheus: ${describeError(err)}`);
    }
  }

  /** Builds the client and returns a description of where the Lease lives. */
  private async connect(): Promise<string> {
    const o = this.options;
    const kubeConfig = new KubeConfig();
    let target: string;
    if (o.kubeconfig !== undefined) {
      kubeConfig.loadFromFile(o.kubeconfig);
      this.kubeconfigPath = o.kubeconfig;
      target = `cluster ${kubeConfig.getCurrentCluster()?.server ?? '?'} (kubeconfig ${o.kubeconfig})`;
    } else if (o.inCluster) {
      kubeConfig.loadFromCluster();
      target = `in-cluster ${kubeConfig.getCurrentCluster()?.server ?? '?'}`;
    } else {
      this.server = await startLeaseApiServer({ host: '127.0.0.1', port: 0 });
      this.tmpDir = await mkdtemp(join(tmpdir(), 'leasekit-demo-'));
      this.kubeconfigPath = await this.server.writeKubeconfig(join(this.tmpDir, 'kubeconfig'), { namespace: o.namespace });
      kubeConfig.loadFromFile(this.kubeconfigPath);
      target = `embedded server ${this.server.url} (no cluster needed${o.coordinated ? '; its coordinator will elect the holder' : ''})`;
    }
    this.client = createKubeLeaseClient(kubeConfig, { requestTimeoutMs: 5000 });
    return target;
  }

  /** Creates the Lease, free, when it does not exist, and says so. */
  private async ensureLease(): Promise<void> {
    const { namespace, leaseName } = this.options;
    try {
      const lease = await this.client!.get(namespace, leaseName);
      const { record } = recordFromLease(lease);
      this.say(`the Lease ${namespace}/${leaseName} exists: holder ${record.holderIdentity || '(none)'}, transitions ${record.leaseTransitions}`);
    } catch (err) {
      if (!isNotFound(err)) throw new DemoFailed(`cannot read the Lease ${namespace}/${leaseName}: ${describeError(err)}`);
      await this.client!.create(namespace, { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: leaseName, namespace } });
      this.say(
        `created the Lease ${namespace}/${leaseName} with no holder, so the first election needs no wait ` +
          '(an elector that finds the Lease missing writes a claim and leads only once it has stood for the longest lease duration ' +
          'a peer may use, maxPeerLeaseDurationMs, in case a live leader recreates it: see the FAQ)',
      );
    }
  }

  private kubectlCommand(): string {
    const { namespace, leaseName } = this.options;
    const config = this.kubeconfigPath === undefined ? '' : `--kubeconfig ${shellQuote(this.kubeconfigPath)} `;
    return `kubectl ${config}get lease ${leaseName} -n ${namespace} -w`;
  }

  private async startReplicas(): Promise<void> {
    const o = this.options;
    for (let i = 1; i <= o.replicas; i++) this.forkReplica(`replica-${i}`);
    this.say(`forked ${this.processes.map((p) => `${p.identity} (pid ${p.pid ?? '?'})`).join(', ')}`);
    for (const proc of this.processes) {
      await this.waitFor((m) => m.type === 'ready' && m.identity === proc.identity, 0, 30_000, `${proc.identity} to start`);
    }
  }

  /** Forks one replica process (without waiting for it). */
  private forkReplica(identity: string, options: Partial<RolloutReplicaOptions> & { coordinatedVersion?: string } = {}): ReplicaProcess {
    const o = this.options;
    if (options.handoverOnShutdown) this.handingOver.add(identity);
    const config: ReplicaConfig = {
      identity,
      leaseName: o.leaseName,
      leaseNamespace: o.namespace,
      leaseDurationMs: o.leaseDurationMs,
      renewDeadlineMs: o.renewDeadlineMs,
      retryPeriodMs: o.retryPeriodMs,
      followerStrategy: o.followerStrategy,
      kubeconfig: this.kubeconfigPath,
      ...(options.handoverOnShutdown ? { handoverOnShutdown: membershipTimings(o.leaseDurationMs) } : {}),
      ...(options.coordinatedVersion !== undefined ? { coordinated: { binaryVersion: options.coordinatedVersion, emulationVersion: options.coordinatedVersion } } : {}),
    };
    const replica: ReplicaRecord = {
      identity: config.identity,
      forkedAt: nowMs(),
      pid: undefined,
      port: undefined,
      readyAt: undefined,
      exitedAt: undefined,
      exit: undefined,
      terms: [],
    };
    this.record!.replicas.push(replica);
    const proc = new ReplicaProcess(this.replicaScript, config, {
      onMessage: (message) => this.received(replica, message),
      onOutput: (line) => this.timeline.line(nowMs(), replica.identity, `| ${line}`),
      onExit: (exit) => this.exited(replica, exit),
    });
    replica.pid = proc.pid;
    this.processes.push(proc);
    return proc;
  }

  /** Scrapes each replica's /metrics and /healthz once, to show what a Prometheus and a kubelet see. */
  private async scrapeReplicas(): Promise<void> {
    const seen: string[] = [];
    for (const replica of this.record!.replicas) {
      if (replica.port === undefined) continue;
      const base = `http://127.0.0.1:${replica.port}`;
      try {
        const metrics = await (await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
        const gauge = /^leasekit_leader_election_is_leader\{[^}]*\}\s+(\S+)/m.exec(metrics)?.[1] ?? '?';
        const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
        await health.body?.cancel();
        seen.push(`${replica.identity} is_leader ${gauge}, /healthz ${health.status}`);
      } catch (err) {
        seen.push(`${replica.identity} unreachable (${describeError(err)})`);
      }
    }
    this.say(`scraped each replica: ${seen.join('; ')}`);
  }

  /**
   * Signals the current leader and waits for another replica's `leader.became`: SIGKILL times a
   * failover (from the kill and from the dead leader's last renewTime in the Lease), SIGTERM a
   * graceful handover (from the signal and from the release the old leader wrote).
   */
  private async takeover(leader: string, signal: 'SIGKILL' | 'SIGTERM', timeoutMs: number): Promise<Measurement> {
    const proc = this.processes.find((p) => p.identity === leader)!;
    const since = this.messages.length;
    const purpose = signal === 'SIGKILL' ? 'failover' : 'handover';
    this.say(
      signal === 'SIGKILL'
        ? `SIGKILL ${leader}, the leader: it can neither renew nor release, so the others must wait for the Lease to expire`
        : `SIGTERM ${leader}, the leader: it stops leading, releases the Lease and exits; another replica takes over at once`,
    );
    const signalAt = nowMs();
    proc.signal(signal);
    this.record!.signals.push({ signal, target: leader, at: signalAt, purpose });
    const became = await this.nextLeader(since, [leader], timeoutMs, `a new leader after the ${signal}`);
    // The watch may deliver the takeover's Lease write a moment after the IPC message; what we
    // need (the old leader's last renew, or its release) was written before it.
    await this.view!.until(() => this.view!.current?.holderIdentity === became.identity, 2000);
    const anchorAt = signal === 'SIGKILL' ? this.view!.lastRenewMs(leader) : this.view!.releasedSince(signalAt - 1);
    const measurement: Measurement = { kind: purpose, from: leader, to: became.identity, signalAt, takeoverAt: became.at, anchorAt };
    this.record!.measurements.push(measurement);
    this.say(describeMeasurement(measurement, this.options.leaseDurationMs));
    return measurement;
  }

  /** SIGTERMs every live replica (those `which` selects) and waits for them to exit. */
  private async stopAll(purpose: SignalRecord['purpose'], which: (identity: string) => boolean = () => true): Promise<void> {
    const alive = this.processes.filter((p) => p.alive && which(p.identity));
    // One that already reported 'stopped' is exiting by itself (after a Ctrl-C reached it
    // directly); a signal now could only race its exit.
    const stopped = new Set(this.messages.filter((m) => m.type === 'stopped').map((m) => m.identity));
    for (const proc of alive) {
      if (stopped.has(proc.identity)) continue;
      if (proc.signal('SIGTERM')) this.record?.signals.push({ signal: 'SIGTERM', target: proc.identity, at: nowMs(), purpose });
    }
    // A replica needs at most the renew deadline to release; beyond that something is wrong.
    const bound = this.options.renewDeadlineMs + 5000;
    const exitedInTime = await Promise.all(alive.map((p) => p.waitForExit(bound)));
    const stuck = alive.filter((_, i) => !exitedInTime[i]);
    for (const proc of stuck) {
      this.say(`${proc.identity} did not exit within ${formatDuration(bound)} of SIGTERM: SIGKILL`);
      proc.signal('SIGKILL');
    }
    await Promise.all(stuck.map((p) => p.waitForExit(5000)));
  }

  private async showFinalLease(): Promise<void> {
    const { namespace, leaseName } = this.options;
    try {
      const { record } = recordFromLease(await this.client!.get(namespace, leaseName));
      this.timeline.line(
        nowMs(),
        'lease',
        record.holderIdentity === ''
          ? `at the end: holder empty (released), transitions ${record.leaseTransitions}`
          : `at the end: holder ${record.holderIdentity} (${this.options.coordinated ? 'named by the coordinator after the holder released' : 'not released!'}), transitions ${record.leaseTransitions}`,
      );
    } catch (err) {
      this.say(`could not read the Lease at the end: ${describeError(err)}`);
    }
  }

  private requestCounts(): string | undefined {
    if (!this.server) return undefined;
    return requestCountsLine(this.server.counters.snapshot('leases'), "replicas and this demo's own watch");
  }

  // -----------------------------------------------------------------------------------------
  // Messages, exits and waiting.

  private received(replica: ReplicaRecord, message: ReplicaMessage): void {
    if (message.type === 'ready') {
      replica.readyAt = message.at;
      replica.port = message.port;
      replica.pid = message.pid;
    } else if (message.type === 'event' && message.event === 'leader.became') {
      beginTerm(replica, message.at, message.token ?? 0);
    } else if (message.type === 'event' && message.event === 'leader.lost') {
      endTerm(replica, message.at, message.reason ?? 'lost');
    }
    const text = describeMessage(message);
    if (text !== undefined) this.timeline.line(message.at, replica.identity, text);
    this.messages.push(message);
    for (const waiter of [...this.waiters]) waiter(message);
  }

  private exited(replica: ReplicaRecord, exit: ExitInfo): void {
    const at = nowMs();
    replica.exitedAt = at;
    replica.exit = describeExit(exit);
    // A killed leader's term ends with the process (its Lease lingers: the picture shows that).
    endTerm(replica, at, replica.exit);
    this.timeline.line(at, replica.identity, exit.signal ? `process killed by ${exit.signal}` : `process exited with code ${exit.code ?? '?'}`);
  }

  private nextLeader(since: number, exclude: readonly string[], timeoutMs: number, what: string): Promise<BusEventMessage> {
    return this.waitFor(
      (m) => m.type === 'event' && m.event === 'leader.became' && !exclude.includes(m.identity),
      since,
      timeoutMs,
      what,
    ) as Promise<BusEventMessage>;
  }

  /** The first message from index `since` on that matches; rejects on timeout or interrupt. */
  private waitFor(predicate: (m: ReplicaMessage) => boolean, since: number, timeoutMs: number, what: string): Promise<ReplicaMessage> {
    const earlier = this.messages.slice(since).find(predicate);
    if (earlier) return Promise.resolve(earlier);
    return new Promise((resolve, reject) => {
      const waiter = (m: ReplicaMessage): void => {
        if (predicate(m)) finish(() => resolve(m));
      };
      const onAbort = (): void => finish(() => reject(new Interrupted()));
      const timer = setTimeout(() => finish(() => reject(new DemoFailed(`timed out after ${formatDuration(timeoutMs)} waiting for ${what}`))), timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        this.signal.removeEventListener('abort', onAbort);
        settle();
      };
      if (this.signal.aborted) return onAbort();
      this.signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Sleeps, unless interrupted. */
  private pause(ms: number): Promise<void> {
    return pause(ms, this.signal);
  }

  // -----------------------------------------------------------------------------------------
  // Cleanup and output.

  /** Leaves nothing behind: replicas exited (Lease released), watch closed, server closed, temp files gone. */
  private async cleanup(abnormal: boolean): Promise<void> {
    try {
      if (this.processes.some((p) => p.alive)) await this.stopAll('shutdown');
      if (abnormal && this.client && this.record) await this.showFinalLease();
    } finally {
      await this.prometheus?.stop();
      this.coordinator?.stop();
      await this.view?.stop();
      await this.server?.close();
      if (this.tmpDir) await rm(this.tmpDir, { recursive: true, force: true });
    }
  }

  private async writeSvg(record: DemoRecord): Promise<string | undefined> {
    if (record.replicas.length === 0) return undefined;
    try {
      await mkdir(dirname(this.options.svgPath), { recursive: true });
      await writeFile(this.options.svgPath, renderTimelineSvg(record));
      this.io.out(`timeline picture: ${this.options.svgPath} (open it in a browser)`);
      return this.options.svgPath;
    } catch (err) {
      this.io.err(`could not write the timeline picture to ${this.options.svgPath}: ${describeError(err)}`);
      return undefined;
    }
  }

  private emptyRecord(target: string): DemoRecord {
    const o = this.options;
    return {
      startedAt: this.startedAt,
      endedAt: this.startedAt,
      target,
      leaseName: o.leaseName,
      leaseNamespace: o.namespace,
      leaseDurationMs: o.leaseDurationMs,
      followerStrategy: o.followerStrategy,
      replicas: [],
      signals: [],
      measurements: [],
    };
  }

  private say(text: string): void {
    this.timeline.line(nowMs(), 'demo', text);
  }
}

/** Quotes a path for a POSIX shell when it needs it (temp dirs rarely do). */
export function shellQuote(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}
