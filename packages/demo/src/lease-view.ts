/**
 * The demo's own view of the Lease, from a watch through the API, the way `kubectl get lease -w`
 * sees it. It reports holder and transition changes for the timeline and remembers the last
 * renewTime each holder wrote: a SIGKILLed leader cannot say when it last renewed, but the Lease can.
 */
import type { LeaderElectionRecord, Lease, LeaseClient } from '@leasekit/k8s-leaderelection';
import { recordFromLease } from '@leasekit/k8s-leaderelection/internal';
import { nowMs } from './protocol.js';

/** A change of holder, transitions or preferredHolder, as seen by the watch. */
export interface LeaseChange {
  readonly record: LeaderElectionRecord;
  readonly previous: LeaderElectionRecord | undefined;
  /** When the watch delivered it. */
  readonly at: number;
  /** The `leasekit.io/handover-from` annotation: a directed handover's write names who handed over. */
  readonly handoverFrom?: string;
}

/** The annotation a directed handover (`resign({ to })`, `handoverTo`) writes. */
export const HANDOVER_FROM_ANNOTATION = 'leasekit.io/handover-from';

/** Watches one Lease until stopped, reconnecting when the stream ends. */
export class LeaseView {
  private record: LeaderElectionRecord | undefined;
  private readonly lastRenew = new Map<string, number>();
  private readonly renewCount = new Map<string, number>();
  /** Release writes seen: the renewTime written with the empty holder. */
  private readonly releases: number[] = [];
  private readonly waiters = new Set<() => void>();
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;

  constructor(
    private readonly client: LeaseClient,
    private readonly namespace: string,
    private readonly name: string,
    private readonly onChange: (change: LeaseChange) => void,
  ) {}

  /** The last record seen (undefined before the first event). */
  get current(): LeaderElectionRecord | undefined {
    return this.record;
  }

  /** The last renewTime (epoch ms) written while `holder` held the Lease. */
  lastRenewMs(holder: string): number | undefined {
    return this.lastRenew.get(holder);
  }

  /** How many writes by `holder` the watch delivered (acquisition and renewals). */
  writesBy(holder: string): number {
    return this.renewCount.get(holder) ?? 0;
  }

  /** The first release written at or after `sinceMs`, if the watch delivered one. */
  releasedSince(sinceMs: number): number | undefined {
    return this.releases.find((at) => at >= sinceMs);
  }

  /** Starts watching; resolves once the first state has arrived (or after `timeoutMs`). */
  async start(timeoutMs: number): Promise<void> {
    this.loop ??= this.watchLoop(this.stopper.signal);
    await this.until(() => this.record !== undefined, timeoutMs);
  }

  /** Resolves when `predicate` holds (checked on every event) or after `timeoutMs`; true if it held. */
  until(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!predicate()) return;
        done(true);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (held: boolean): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(held);
      };
      this.waiters.add(check);
    });
  }

  /** Stops watching and waits for the stream to close. */
  async stop(): Promise<void> {
    this.stopper.abort();
    await this.loop;
  }

  private async watchLoop(signal: AbortSignal): Promise<void> {
    let resumeFrom: string | undefined;
    // Bounded by the signal: the demo stops the view before it exits.
    while (!signal.aborted) {
      try {
        await this.client.watch!(this.namespace, this.name, {
          signal,
          ...(resumeFrom !== undefined ? { resourceVersion: resumeFrom } : {}),
          onEvent: (event) => {
            const object = event.object as Lease & { code?: number };
            if (event.type === 'ERROR') {
              if (object.code === 410) resumeFrom = undefined; // compacted: start from the current state
              return;
            }
            if (object.metadata?.resourceVersion) resumeFrom = object.metadata.resourceVersion;
            if (event.type === 'ADDED' || event.type === 'MODIFIED') this.observe(object);
          },
        });
      } catch {
        // The stream could not open (server gone, network): try again below.
      }
      if (!signal.aborted) await pause(250, signal);
    }
  }

  private observe(lease: Lease): void {
    const { record } = recordFromLease(lease);
    const previous = this.record;
    this.record = record;
    const holder = record.holderIdentity;
    if (holder !== '' && record.renewTimeMs !== null) {
      this.lastRenew.set(holder, record.renewTimeMs);
      this.renewCount.set(holder, (this.renewCount.get(holder) ?? 0) + 1);
    }
    if (holder === '' && previous !== undefined && previous.holderIdentity !== '' && record.renewTimeMs !== null) {
      this.releases.push(record.renewTimeMs);
    }
    if (!previous || previous.holderIdentity !== holder || previous.leaseTransitions !== record.leaseTransitions || previous.preferredHolder !== record.preferredHolder) {
      const handoverFrom = lease.metadata?.annotations?.[HANDOVER_FROM_ANNOTATION];
      this.onChange({ record, previous, at: nowMs(), ...(handoverFrom ? { handoverFrom } : {}) });
    }
    for (const check of [...this.waiters]) check();
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
