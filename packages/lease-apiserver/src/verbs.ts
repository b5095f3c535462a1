/**
 * The Kubernetes verbs the server distinguishes, and the resources it serves. Counters, fault
 * rules and request records all speak these names, the same ones RBAC and kubectl use.
 */

/** Every verb a resource request is classified as (the names RBAC uses). */
export const VERBS = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'] as const;

/** A Kubernetes API verb. */
export type Verb = (typeof VERBS)[number];

/** The verbs that change state: the ones whose response a fault may drop after the write committed. */
export const WRITE_VERBS: readonly Verb[] = ['create', 'update', 'patch', 'delete', 'deletecollection'];

/** The resources the server serves. */
export const RESOURCES = ['leases', 'leasecandidates', 'events'] as const;

/** `leases` (coordination.k8s.io/v1), `leasecandidates` (coordination.k8s.io/v1beta1) or `events` (core v1). */
export type ResourceName = (typeof RESOURCES)[number];

/** True for a verb name. */
export function isVerb(value: string): value is Verb {
  return (VERBS as readonly string[]).includes(value);
}
