/**
 * A liveness endpoint with client-go's semantics: unhealthy only when this replica believes it
 * leads but has not renewed for longer than the lease duration plus a tolerance (it is wedged,
 * and a restart hands leadership over). Followers and a healthy leader answer 200.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ConfigError } from '@leasekit/k8s-leaderelection';

/** The control plane's tolerance (kube-controller-manager and kube-scheduler use 20 s). */
export const DEFAULT_HEALTH_TOLERANCE_MS = 20_000;

/** Anything with the elector's `check(toleranceMs)`: the component, or a pure `Elector`. */
export interface HealthCheckable {
  check(toleranceMs?: number): Error | undefined;
}

/** Options for {@link createHealthHandler}. */
export interface HealthHandlerOptions {
  /**
   * How long past the lease duration a leader may go without renewing before it is reported
   * unhealthy. Keep it above the renew deadline's worth of retries, so a slow API server does not
   * get the leader restarted.
   * @default 20000
   */
  readonly toleranceMs?: number;
}

/** A node:http request handler. */
export type HealthHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * A node:http handler answering `200 ok`, or `500` with the check's error message. It answers
 * every request it is given: mount it on your `/healthz` route, or pass it to
 * `http.createServer` for a server that does nothing else. HEAD gets the status without a body.
 */
export function createHealthHandler(target: HealthCheckable, options: HealthHandlerOptions = {}): HealthHandler {
  const toleranceMs = options.toleranceMs ?? DEFAULT_HEALTH_TOLERANCE_MS;
  if (!(typeof toleranceMs === 'number' && toleranceMs >= 0 && Number.isFinite(toleranceMs))) {
    throw new ConfigError('OPTION_INVALID', 'toleranceMs', `toleranceMs (${String(toleranceMs)}) must be a finite number >= 0`);
  }
  return (req, res) => {
    let problem: Error | undefined;
    try {
      problem = target.check(toleranceMs);
    } catch (err) {
      // A check that cannot even run is as bad as a failing one: let the kubelet decide.
      problem = err instanceof Error ? err : new Error(String(err));
    }
    const body = problem ? problem.message : 'ok';
    res.writeHead(problem ? 500 : 200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
