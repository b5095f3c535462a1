/**
 * Deliberately unsafe electors, for proving that the simulator catches real bugs. Each replaces
 * one of the Elector's safety-critical steps the way a plausible bug would, through the pure
 * package's test-only seam (`withReplacedSteps`, internal entry). Never use them for anything but
 * tests and sweeps.
 */
import { Elector, type ElectorConfig, type LeaderCallbacks, type LeadershipTerm, type Lease, type LeaseClient, type Logger, type ResignOptions, type WatchOptions } from '@leasekit/k8s-leaderelection';
import { formatMicroTime, systemClock, withReplacedSteps, type StepOverrides } from '@leasekit/k8s-leaderelection/internal';

/**
 * Keeps claiming leadership while renewals fail: no guarantee deadline, no renew deadline (the
 * classic "leader does not notice it lost the lease" bug).
 */
const ignoresRenewDeadline: StepOverrides = () => ({ guaranteeUntil: () => Infinity, renewRoundDeadline: () => Infinity });

/**
 * Judges expiry by comparing the record's renewTime (the holder's wall clock) with its own wall
 * clock, so clock skew between machines makes it take over a live leader's lease.
 */
const trustsServerRenewTime: StepOverrides = (safe, config) => ({
  isExpired: (observation) => {
    const { record } = observation;
    const renewedAt = record.renewTimeMs ?? record.acquireTimeMs;
    if (record.holderIdentity === '' || renewedAt === null) return safe.isExpired(observation);
    const durationMs = (record.leaseDurationSeconds ?? config.leaseDurationSeconds) * 1000;
    return renewedAt + durationMs <= config.clock.wallNow();
  },
});

/** Releases on shutdown without checking that the freshly read Lease still names it. */
const releasesWithoutCheck: StepOverrides = () => ({ mayRelease: () => true });

/**
 * Retries a failed acquire attempt without waiting (issue 11, defect 1: a watching follower
 * retried a failed write every ~25 ms; client-go waits [R, 2.2 R)).
 */
const retryStorm: StepOverrides = () => ({ failureBackoffMs: () => 0 });

/**
 * Leads as soon as it has created a missing Lease (defect 2a: a follower that saw only 404s for a
 * lease duration created the Lease and led while the live leader, whose Lease an actor kept
 * deleting between that follower's reads, kept leading).
 */
const leadsOnCreation: StepOverrides = () => ({ creationHoldMs: () => 0 });

/**
 * Holds a Lease it created only for its own lease duration, ignoring `maxPeerLeaseDurationMs`
 * (defect 2b: during a rollout, a replica with a shorter duration created the deleted Lease while a
 * partitioned leader with a longer one was still guaranteed).
 */
const holdsOwnLeaseDuration: StepOverrides = (_safe, config) => ({ creationHoldMs: () => config.leaseDurationMs });

/** Writes token 0 into every Lease it creates (defect 3: a leader recreating its deleted Lease reset the fencing token). */
const resetsTokenOnRecreate: StepOverrides = () => ({ createdLeaseToken: () => 0 });

/**
 * Relies on its guard timer alone to end a term whose guarantee ran out (defect 4: after a process
 * pause its renew-loop timer, due earlier, fired first and sent a renewal with the leadership
 * signal still live).
 */
const signalOutlivesGuarantee: StepOverrides = () => ({ enforcesGuaranteeOnWake: () => false });

/**
 * Extends its guarantee with every renewal, also those a client-go follower cannot see (defect 5:
 * client-go compares records at whole-second precision, so a second renewal within one second does
 * not reset its observation time).
 */
const goInvisibleRenewals: StepOverrides = () => ({ goVisibleRenewal: () => true });

/**
 * Writes its wall clock as renewTime even over its own record in a leasekit-only fleet (the
 * defect found in review: a leader whose wall clock stood still wrote renewals byte for byte
 * equal to the record they replaced; a leasekit follower kept the time it first saw that record
 * and took over one lease duration later, while the leader counted a guarantee from each).
 */
const repeatsRenewTime: StepOverrides = () => ({ renewTimeOver: (_previous, wallNowMs) => wallNowMs });

/** An elector whose steps `overrides` replaces, built through the pure package's test-only seam. */
function unsafe(overrides: StepOverrides): ElectorFactory {
  return (config, client, callbacks, logger) => withReplacedSteps(overrides, () => new Elector(config, client, callbacks, logger));
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

/**
 * An elector whose `resign({ to })` is replaced by `handover` (given the elector's own resign).
 * Not a step: directed handover's order (term first, then the write) lives in the elector's loop,
 * so these variants wrap the public call the way a hand-rolled handover in user code would.
 */
function withHandover(handover: (elector: Elector, resign: (options?: ResignOptions) => Promise<void>, options: ResignOptions & { to: string }) => Promise<void>): ElectorFactory {
  return (config, client, callbacks, logger) => {
    const elector = new Elector(config, client, callbacks, logger);
    const resign = elector.resign.bind(elector);
    elector.resign = (options = {}) => (options.to === undefined ? resign(options) : handover(elector, resign, { ...options, to: options.to }));
    return elector;
  };
}

/**
 * Writes the record naming the target first and lets its term end after, when its next renewal
 * finds the Lease taken (the order bug directed handover avoids; a hand-rolled handover that edits
 * the Lease): the target takes it on its watch while the old leader still leads.
 */
function handsOverBeforeSteppingDown(config: ElectorConfig, client: unknown, callbacks: LeaderCallbacks, logger?: Logger): Elector {
  const leases = client as LeaseClient;
  const clock = config.clock ?? systemClock;
  return withHandover(async (elector, resign, { to, cooldownMs }) => {
    if (elector.isLeader()) {
      try {
        const current = await leases.get(config.leaseNamespace, config.leaseName);
        const spec = current.spec ?? {};
        if (spec.holderIdentity === config.identity) {
          const now = formatMicroTime(clock.wallNow());
          await leases.update(config.leaseNamespace, { ...current, spec: { ...spec, holderIdentity: to, acquireTime: now, renewTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } });
          return; // the next renewal ends the term (lease_taken)
        }
      } catch {
        // A failed handover: step down as asked; the Lease expires.
      }
    }
    return resign(cooldownMs === undefined ? {} : { cooldownMs });
  })(config, client, callbacks, logger);
}

/**
 * Implements `resign({ to })` as a plain resign: it releases the Lease and any follower may take
 * it, the named target only if it happens to be first (caught by L2, not by a safety invariant).
 */
const handsOverByReleasing = withHandover((_elector, resign, { cooldownMs }) => resign(cooldownMs === undefined ? {} : { cooldownMs }));

/**
 * A handover target that does not take the record naming it at once: it reads a directed
 * handover's record (holder itself, `leasekit.io/handover-from` set) as a claim of its own, as
 * seed 423's target did when the record still carried its old claim marker, and so takes the
 * Lease only once it expired, a lease duration late (caught by L2 alone). Wraps the client the
 * elector reads through, only while the elector is not leading (its own term's records are
 * read as they are).
 */
function ignoresHandoverRecords(config: ElectorConfig, client: unknown, callbacks: LeaderCallbacks, logger?: Logger): Elector {
  const leases = client as LeaseClient;
  const built: { elector?: Elector } = {};
  const asOwnClaim = (lease: Lease): Lease => {
    const annotations = lease.metadata?.annotations;
    if (built.elector?.isLeader() !== false || lease.spec?.holderIdentity !== config.identity || annotations?.['leasekit.io/handover-from'] === undefined) return lease;
    return { ...lease, metadata: { ...lease.metadata, annotations: { ...annotations, 'leasekit.io/claim': config.identity } } };
  };
  // Writes, Events and close go to the client itself (the simulator reads its bookkeeping there).
  const watch = leases.watch?.bind(leases);
  const reading: LeaseClient = {
    get: async (namespace, name, options) => asOwnClaim(await leases.get(namespace, name, options)),
    create: (namespace, lease, options) => leases.create(namespace, lease, options),
    update: (namespace, lease, options) => leases.update(namespace, lease, options),
    ...(leases.recordEvent ? { recordEvent: leases.recordEvent.bind(leases) } : {}),
    ...(leases.close ? { close: leases.close.bind(leases) } : {}),
    ...(watch
      ? {
          watch: (namespace: string, name: string, options: WatchOptions) =>
            watch(namespace, name, {
              ...options,
              onEvent: (event) => options.onEvent(event.type === 'ADDED' || event.type === 'MODIFIED' ? { ...event, object: asOwnClaim(event.object as Lease) } : event),
            }),
        }
      : {}),
  };
  built.elector = new Elector(config, reading, callbacks, logger);
  return built.elector;
}

/** Builds an elector; the simulator takes one so that variants can be swapped in. */
export type ElectorFactory = (config: ElectorConfig, client: unknown, callbacks: LeaderCallbacks, logger?: Logger) => Elector;

export const VARIANTS = {
  safe: (config, client, callbacks, logger) => new Elector(config, client, callbacks, logger),
  'ignores-renew-deadline': unsafe(ignoresRenewDeadline),
  'trusts-server-renew-time': unsafe(trustsServerRenewTime),
  'releases-without-check': unsafe(releasesWithoutCheck),
  'retry-storm': unsafe(retryStorm),
  'leads-on-creation': unsafe(leadsOnCreation),
  'holds-own-lease-duration': unsafe(holdsOwnLeaseDuration),
  'resets-token-on-recreate': unsafe(resetsTokenOnRecreate),
  'signal-outlives-guarantee': unsafe(signalOutlivesGuarantee),
  'go-invisible-renewals': unsafe(goInvisibleRenewals),
  'repeats-renew-time': unsafe(repeatsRenewTime),
  'term-without-validity': (config, client, callbacks, logger) => new Elector(config, client, termWithoutValidity(callbacks), logger),
  'hands-over-before-stepping-down': handsOverBeforeSteppingDown,
  'hands-over-by-releasing': handsOverByReleasing,
  'ignores-handover-records': ignoresHandoverRecords,
} as const satisfies Record<string, ElectorFactory>;

export type VariantName = keyof typeof VARIANTS;

/** The unsafe variants (every variant but `safe`). */
export const UNSAFE_VARIANTS = Object.keys(VARIANTS).filter((name) => name !== 'safe') as Exclude<VariantName, 'safe'>[];

export function isVariantName(name: string): name is VariantName {
  return Object.prototype.hasOwnProperty.call(VARIANTS, name);
}
