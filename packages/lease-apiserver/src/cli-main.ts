/**
 * The CLI as a function: parse flags, start the server, apply faults, write the kubeconfig, then
 * serve until `signal` aborts and close cleanly. The executable (`cli.ts`) only wires process
 * signals to `signal`; tests call this directly.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TimerHandle } from '@leasekit/k8s-leaderelection';
import { systemClock } from '@leasekit/k8s-leaderelection/internal';
import { CliUsageError, USAGE, parseCliArgs, type CliFault } from './cli-args.js';
import type { Faults } from './faults.js';
import { startLeaseApiServer, type RequestRecord } from './server.js';

/** Where the CLI writes its lines. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

/** Applies one fault from the command line; returns a timer to clear for delayed partitions. */
function applyFault(faults: Faults, spec: CliFault): TimerHandle | undefined {
  switch (spec.kind) {
    case 'latency':
      faults.addLatency(spec.fault);
      return undefined;
    case 'error':
      faults.addError(spec.fault);
      return undefined;
    case 'hang':
      faults.addHang(spec.fault);
      return undefined;
    case 'drop-response':
      faults.addDropResponse(spec.fault);
      return undefined;
    case 'watch-lifetime':
      faults.setWatchLifetime(spec.lifetime);
      return undefined;
    case 'partition':
      if (spec.afterMs === 0) {
        faults.partition(spec.fault);
        return undefined;
      }
      return systemClock.setTimeout(() => faults.partition(spec.fault), spec.afterMs);
  }
}

function requestLine(record: RequestRecord): string {
  const status = record.statusCode === 0 ? 'no answer' : String(record.statusCode);
  const fault = record.fault ? ` [${record.fault}]` : '';
  return `${record.method} ${record.url} -> ${status} (${Math.round(record.durationMs)} ms)${fault}`;
}

/**
 * Runs the server until `signal` aborts. Resolves to the exit code: 0 after a clean close, 2 for
 * a usage error, 1 when the server cannot start.
 */
export async function runCli(argv: readonly string[], io: CliIo, signal: AbortSignal): Promise<number> {
  let options;
  try {
    options = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof CliUsageError)) throw err;
    io.err(`lease-apiserver: ${err.message}`);
    io.err('Run lease-apiserver --help for usage.');
    return 2;
  }
  if (options.help) {
    io.out(USAGE);
    return 0;
  }

  let server;
  try {
    server = await startLeaseApiServer({
      host: options.host,
      port: options.port,
      allowNonLoopback: options.allowRemote,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.maxBodyBytes !== undefined ? { maxBodyBytes: options.maxBodyBytes } : {}),
      ...(options.historyLimit !== undefined ? { historyLimit: options.historyLimit } : {}),
      ...(options.coordinated
        ? { coordinator: options.electionDurationMs !== undefined ? { electionDurationMs: options.electionDurationMs, requeueIntervalMs: options.electionDurationMs } : true }
        : {}),
      ...(options.logRequests ? { onRequest: (record: RequestRecord) => io.out(requestLine(record)) } : {}),
    });
  } catch (err) {
    io.err(`lease-apiserver: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }

  const timers: TimerHandle[] = [];
  const ownKubeconfig = options.kubeconfigOut === undefined;
  const kubeconfigPath = options.kubeconfigOut ?? join(tmpdir(), `lease-apiserver-${server.port}.kubeconfig`);
  try {
    for (const spec of options.faults) {
      const timer = applyFault(server.faults, spec);
      if (timer) timers.push(timer);
    }
    await server.writeKubeconfig(kubeconfigPath);
    io.out(`lease-apiserver listening on ${server.url}`);
    io.out(`kubeconfig: ${kubeconfigPath}`);
    io.out(`  try: kubectl --kubeconfig ${kubeconfigPath} get leases`);
    if (options.coordinated) io.out(`coordinated leader election: on (kubectl --kubeconfig ${kubeconfigPath} get leasecandidates)`);
    for (const fault of server.faults.describe()) io.out(`fault: ${fault.kind}: ${fault.description}`);
    for (const spec of options.faults) {
      if (spec.kind === 'partition' && spec.afterMs > 0) io.out(`fault: partition scheduled ${spec.afterMs} ms after start for ${spec.fault.durationMs} ms`);
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    return 0;
  } catch (err) {
    io.err(`lease-apiserver: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    for (const timer of timers) systemClock.clearTimeout(timer);
    await server.close();
    if (ownKubeconfig) await rm(kubeconfigPath, { force: true });
    io.out('lease-apiserver closed');
  }
}
