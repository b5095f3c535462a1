/**
 * Leadership without election, for `enabled: false` (one replica, local development): leads
 * from `run()` until its signal aborts and never touches the API. It speaks the elector's
 * interface (callbacks, observer hooks, snapshot), so the component wires both the same way.
 */
import {
  LeaseKitError,
  type Clock,
  type ElectorObserver,
  type ElectorSnapshot,
  type LeaderCallbacks,
  type LeadershipTerm,
  type SafeLogger,
} from '@leasekit/k8s-leaderelection';
import { invoke, settleWithin } from '@leasekit/k8s-leaderelection/internal';

/** The identity announced when election is disabled (as in the Go original). */
export const STANDALONE_IDENTITY = 'standalone';

/**
 * The one standalone term: the elector's term shape (token 0), valid from the start of `run()`
 * until its signal aborts. `isValid` lives on the prototype, so the data props compare as before.
 */
class StandaloneTerm implements LeadershipTerm {
  readonly token: number = 0;
  readonly acquireTimeMs: number;
  readonly identity: string = STANDALONE_IDENTITY;
  readonly #current: (term: StandaloneTerm) => boolean;

  constructor(acquireTimeMs: number, current: (term: StandaloneTerm) => boolean) {
    this.acquireTimeMs = acquireTimeMs;
    this.#current = current;
  }

  /** True from the start of `run()` until its signal aborts (also inside that signal's abort listeners). */
  isValid(): boolean {
    return this.#current(this);
  }
}

/** What {@link Standalone} needs. */
export interface StandaloneOptions {
  readonly name: string;
  readonly clock: Clock;
  readonly callbacks: LeaderCallbacks;
  readonly observer: ElectorObserver;
  readonly log: SafeLogger;
  /** How long `run()` waits for onStoppedLeading before it resolves anyway. */
  readonly onStoppedLeadingTimeoutMs: number;
}

/** The elector's stand-in when election is disabled. */
export class Standalone {
  private running = false;
  private term: LeadershipTerm | undefined;

  constructor(private readonly options: StandaloneOptions) {}

  /** True from the start of `run()` until its signal aborts. */
  isLeader(): boolean {
    return this.term !== undefined;
  }

  /** `standalone` while leading, else ''. */
  getLeader(): string {
    return this.term ? STANDALONE_IDENTITY : '';
  }

  /** The one term (token 0) while leading. */
  getTerm(): LeadershipTerm | undefined {
    return this.term;
  }

  /** Never unhealthy: there is no lease to fall behind on. */
  check(): Error | undefined {
    return undefined;
  }

  /** Nobody else could take over, so resigning is a no-op. */
  resign(): Promise<void> {
    return Promise.resolve();
  }

  /** The elector's snapshot shape, with nothing observed and no guarantee deadline. */
  snapshot(): ElectorSnapshot {
    return {
      identity: STANDALONE_IDENTITY,
      name: this.options.name,
      isLeader: this.isLeader(),
      leader: this.getLeader(),
      term: this.term,
      guaranteedUntilMs: undefined,
      running: this.running,
      slowPathCount: 0,
      observedRecord: undefined,
    };
  }

  /**
   * Leads until `signal` aborts, then stops the leader's work in the elector's order: leadership
   * signal first, then onStoppedLeading (awaited, bounded). Resolves at once if already aborted.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.running) throw new LeaseKitError('ALREADY_RUNNING', `leader election for ${this.options.name} is already running`);
    this.running = true;
    const { callbacks, observer, clock, log } = this.options;
    try {
      if (signal.aborted) return;
      log.info('Leader election disabled: leading as standalone');
      const term = new StandaloneTerm(clock.wallNow(), (t) => this.term === t && !signal.aborted);
      const leadership = new AbortController();
      this.term = term;
      invoke(log, 'observer onAcquired', () => observer.onAcquired?.({ token: 0 }));
      invoke(log, 'onStartedLeading', () => callbacks.onStartedLeading?.(leadership.signal, term));

      // No timer here: an aborted signal is the only way on, so nothing keeps the process alive.
      // (A listener may have aborted it already, from inside the events just published.)
      if (!signal.aborted) await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

      this.term = undefined;
      leadership.abort(new LeaseKitError('LEADERSHIP_LOST', 'leadership ended: released'));
      invoke(log, 'observer onLeadershipEnded', () => observer.onLeadershipEnded?.({ reason: 'released', heldMs: clock.wallNow() - term.acquireTimeMs }));
      const timeoutMs = this.options.onStoppedLeadingTimeoutMs;
      const inTime = await settleWithin(clock, log, () => callbacks.onStoppedLeading?.({ reason: 'released', term }), timeoutMs, 'onStoppedLeading');
      if (!inTime) log.warn('onStoppedLeading did not settle in time', { timeoutMs });
    } finally {
      this.term = undefined;
      this.running = false;
    }
  }
}
