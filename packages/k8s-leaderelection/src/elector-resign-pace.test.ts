/**
 * Pace under resign: a replica begins at most one term per retry period, whatever ends it. Found
 * by a probe: two replicas calling resign({ cooldownMs: 0 }) as soon as they lead passed the lease
 * around at one instant (hundreds of terms, thousands of requests, no time passing).
 */
import { describe, expect, it } from '@jest/globals';
import { world, LEASE, NS, type Replica } from './__tests__/harness.js';

describe('resign({ cooldownMs: 0 }) in onStartedLeading', () => {
  for (const strategy of ['watch', 'poll'] as const) {
    it(`${strategy}: two replicas resigning as soon as they lead stay within one acquire try per retry period`, async () => {
      const w = world(801);
      w.store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 1 } });
      const replicas: Replica[] = [];
      let calls = 0;
      const make = (id: string): Replica =>
        w.replica(id, {
          config: { followerStrategy: strategy },
          client: {
            fault: () => {
              if (++calls > 2_000) for (const r of replicas) r.controller.abort(); // a storm: stop it so the test ends
              return undefined;
            },
          },
          callbacks: { onStartedLeading: () => void replicas.find((r) => r.id === id)!.elector.resign({ cooldownMs: 0 }) },
        });
      replicas.push(make('a'), make('b'));
      for (const r of replicas) r.start();
      await w.clock.advance(60_000);
      expect(calls).toBeLessThan(2_000);
      const terms = replicas.reduce((n, r) => n + r.log.started.length, 0);
      expect(terms).toBeGreaterThan(4);
      for (const r of replicas) expect(r.log.started.length).toBeLessThanOrEqual(60_000 / 2_000 + 1);
      for (const r of replicas) await r.stop();
    });
  }
});
