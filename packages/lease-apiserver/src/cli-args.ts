/**
 * The CLI's flags, parsed into plain options and fault rules without touching the server, so the
 * grammar is tested on its own. Fault flags are repeatable; each maps to one `faults.add*` call.
 */
import { parseArgs } from 'node:util';
import type { ClientMatcher } from './client-matcher.js';
import type { DropResponseFault, Duration, ErrorFault, HangFault, LatencyFault, PartitionFault, WatchLifetime } from './faults.js';
import { isVerb, type Verb } from './verbs.js';

/** One fault rule from the command line. */
export type CliFault =
  | { readonly kind: 'latency'; readonly fault: LatencyFault }
  | { readonly kind: 'error'; readonly fault: ErrorFault }
  | { readonly kind: 'hang'; readonly fault: HangFault }
  | { readonly kind: 'drop-response'; readonly fault: DropResponseFault }
  | { readonly kind: 'partition'; readonly fault: PartitionFault; readonly afterMs: number }
  | { readonly kind: 'watch-lifetime'; readonly lifetime: WatchLifetime };

/** Everything the command line asks for. */
export interface CliOptions {
  readonly host: string;
  readonly port: number;
  readonly allowRemote: boolean;
  /** Where to write the kubeconfig; undefined: a file in the temp directory, removed on exit. */
  readonly kubeconfigOut: string | undefined;
  readonly seed: number | undefined;
  readonly maxBodyBytes: number | undefined;
  readonly historyLimit: number | undefined;
  readonly logRequests: boolean;
  /** Run the coordinated-leader-election coordinator. */
  readonly coordinated: boolean;
  /** The coordinator's election duration and requeue interval (ms); undefined: 5000, the real one's. */
  readonly electionDurationMs: number | undefined;
  readonly help: boolean;
  readonly faults: readonly CliFault[];
}

/** A command line that cannot be understood; the message says which flag and why. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/** The `--help` text. */
export const USAGE = `Usage: lease-apiserver [options]

A Kubernetes API server for coordination.k8s.io/v1 Leases, coordination.k8s.io/v1beta1
LeaseCandidates (and Events), in memory, over plain HTTP, for demos, tests and benchmarks. Runs
until SIGINT or SIGTERM.

Options:
  --host HOST                  address to bind (default 127.0.0.1; loopback only unless --allow-remote)
  --port PORT                  port to bind (default 0: any free port)
  --allow-remote               allow a non-loopback --host (no authentication: anyone reaching it can take any Lease)
  --kubeconfig-out FILE        write a kubeconfig for the server here (default: a temp file, removed on exit)
  --seed N                     seed the randomness of fault rates and ranges (reproducible runs)
  --max-body-bytes N           answer 413 beyond this body size (default 3145728)
  --history-limit N            watch events kept for resuming; older resourceVersions get 410 (default 1000)
  --log-requests               print one line per request
  --coordinated-leader-election
                               run the coordinator: elects a holder for each Lease with LeaseCandidates
                               (strategy OldestEmulationVersion), as kube-apiserver does with the
                               CoordinatedLeaderElection feature
  --election-duration MS       the coordinator's ping wait and requeue interval (default 5000)
  -h, --help                   show this help
  --version                    print the package version and exit

Faults (repeatable; VERBS is a comma list of get,list,watch,create,update,patch,delete,deletecollection or *):
  --latency [VERBS:]MS[-MAX]           add latency, fixed or uniform in a range      e.g. 50, 20-80, update:100
  --error-rate VERBS:RATE:CODE         answer HTTP CODE with probability RATE         e.g. update:0.1:503
  --hang-rate VERBS:RATE               never answer, with probability RATE           e.g. get:0.05
  --drop-response-rate VERBS:RATE[:reset]
                                       commit the write, then lose the response       e.g. update:0.2
  --cut-watches-after MS[-MAX]         end every watch stream after this long         e.g. 5000, 2000-8000
  --partition CLIENT:FOR_MS[:AFTER_MS] cut a client off for FOR_MS, starting AFTER_MS after start
                                       CLIENT is ua=TEXT, token=TOKEN or header=NAME=VALUE
                                                                                      e.g. ua=elector-b:5000:10000
`;

function integer(flag: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = Number(raw);
  if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
    throw new CliUsageError(`${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function rate(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !(value >= 0 && value <= 1)) throw new CliUsageError(`${flag}: RATE must be a number from 0 to 1, got ${JSON.stringify(raw)}`);
  return value;
}

function verbs(flag: string, raw: string): { verbs?: readonly Verb[] } {
  if (raw === '*' || raw === '') return {};
  const list = raw.split(',').map((v) => v.trim());
  for (const verb of list) if (!isVerb(verb)) throw new CliUsageError(`${flag}: unknown verb ${JSON.stringify(verb)}`);
  return { verbs: list as Verb[] };
}

function duration(flag: string, raw: string): Duration {
  const match = /^(\d+)(?:-(\d+))?$/.exec(raw.trim());
  if (!match) throw new CliUsageError(`${flag}: expected MS or MIN-MAX in milliseconds, got ${JSON.stringify(raw)}`);
  const min = Number(match[1]);
  if (match[2] === undefined) return { ms: min };
  const max = Number(match[2]);
  if (max < min) throw new CliUsageError(`${flag}: range ${raw} has MAX below MIN`);
  return { minMs: min, maxMs: max };
}

function client(flag: string, raw: string): ClientMatcher {
  const eq = raw.indexOf('=');
  const kind = raw.slice(0, eq);
  const value = raw.slice(eq + 1);
  if (eq > 0 && value !== '') {
    if (kind === 'ua') return { userAgent: value };
    if (kind === 'token') return { token: value };
    if (kind === 'header') {
      const sep = value.indexOf('=');
      if (sep > 0) return { header: { name: value.slice(0, sep), value: value.slice(sep + 1) } };
    }
  }
  throw new CliUsageError(`${flag}: CLIENT must be ua=TEXT, token=TOKEN or header=NAME=VALUE, got ${JSON.stringify(raw)}`);
}

/** Splits `A:B:C` into at most `count` parts from the left; the last part keeps any further colons. */
function fields(flag: string, raw: string, min: number, max: number): string[] {
  const parts = raw.split(':');
  if (parts.length < min || parts.length > max) throw new CliUsageError(`${flag}: cannot read ${JSON.stringify(raw)}; see --help`);
  return parts;
}

function latencyFault(raw: string): CliFault {
  const colon = raw.lastIndexOf(':');
  const scope = colon < 0 ? {} : verbs('--latency', raw.slice(0, colon));
  return { kind: 'latency', fault: { ...scope, ...duration('--latency', raw.slice(colon + 1)) } };
}

function errorFault(raw: string): CliFault {
  const [v = '', r = '', code = ''] = fields('--error-rate', raw, 3, 3);
  return { kind: 'error', fault: { ...verbs('--error-rate', v), rate: rate('--error-rate', r), code: integer('--error-rate CODE', code, 400, 599) } };
}

function hangFault(raw: string): CliFault {
  const [v = '', r = ''] = fields('--hang-rate', raw, 2, 2);
  return { kind: 'hang', fault: { ...verbs('--hang-rate', v), rate: rate('--hang-rate', r) } };
}

function dropFault(raw: string): CliFault {
  const [v = '', r = '', mode] = fields('--drop-response-rate', raw, 2, 3);
  if (mode !== undefined && mode !== 'reset' && mode !== 'hang') throw new CliUsageError(`--drop-response-rate: mode must be hang or reset, got ${JSON.stringify(mode)}`);
  const scope = v === '*' ? {} : verbs('--drop-response-rate', v);
  return { kind: 'drop-response', fault: { ...scope, rate: rate('--drop-response-rate', r), ...(mode ? { mode } : {}) } };
}

function partitionFault(raw: string): CliFault {
  // The client text may contain colons; the one or two numbers at the end are the times.
  const parts = raw.split(':');
  const numbers: string[] = [];
  while (numbers.length < 2 && parts.length > 1 && /^\d+$/.test(parts[parts.length - 1]!)) numbers.unshift(parts.pop()!);
  if (numbers.length === 0) throw new CliUsageError(`--partition: expected CLIENT:FOR_MS[:AFTER_MS], got ${JSON.stringify(raw)}`);
  const [forMs, afterMs = '0'] = numbers as [string, string?];
  return {
    kind: 'partition',
    fault: { client: client('--partition', parts.join(':')), durationMs: integer('--partition FOR_MS', forMs, 0) },
    afterMs: integer('--partition AFTER_MS', afterMs, 0),
  };
}

/** Parses the command line (without `node` and the script). Throws {@link CliUsageError}. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        'allow-remote': { type: 'boolean' },
        'kubeconfig-out': { type: 'string' },
        seed: { type: 'string' },
        'max-body-bytes': { type: 'string' },
        'history-limit': { type: 'string' },
        'log-requests': { type: 'boolean' },
        'coordinated-leader-election': { type: 'boolean' },
        'election-duration': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        latency: { type: 'string', multiple: true },
        'error-rate': { type: 'string', multiple: true },
        'hang-rate': { type: 'string', multiple: true },
        'drop-response-rate': { type: 'string', multiple: true },
        'cut-watches-after': { type: 'string' },
        partition: { type: 'string', multiple: true },
      },
    });
  } catch (err) {
    throw new CliUsageError(err instanceof Error ? err.message : String(err));
  }
  const v = parsed.values;
  const faults: CliFault[] = [
    ...(v.latency ?? []).map(latencyFault),
    ...(v['error-rate'] ?? []).map(errorFault),
    ...(v['hang-rate'] ?? []).map(hangFault),
    ...(v['drop-response-rate'] ?? []).map(dropFault),
    ...(v.partition ?? []).map(partitionFault),
  ];
  if (v['election-duration'] !== undefined && !v['coordinated-leader-election']) {
    throw new CliUsageError('--election-duration: only with --coordinated-leader-election');
  }
  if (v['cut-watches-after'] !== undefined) faults.push({ kind: 'watch-lifetime', lifetime: duration('--cut-watches-after', v['cut-watches-after']) });
  return {
    host: v.host ?? '127.0.0.1',
    port: v.port === undefined ? 0 : integer('--port', v.port, 0, 65535),
    allowRemote: v['allow-remote'] ?? false,
    kubeconfigOut: v['kubeconfig-out'],
    seed: v.seed === undefined ? undefined : integer('--seed', v.seed, 0, 2 ** 32 - 1),
    maxBodyBytes: v['max-body-bytes'] === undefined ? undefined : integer('--max-body-bytes', v['max-body-bytes'], 1),
    historyLimit: v['history-limit'] === undefined ? undefined : integer('--history-limit', v['history-limit'], 1),
    logRequests: v['log-requests'] ?? false,
    coordinated: v['coordinated-leader-election'] ?? false,
    electionDurationMs: v['election-duration'] === undefined ? undefined : integer('--election-duration', v['election-duration'], 1),
    help: v.help ?? false,
    faults,
  };
}
