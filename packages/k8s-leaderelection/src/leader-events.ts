/** Owns the Kubernetes Events a replica records on its Lease (became leader, stopped leading): background, bounded, failures only logged. */
import type { Clock } from './clock.js';
import type { ResolvedConfig } from './config.js';
import { describeError } from './errors.js';
import type { LeaseClient } from './lease.js';
import type { SafeLogger } from './logger.js';
import { boundedSignal, raceAbort } from './request.js';

export type LeaderEventAction = 'became leader' | 'stopped leading';

export interface LeaderEventsOptions {
  readonly client: LeaseClient;
  readonly config: Pick<ResolvedConfig, 'recordEvents' | 'renewDeadlineMs' | 'leaseNamespace' | 'leaseName' | 'identity'>;
  readonly clock: Clock;
  readonly log: SafeLogger;
}

/** Events are sent without waiting for them; {@link LeaderEvents.settled} awaits those in flight (run() does, before it resolves). */
export class LeaderEvents {
  private readonly pending = new Set<Promise<unknown>>();

  constructor(private readonly options: LeaderEventsOptions) {}

  /**
   * Records `action` on the Lease `leaseUid` (when `recordEvents` is on and the client can),
   * without waiting: the request is bounded by the renew deadline and a failure is logged.
   */
  record(action: LeaderEventAction, leaseUid: string | undefined): void {
    const { client, config, clock, log } = this.options;
    if (!config.recordEvents || !client.recordEvent) return;
    const recordEvent = client.recordEvent.bind(client);
    const bounded = boundedSignal(clock, config.renewDeadlineMs);
    const pending = raceAbort(
      Promise.resolve().then(() =>
        recordEvent(
          {
            namespace: config.leaseNamespace,
            leaseName: config.leaseName,
            ...(leaseUid !== undefined ? { leaseUid } : {}),
            type: 'Normal',
            reason: 'LeaderElection',
            message: `${config.identity} ${action}`,
            reportingInstance: config.identity,
            timeMs: clock.wallNow(),
          },
          { signal: bounded.signal },
        ),
      ),
      bounded.signal,
    )
      .catch((err: unknown) => log.warn('Could not record a leader election event', { error: describeError(err) }))
      .finally(() => {
        bounded.dispose();
        this.pending.delete(pending);
      });
    this.pending.add(pending);
  }

  /** Settles once every event sent so far has been recorded or given up on. */
  settled(): Promise<unknown> {
    return Promise.allSettled([...this.pending]);
  }
}
