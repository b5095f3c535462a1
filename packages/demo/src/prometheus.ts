/**
 * A real Prometheus server as a child process, scraping the replicas' `/metrics`: a temp dir
 * holds its configuration and TSDB, it listens on a free 127.0.0.1 port, and `stop()` ends it and
 * removes the dir. The query methods wrap its HTTP API (`/api/v1/query`, `query_range`, label
 * values, targets, rules). Used by `pnpm demo --prometheus` and by the real-Prometheus test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One replica to scrape: `pod` becomes the series' `pod` label, as Kubernetes discovery sets it. */
export interface ScrapeTarget {
  readonly pod: string;
  readonly port: number;
}

export interface PrometheusOptions {
  /** The `prometheus` executable. */
  readonly binary: string;
  readonly targets: readonly ScrapeTarget[];
  /** Scrape (and rule evaluation) interval. @default 1000 */
  readonly scrapeIntervalMs?: number;
  /** Rule files to load (absolute paths). */
  readonly ruleFiles?: readonly string[];
  /** The `job` label. @default 'leasekit' */
  readonly jobName?: string;
  /** How long to wait for the server to be ready. @default 30000 */
  readonly startTimeoutMs?: number;
}

/** One sample of an instant query. */
export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly atMs: number;
  /** NaN and ±Inf as Prometheus returns them. */
  readonly value: number;
}

/** One series of a range query. */
export interface Series {
  readonly labels: Readonly<Record<string, string>>;
  readonly points: readonly { readonly atMs: number; readonly value: number }[];
}

/** A scrape target as `/api/v1/targets` reports it. */
export interface TargetState {
  readonly labels: Readonly<Record<string, string>>;
  readonly health: 'up' | 'down' | 'unknown';
  readonly lastError: string;
}

/** A rule as `/api/v1/rules` reports it. */
export interface RuleState {
  readonly name: string;
  readonly type: 'alerting' | 'recording';
  readonly health: 'ok' | 'err' | 'unknown';
  readonly lastError: string;
  /** Alerting rules: `inactive`, `pending` or `firing`. */
  readonly state?: string;
}

/** Prometheus's answer to a bad query or a server that went away. */
export class PrometheusError extends Error {
  override readonly name = 'PrometheusError';
}

/** Tries another port when the one picked was taken in the meantime. */
const PORT_ATTEMPTS = 3;

/** Prometheus's duration syntax for a whole number of milliseconds (`1s`, `500ms`). */
export function promDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** The configuration file (JSON is YAML, so no YAML writer is needed). */
export function prometheusConfig(options: Omit<PrometheusOptions, 'binary'>): string {
  const interval = promDuration(options.scrapeIntervalMs ?? 1000);
  return `${JSON.stringify(
    {
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      rule_files: [...(options.ruleFiles ?? [])],
      scrape_configs: [
        {
          job_name: options.jobName ?? 'leasekit',
          static_configs: options.targets.map((t) => ({ targets: [`127.0.0.1:${t.port}`], labels: { pod: t.pod } })),
        },
      ],
    },
    null,
    2,
  )}\n`;
}

/** A port nobody listens on right now (a race remains, hence the retries in `start`). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function toNumber(raw: string): number {
  // Prometheus writes "NaN", "+Inf", "-Inf" and decimals as strings.
  return raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data: T;
  errorType?: string;
  error?: string;
}

/** A running Prometheus. */
export class PrometheusServer {
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  private constructor(
    /** `http://127.0.0.1:PORT` */
    readonly url: string,
    /** The temp dir with `prometheus.yml` and the TSDB (`data/`); removed by `stop()`. */
    readonly dir: string,
    private readonly child: ChildProcess,
    private readonly log: string[],
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        this.exit = { code: child.exitCode, signal: child.signalCode };
        resolve();
        return;
      }
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve();
      });
      // A binary that cannot be started reports 'error' and no 'exit'.
      child.once('error', () => {
        this.exit ??= { code: null, signal: null };
        resolve();
      });
    });
  }

  /** Starts Prometheus and resolves once it answers `/-/ready`; rejects with its log otherwise. */
  static async start(options: PrometheusOptions): Promise<PrometheusServer> {
    const dir = await mkdtemp(join(tmpdir(), 'leasekit-prometheus-'));
    try {
      const configFile = join(dir, 'prometheus.yml');
      await writeFile(configFile, prometheusConfig(options));
      let lastError: unknown;
      for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
        const port = await freePort();
        const server = PrometheusServer.spawn(options.binary, dir, configFile, port);
        try {
          await server.waitReady(options.startTimeoutMs ?? 30_000);
          return server;
        } catch (err) {
          lastError = err;
          await server.kill();
          if (!server.log.some((line) => /address already in use/i.test(line))) break;
        }
      }
      throw lastError;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private static spawn(binary: string, dir: string, configFile: string, port: number): PrometheusServer {
    const child = spawn(
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--storage.tsdb.retention.time=1d',
        '--log.level=warn',
      ],
      // Prometheus logs to stderr; kept (the last lines) for error messages.
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const log: string[] = [];
    let partial = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      log.push(...lines.filter((l) => l.trim() !== ''));
      if (log.length > 50) log.splice(0, log.length - 50);
    });
    child.once('error', (err) => log.push(`cannot start ${binary}: ${err.message}`));
    return new PrometheusServer(`http://127.0.0.1:${port}`, dir, child, log);
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Prometheus's last log lines (warnings and errors). */
  get logTail(): string {
    return this.log.slice(-10).join('\n');
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) break;
      try {
        const res = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1000) });
        await res.body?.cancel();
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(100);
    }
    const how = this.exit ? `exited (${this.exit.signal ?? `code ${this.exit.code ?? '?'}`})` : `not ready after ${timeoutMs} ms`;
    throw new PrometheusError(`prometheus ${how}${this.log.length > 0 ? `:\n${this.logTail}` : ''}`);
  }

  private async api<T>(path: string, params: Record<string, string | string[]>): Promise<T> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) query.append(key, v);
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}?${query.toString()}`, { signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      throw new PrometheusError(`${path}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const answer = (await res.json()) as ApiAnswer<T>;
    if (answer.status !== 'success') throw new PrometheusError(`${path} ${JSON.stringify(params)}: ${answer.errorType ?? ''} ${answer.error ?? ''}`.trim());
    return answer.data;
  }

  /** An instant query, at `atMs` (default now). A scalar result is one sample without labels. */
  async query(expr: string, atMs?: number): Promise<Sample[]> {
    const params: Record<string, string> = { query: expr };
    if (atMs !== undefined) params.time = (atMs / 1000).toString();
    const data = await this.api<{ resultType: string; result: unknown }>('/api/v1/query', params);
    if (data.resultType === 'scalar') {
      const [at, raw] = data.result as [number, string];
      return [{ labels: {}, atMs: at * 1000, value: toNumber(raw) }];
    }
    if (data.resultType !== 'vector') throw new PrometheusError(`${expr}: expected an instant vector, got ${data.resultType}`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map((r) => ({
      labels: r.metric,
      atMs: r.value[0] * 1000,
      value: toNumber(r.value[1]),
    }));
  }

  /** The raw samples of a range-vector selector (`metric{...}[60s]`) at `atMs`, with their scrape times. */
  async querySamples(expr: string, atMs: number): Promise<Series[]> {
    const data = await this.api<{ resultType: string; result: unknown }>('/api/v1/query', { query: expr, time: (atMs / 1000).toString() });
    if (data.resultType !== 'matrix') throw new PrometheusError(`${expr}: expected a range vector, got ${data.resultType}`);
    return (data.result as { metric: Record<string, string>; values: [number, string][] }[]).map((r) => ({
      labels: r.metric,
      points: r.values.map(([at, raw]) => ({ atMs: at * 1000, value: toNumber(raw) })),
    }));
  }

  /** A range query from `startMs` to `endMs`, one point every `stepMs`. */
  async queryRange(expr: string, startMs: number, endMs: number, stepMs: number): Promise<Series[]> {
    const data = await this.api<{ resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] }>('/api/v1/query_range', {
      query: expr,
      start: (startMs / 1000).toString(),
      end: (endMs / 1000).toString(),
      step: (stepMs / 1000).toString(),
    });
    return data.result.map((r) => ({ labels: r.metric, points: r.values.map(([at, raw]) => ({ atMs: at * 1000, value: toNumber(raw) })) }));
  }

  /** Values of `label` on the series matching `match` (what Grafana's `label_values()` lists). */
  labelValues(label: string, match: string): Promise<string[]> {
    return this.api<string[]>(`/api/v1/label/${encodeURIComponent(label)}/values`, { 'match[]': match });
  }

  /** The scrape targets and their health. */
  async targets(): Promise<TargetState[]> {
    const data = await this.api<{ activeTargets: { labels: Record<string, string>; health: TargetState['health']; lastError: string }[] }>('/api/v1/targets', {});
    return data.activeTargets.map((t) => ({ labels: t.labels, health: t.health, lastError: t.lastError }));
  }

  /** Every loaded rule with its evaluation health. */
  async rules(): Promise<RuleState[]> {
    const data = await this.api<{ groups: { rules: RuleState[] }[] }>('/api/v1/rules', {});
    return data.groups.flatMap((g) => g.rules.map((r) => ({ name: r.name, type: r.type, health: r.health, lastError: r.lastError ?? '', state: r.state })));
  }

  /** SIGTERM, then SIGKILL after `graceMs`, then removes the temp dir. Idempotent. */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      await this.kill(graceMs);
      await rm(this.dir, { recursive: true, force: true });
    })();
    return this.stopping;
  }

  private async kill(graceMs = 10_000): Promise<void> {
    if (this.running) this.child.kill('SIGTERM');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([
      this.exited.then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), graceMs);
      }),
    ]);
    clearTimeout(timer);
    if (late) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}
