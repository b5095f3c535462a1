/**
 * Deliberately unsafe electors, for proving that the simulator catches real bugs. Each overrides
 * one of the Elector's protected steps the way a plausible bug would. Never use them for anything
 * but tests and sweeps.
 */
import { Elector, type ElectorConfig, type LeaderCallbacks, type LeaderElectionRecord, type Logger, type Observation } from '@leasekit/k8s-leaderelection';

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

/** Builds an elector; the simulator takes one so that variants can be swapped in. */
export type ElectorFactory = (config: ElectorConfig, client: unknown, callbacks: LeaderCallbacks, logger?: Logger) => Elector;

export const VARIANTS = {
  safe: (config, client, callbacks, logger) => new Elector(config, client, callbacks, logger),
  'ignores-renew-deadline': (config, client, callbacks, logger) => new IgnoresRenewDeadlineElector(config, client, callbacks, logger),
  'trusts-server-renew-time': (config, client, callbacks, logger) => new TrustsServerRenewTimeElector(config, client, callbacks, logger),
  'releases-without-check': (config, client, callbacks, logger) => new ReleasesWithoutCheckElector(config, client, callbacks, logger),
} as const satisfies Record<string, ElectorFactory>;

export type VariantName = keyof typeof VARIANTS;

/** The unsafe variants (every variant but `safe`). */
export const UNSAFE_VARIANTS = Object.keys(VARIANTS).filter((name) => name !== 'safe') as Exclude<VariantName, 'safe'>[];

export function isVariantName(name: string): name is VariantName {
  return Object.prototype.hasOwnProperty.call(VARIANTS, name);
}
