/** The ConfigError a LeaderElectionComponent's constructor throws, for tests of bad options. */
import { ConfigError } from '@leasekit/k8s-leaderelection';
import { LeaseStore, MemoryLeaseClient } from '@leasekit/k8s-leaderelection/testing';
import { LeaderElectionComponent } from '../component.js';
import type { LeaderElectionComponentConfig } from '../config.js';
import { createLeaderElectionBus } from '../events.js';

/** Constructs a component with `config` over `client`; returns the ConfigError it throws, and throws when it throws none. */
export function configErrorOf(config: Record<string, unknown>, client: unknown = new MemoryLeaseClient(new LeaseStore())): ConfigError {
  try {
    new LeaderElectionComponent(config as unknown as LeaderElectionComponentConfig, client as never, createLeaderElectionBus());
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}
