/**
 * JSON text in and out without exhausting the stack. The API server's decoder reads bodies nested
 * up to 10,000 levels (Go's encoding/json `maxNestingDepth`) and refuses deeper ones; Node's
 * JSON.parse copes with any depth, but JSON.stringify recurses and throws near 5,000 levels. So
 * the depth is checked on the text before parsing, and answers that nest deeper than
 * JSON.stringify can go are written by the testing kit's iterative serializer.
 */
import { MAX_JSON_DEPTH, jsonTextOf, nestedDeeperThan } from '@leasekit/k8s-leaderelection/internal';

/**
 * The bracket that opens level {@link MAX_JSON_DEPTH} + 1 of a JSON text, as Go's scanner reports
 * it ("invalid character '{' exceeded max depth"), or undefined when the text nests no deeper.
 * Brackets inside strings do not count.
 */
export function excessNesting(text: string): '{' | '[' | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MAX_JSON_DEPTH) return c === 0x7b ? '{' : '[';
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return undefined;
}

/** True when objects and arrays in a parsed value nest deeper than {@link MAX_JSON_DEPTH}. */
export function nestsTooDeep(value: unknown): boolean {
  return nestedDeeperThan(value, MAX_JSON_DEPTH) !== undefined;
}

/** JSON.stringify, with the testing kit's iterative fallback for values too deep for it. */
export function jsonText(value: unknown): string {
  return jsonTextOf(value) as string;
}

/** A deep copy through JSON text (no stack limit), so stored state is never aliased. */
export function cloneJson<T>(value: T): T {
  return JSON.parse(jsonText(value)) as T;
}
