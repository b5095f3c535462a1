/**
 * Owns handover on shutdown (`handoverOnShutdown: 'newest'`): runs the replica's membership beside
 * the elector and, when the caller's signal aborts while this replica leads, hands the lease to
 * the newest live member before the elector stops; releases as usual when there is none or the
 * list fails. Then leaves the membership.
 */
import type { Membership, ResignOptions, SafeLogger } from '@leasekit/k8s-leaderelection';
import { describeError } from '@leasekit/k8s-leaderelection/internal';

/** What the shutdown handover drives: the elector. */
export interface HandoverEngine {
  isLeader(): boolean;
  run(signal: AbortSignal): Promise<void>;
  resign(options?: ResignOptions): Promise<void>;
}

export class ShutdownHandover {
  constructor(
    private readonly membership: Membership,
    private readonly identity: string,
    private readonly log: SafeLogger,
  ) {}

  /**
   * Runs `engine` and the membership until `signal` aborts. On the abort, while leading: hand over
   * to `newest(self)` (bounded by the membership's request timeout), then stop the engine, which
   * then has no lease to release; otherwise stop it at once (it releases as usual). Resolves once
   * the engine stopped and the membership was left (bounded). With `signal` already aborted it
   * never joins the membership. Never rejects for API failures.
   */
  async run(engine: HandoverEngine, signal: AbortSignal): Promise<void> {
    const engineStop = new AbortController();
    const membershipStop = new AbortController();
    // Already aborted: do not join (a membership written now would be a live member, a handover
    // target, of a replica that is going away); Membership.run then sends nothing.
    if (signal.aborted) membershipStop.abort();
    const membershipDone = this.membership.run(membershipStop.signal).catch((err: unknown) => {
      this.log.error('Membership failed', { error: describeError(err) });
    });
    let shutdown: Promise<void> | undefined;
    const onAbort = (): void => {
      shutdown ??= this.shutdown(engine, engineStop);
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    try {
      await engine.run(engineStop.signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
      engineStop.abort();
      await shutdown;
      membershipStop.abort();
      await membershipDone;
    }
  }

  /** Hands over when leading and a target exists; always stops the engine at the end. */
  private async shutdown(engine: HandoverEngine, engineStop: AbortController): Promise<void> {
    try {
      if (!engine.isLeader()) return;
      const target = await this.pickTarget();
      if (target === undefined) return;
      this.log.info('Shutting down: handing the lease over to the newest live member', { to: target });
      await engine.resign({ to: target });
    } catch (err) {
      this.log.warn('Handover on shutdown failed; releasing instead', { error: describeError(err) });
    } finally {
      engineStop.abort();
    }
  }

  /** The newest live member other than this replica; undefined (release) when none or the list failed. */
  private async pickTarget(): Promise<string | undefined> {
    try {
      const newest = await this.membership.newest(this.identity);
      if (newest === undefined) this.log.info('Shutting down: no other live member; releasing the lease');
      return newest?.identity;
    } catch (err) {
      this.log.warn('Shutting down: could not list the members; releasing the lease instead', { error: describeError(err) });
      return undefined;
    }
  }
}
