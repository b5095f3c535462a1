/**
 * Request counters by verb, per resource. The benchmark reads them to report API requests per
 * minute, so a request counts when it arrives, whatever its fate (faults included).
 */
import { RESOURCES, VERBS, type ResourceName, type Verb } from './verbs.js';

/** Requests per verb, plus their sum. */
export type VerbCounts = { readonly [V in Verb]: number } & { readonly total: number };

/** Live request counters; see {@link RequestCounters.snapshot}. */
export class RequestCounters {
  private readonly counts = new Map<ResourceName, Map<Verb, number>>(
    RESOURCES.map((resource) => [resource, new Map(VERBS.map((verb) => [verb, 0]))]),
  );

  /** Counts one request. */
  count(resource: ResourceName, verb: Verb): void {
    const perVerb = this.counts.get(resource)!;
    perVerb.set(verb, (perVerb.get(verb) ?? 0) + 1);
  }

  /** Requests for one verb so far. @param resource @default 'leases' */
  get(verb: Verb, resource: ResourceName = 'leases'): number {
    return this.counts.get(resource)!.get(verb) ?? 0;
  }

  /** A frozen copy of the counts for one resource. @param resource @default 'leases' */
  snapshot(resource: ResourceName = 'leases'): VerbCounts {
    const perVerb = this.counts.get(resource)!;
    const entries = VERBS.map((verb) => [verb, perVerb.get(verb) ?? 0] as const);
    const total = entries.reduce((sum, [, n]) => sum + n, 0);
    return Object.freeze({ ...Object.fromEntries(entries), total }) as VerbCounts;
  }

  /** Sets every counter back to zero (e.g. after a benchmark's warm-up). */
  reset(): void {
    for (const perVerb of this.counts.values()) for (const verb of VERBS) perVerb.set(verb, 0);
  }
}
