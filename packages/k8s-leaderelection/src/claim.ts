/** Owns the claim marker: how a follower's newly created Lease is marked as a claim, recognised, and unmarked on takeover. */
import type { Lease } from './lease.js';

/**
 * Annotation on a Lease created as a claim (value: the claimer's identity). The claimer leads
 * only once the claim has stood unchanged for its written duration, like anyone else would.
 */
export const CLAIM_ANNOTATION = 'leasekit.io/claim';

/** A Lease created as a claim that its holder has not taken over yet (see the elector's createMissing). */
export function isClaim(lease: Lease): boolean {
  const claimer = lease.metadata?.annotations?.[CLAIM_ANNOTATION];
  return claimer !== undefined && claimer === lease.spec?.holderIdentity;
}

/** `lease` marked as `claimer`'s claim (its annotations replaced by the claim marker). */
export function asClaim(lease: Lease, claimer: string): Lease {
  return { ...lease, metadata: { ...lease.metadata, annotations: { [CLAIM_ANNOTATION]: claimer } } };
}

/** `lease` without the claim annotation (taking over a claim turns it into a plain record). */
export function withoutClaim(lease: Lease): Lease {
  const annotations = lease.metadata?.annotations;
  if (annotations === undefined || !(CLAIM_ANNOTATION in annotations)) return lease;
  const rest = Object.fromEntries(Object.entries(annotations).filter(([key]) => key !== CLAIM_ANNOTATION));
  return { ...lease, metadata: { ...lease.metadata, annotations: rest } };
}
