/**
 * The demo replica's election: one `LeaderElectionComponent` configured from a {@link ReplicaConfig}
 * (timings, follower strategy, and optionally `handoverOnShutdown: 'newest'` or coordinated mode).
 * Shared by the replica process and the benchmark's in-process rollout (`@leasekit/demo/replica-component`),
 * so both run the same adapter with the same options.
 */
import { LeaderElectionComponent, createLeaderElectionBus, type LeaderElectionComponentConfig } from '@leasekit/controller-leaderelection';
import type { LeaderCallbacks, Logger } from '@leasekit/k8s-leaderelection';
import type { ReplicaConfig } from './protocol.js';

/** What the election needs from a replica's configuration (everything but where the kubeconfig is). */
export type ReplicaElectionSettings = Omit<ReplicaConfig, 'kubeconfig'>;

/** The component's configuration for a replica. */
export function replicaComponentConfig(settings: ReplicaElectionSettings): LeaderElectionComponentConfig {
  const { handoverOnShutdown, coordinated } = settings;
  return {
    identity: settings.identity,
    leaseName: settings.leaseName,
    leaseNamespace: settings.leaseNamespace,
    leaseDurationMs: settings.leaseDurationMs,
    renewDeadlineMs: settings.renewDeadlineMs,
    retryPeriodMs: settings.retryPeriodMs,
    // Every replica of the demo uses this one lease duration, so a replica that creates the
    // missing Lease waits one lease duration before leading, not the 15 s default for unknown peers.
    maxPeerLeaseDurationMs: settings.leaseDurationMs,
    followerStrategy: settings.followerStrategy,
    ...(handoverOnShutdown
      ? {
          handoverOnShutdown: 'newest' as const,
          membership: { durationMs: handoverOnShutdown.membershipDurationMs, renewIntervalMs: handoverOnShutdown.membershipRenewIntervalMs },
        }
      : {}),
    ...(coordinated ? { coordinated: true, binaryVersion: coordinated.binaryVersion, emulationVersion: coordinated.emulationVersion } : {}),
  };
}

/** A replica's component and its bus; `kubeConfig` is a client-node KubeConfig (or a LeaseClient). */
export function createReplicaComponent(
  settings: ReplicaElectionSettings,
  kubeConfig: unknown,
  callbacks: LeaderCallbacks = {},
  logger?: Logger,
): { component: LeaderElectionComponent; bus: ReturnType<typeof createLeaderElectionBus> } {
  const bus = createLeaderElectionBus();
  const component = new LeaderElectionComponent(replicaComponentConfig(settings), kubeConfig, bus, callbacks, logger);
  return { component, bus };
}

/**
 * Membership timings for `handoverOnShutdown` that suit a lease duration: a membership counts for
 * twice the lease duration (at least the 1 s a Lease can express, in whole seconds) and is
 * refreshed every third of that, so a member that just joined is listed, and one that crashed
 * stops counting after a few lease durations.
 */
export function membershipTimings(leaseDurationMs: number): { membershipDurationMs: number; membershipRenewIntervalMs: number } {
  const membershipDurationMs = Math.max(1000, Math.ceil((2 * leaseDurationMs) / 1000) * 1000);
  return { membershipDurationMs, membershipRenewIntervalMs: Math.floor(membershipDurationMs / 3) };
}
