/**
 * What `kubectl get <resource> -n NS` prints, for the coordinated scene: kubectl itself when it is
 * on PATH (run against the demo's kubeconfig with a throwaway cache dir), else the same server-side
 * Table (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, what kubectl asks for) fetched
 * from the server and laid out in kubectl's columns.
 */
import { execFile } from 'node:child_process';
import { findExecutable } from './prometheus-tools.js';

/** Where the tables come from. */
export interface TableSource {
  /** The kubeconfig the replicas use. */
  readonly kubeconfigPath: string;
  /** kubectl's discovery cache (a temp dir the demo removes). */
  readonly cacheDir: string;
  /** The API server's URL, for the fallback. */
  readonly serverUrl: string;
  readonly namespace: string;
}

/** A resource's path under the server, for the fallback. */
const PATHS: Record<'leases' | 'leasecandidates', string> = {
  leases: '/apis/coordination.k8s.io/v1/namespaces/NS/leases',
  leasecandidates: '/apis/coordination.k8s.io/v1beta1/namespaces/NS/leasecandidates',
};

/** The heading line and the table's lines for each resource, in order. */
export async function resourceTables(source: TableSource, resources: readonly ('leases' | 'leasecandidates')[], env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const kubectl = findExecutable('kubectl', env);
  const lines: string[] = [];
  if (kubectl === undefined) lines.push('kubectl was not found on PATH: the same Tables, as the server serves them to kubectl');
  for (const resource of resources) {
    if (kubectl !== undefined) {
      const args = ['--kubeconfig', source.kubeconfigPath, '--cache-dir', source.cacheDir, 'get', resource, '-n', source.namespace];
      lines.push(`$ kubectl ${args.join(' ')}`);
      lines.push(...(await runKubectl(kubectl, args)));
    } else {
      lines.push(`GET ${PATHS[resource].replace('NS', source.namespace)} (as=Table)`);
      lines.push(...(await fetchTable(source, resource)));
    }
  }
  return lines;
}

function runKubectl(kubectl: string, args: string[]): Promise<string[]> {
  return new Promise((resolve) => {
    execFile(kubectl, args, { timeout: 15_000 }, (err, stdout, stderr) => {
      const out = `${stdout}${stderr}`.split('\n').filter((l) => l !== '');
      resolve(err ? [...out, `(kubectl failed: ${err.message.split('\n')[0]})`] : out);
    });
  });
}

interface Table {
  columnDefinitions?: { name: string; priority?: number }[];
  rows?: { cells: unknown[] }[];
}

async function fetchTable(source: TableSource, resource: 'leases' | 'leasecandidates'): Promise<string[]> {
  try {
    const res = await fetch(`${source.serverUrl}${PATHS[resource].replace('NS', source.namespace)}`, {
      headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) return [`(the server answered ${res.status})`];
    return formatTable((await res.json()) as Table);
  } catch (err) {
    return [`(could not read the table: ${err instanceof Error ? err.message : String(err)})`];
  }
}

/** Lays a Table out the way kubectl does: upper-case headers, priority-0 columns, 3 spaces apart. */
export function formatTable(table: Table): string[] {
  const columns = (table.columnDefinitions ?? []).map((c, i) => ({ ...c, i })).filter((c) => (c.priority ?? 0) === 0);
  const rows = (table.rows ?? []).map((r) => columns.map((c) => String(r.cells[c.i] ?? '')));
  if (rows.length === 0) return ['No resources found.'];
  const grid = [columns.map((c) => c.name.toUpperCase()), ...rows];
  const widths = columns.map((_, i) => Math.max(...grid.map((row) => row[i]!.length)));
  return grid.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 3))).join('').trimEnd());
}
