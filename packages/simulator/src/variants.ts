/**
 * Deliberately unsafe electors, for proving that the simulator catches real bugs. Each overrides
 * one of the Elector's protected steps the way a plausible bug would. Never use them for anything
 * but tests and sweeps.
 */
import { Elector, type ElectorConfig, type LeaderCallbacks, type LeaderElectionRecord, type LeadershipTerm, type Logger, type Observation } from '@leasekit/k8s-leaderelection';

/**
 * Keeps claiming leadership while renewals fail: no guarantee deadline, no renew deadline (the
 * classic "leader does not notice it lost the lease" bug).
 */
export class IgnoresRenewDeadlineElector extends Elector {
  protected override guaranteeUntil(): number {
    return Infinity;
  }

  protected override renewRoundDeadline(): number {
    return Infinity;
  }
}

/**
 * Judges expiry by comparing the record's renewTime (the holder's wall clock) with its own wall
 * clock, so clock skew between machines makes it take over a live leader's lease.
 */
export class TrustsServerRenewTimeElector extends Elector {
  protected override isExpired(observation: Observation): boolean {
    const { record } = observation;
    const renewedAt = record.renewTimeMs ?? record.acquireTimeMs;
    if (record.holderIdentity === '' || renewedAt === null) return super.isExpired(observation);
    const durationMs = (record.leaseDurationSeconds ?? this.config.leaseDurationSeconds) * 1000;
    return renewedAt + durationMs <= this.config.clock.wallNow();
  }
}

/** Releases on shutdown without checking that the freshly read Lease still names it. */
export class ReleasesWithoutCheckElector extends Elector {
  protected override mayRelease(_record: LeaderElectionRecord): boolean {
    return true;
  }
}

/**
 * Retries a failed acquire attempt without waiting (issue 11, defect 1: a watching follower
 * retried a failed write every ~25 ms; client-go waits [R, 2.2 R)).
 */
export class RetryStormElector extends Elector {
  protected override failureBackoffMs(_failures: number): number {
    return 0;
  }
}

/**
 * Leads as soon as it has created a missing Lease (defect 2a: a follower that saw only 404s for a
 * lease duration created the Lease and led while the live leader, whose Lease an actor kept
 * deleting between that follower's reads, kept leading).
 */
export class LeadsOnCreationElector extends Elector {
  protected override creationHoldMs(): number {
    return 0;
  }
}

/**
 * Holds a Lease it created only for its own lease duration, ignoring `maxPeerLeaseDurationMs`
 * (defect 2b: during a rollout, a replica with a shorter duration created the deleted Lease while a
 * partitioned leader with a longer one was still guaranteed).
 */
export class HoldsOwnLeaseDurationElector extends Elector {
  protected override creationHoldMs(): number {
    return this.config.leaseDurationMs;
  }
}

/** Writes token 0 into every Lease it creates (defect 3: a leader recreating its deleted Lease reset the fencing token). */
export class ResetsTokenOnRecreateElector extends Elector {
  protected override createdLeaseToken(_byLeader: boolean): number {
    return 0;
  }
}

/**
 * Relies on its guard timer alone to end a term whose guarantee ran out (defect 4: after a process
 * pause its renew-loop timer, due earlier, fired first and sent a renewal with the leadership
 * signal still live).
 */
export class SignalOutlivesGuaranteeElector extends Elector {
  protected override enforcesGuaranteeOnWake(): boolean {
    return false;
  }
}

/**
 * Extends its guarantee with every renewal, also those a client-go follower cannot see (defect 5:
 * client-go compares records at whole-second precision, so a second renewal within one second does
 * not reset its observation time).
 */
export class GoInvisibleRenewalsElector extends Elector {
  protected override goVisibleRenewal(_previous: LeaderElectionRecord, _next: LeaderElectionRecord): boolean {
    return true;
  }
}

/**
 * Hands user code terms without `isValid()` (defect 4, the user-code half: after a pause, user
 * timers and I/O callbacks due before the elector's guard run first and see the signal still
 * live; without a clock check all they can trust is that signal). Not a subclass: the term is
 * the elector's, so the callbacks get a copy without the check.
 */
function termWithoutValidity(callbacks: LeaderCallbacks): LeaderCallbacks {
  return {
    ...callbacks,
    onStartedLeading: (signal, term) => {
      const { token, acquireTimeMs, identity } = term;
      return callbacks.onStartedLeading?.(signal, { token, acquireTimeMs, identity } as unknown as LeadershipTerm);
    },
  };
}

/** Builds an elector; the simulator takes one so that variants can be swapped in. */
export type ElectorFactory = (config: ElectorConfig, client: unknown, callbacks: LeaderCallbacks, logger?: Logger) => Elector;

export const VARIANTS = {
  safe: (config, client, callbacks, logger) => new Elector(config, client, callbacks, logger),
  'ignores-renew-deadline': (config, client, callbacks, logger) => new IgnoresRenewDeadlineElector(config, client, callbacks, logger),
  'trusts-server-renew-time': (config, client, callbacks, logger) => new TrustsServerRenewTimeElector(config, client, callbacks, logger),
  'releases-without-check': (config, client, callbacks, logger) => new ReleasesWithoutCheckElector(config, client, callbacks, logger),
  'retry-storm': (config, client, callbacks, logger) => new RetryStormElector(config, client, callbacks, logger),
  'leads-on-creation': (config, client, callbacks, logger) => new LeadsOnCreationElector(config, client, callbacks, logger),
  'holds-own-lease-duration': (config, client, callbacks, logger) => new HoldsOwnLeaseDurationElector(config, client, callbacks, logger),
  'resets-token-on-recreate': (config, client, callbacks, logger) => new ResetsTokenOnRecreateElector(config, client, callbacks, logger),
  'signal-outlives-guarantee': (config, client, callbacks, logger) => new SignalOutlivesGuaranteeElector(config, client, callbacks, logger),
  'go-invisible-renewals': (config, client, callbacks, logger) => new GoInvisibleRenewalsElector(config, client, callbacks, logger),
  'term-without-validity': (config, client, callbacks, logger) => new Elector(config, client, termWithoutValidity(callbacks), logger),
} as const satisfies Record<string, ElectorFactory>;

export type VariantName = keyof typeof VARIANTS;

/** The unsafe variants (every variant but `safe`). */
export const UNSAFE_VARIANTS = Object.keys(VARIANTS).filter((name) => name !== 'safe') as Exclude<VariantName, 'safe'>[];

export function isVariantName(name: string): name is VariantName {
  return Object.prototype.hasOwnProperty.call(VARIANTS, name);
}
