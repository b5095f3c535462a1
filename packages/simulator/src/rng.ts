/**
 * Seeded randomness for a run: one seed, and named sub-streams derived from it, so that adding a
 * draw in one part of the simulation (say, request latency) does not shift every other part.
 */
import type { Random } from '@leasekit/k8s-leaderelection';
import { seededRandom } from '@leasekit/k8s-leaderelection/testing';

/** FNV-1a over a string: a stable 32-bit hash (also used for run digests). */
export function fnv1a(text: string, hash = 0x811c9dc5): number {
  let h = hash >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** An independent, reproducible stream for `label` under `seed`. */
export function deriveRandom(seed: number, label: string): Random {
  return seededRandom(fnv1a(`${seed >>> 0}:${label}`));
}

/** Convenience draws over a {@link Random}. */
export class Draw {
  constructor(readonly random: Random) {}

  /** Uniform in [min, max). */
  between(min: number, max: number): number {
    return min + this.random() * (max - min);
  }

  /** Integer uniform in [min, max]. */
  int(min: number, max: number): number {
    return Math.min(max, min + Math.floor(this.random() * (max - min + 1)));
  }

  chance(p: number): boolean {
    return this.random() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.min(items.length - 1, Math.floor(this.random() * items.length))];
    if (item === undefined) throw new RangeError('pick() from an empty list');
    return item;
  }

  /** Picks by weight: `[[item, weight], ...]`. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let x = this.random() * total;
    for (const [item, w] of entries) {
      if (x < w) return item;
      x -= w;
    }
    const last = entries[entries.length - 1];
    if (last === undefined) throw new RangeError('weighted() from an empty list');
    return last[0];
  }

  /** Exponentially distributed with the given mean (Poisson arrivals). */
  exponential(mean: number): number {
    return -Math.log(1 - this.random()) * mean;
  }
}
