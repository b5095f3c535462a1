/** Owns the coordinated-mode decision: which observed record a coordinated replica may begin a term on. */
import { isClaim } from './claim.js';
import type { Observation } from './observation.js';

/**
 * Whether a coordinated replica (`coordinated: true`) may begin a term on `obs`: only a record
 * naming it (the coordinator's, or its own earlier term's; its own claim once `expired`, judged on
 * its own observation), with no `preferredHolder`
 * naming another candidate. Like client-go's tryCoordinatedRenew, it never takes a free record or
 * one naming another candidate, expired or not, and never creates the Lease: the coordinator
 * writes the holder. Unlike client-go it also takes a record naming it that it has seen expire
 * (client-go restarts its expiry clock whenever it reads a changed record; without this, a
 * replica that saw the coordinator name it during a resign cooldown would wait forever, since the
 * coordinator does not rewrite an expired record that already names its choice). Safe: no one
 * else may lead while the record names us; the write is a compare-and-swap against the object
 * seen, so it loses to any write the coordinator makes meanwhile; and the term's guarantee counts
 * from that write's send time, never from the read.
 */
export function coordinatedTakeable(obs: Observation, identity: string, expired: boolean): boolean {
  const { record } = obs;
  if (record.holderIdentity !== identity) return false;
  // Our own claim: left by an uncoordinated incarnation of this identity, or a marker kept by a
  // writer that keeps annotations (client-go, the coordinator). Taken, like uncoordinated mode
  // takes its own pending claim, only once it has expired on our own observation: then any
  // leader of a Lease deleted before the claim has stopped. Never at once, never never.
  if (isClaim(obs.lease) && !expired) return false;
  const preferred = record.preferredHolder;
  return preferred === undefined || preferred === '' || preferred === identity;
}
