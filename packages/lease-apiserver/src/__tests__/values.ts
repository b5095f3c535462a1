/**
 * Test helpers for values: the ApiError a synchronous call throws, and objects nested deeper than
 * JSON.stringify can go, built and measured without recursion.
 */
import { ApiError } from '@leasekit/k8s-leaderelection';

/** Runs `fn` and returns the ApiError it throws (fails the test when it throws nothing or something else). */
export function apiErrorOf(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected an ApiError');
}

/** `{"a":{"a":...}}` with `depth` objects around `leaf`. */
export function nested(depth: number, leaf: unknown = 'x'): Record<string, unknown> {
  let value: unknown = leaf;
  for (let i = 0; i < depth; i++) value = { a: value };
  return value as Record<string, unknown>;
}

/** How deep objects nest in `value` (the root object is 1), following the first member. */
export function depthOf(value: unknown): number {
  let depth = 0;
  for (let node = value; typeof node === 'object' && node !== null; node = Object.values(node)[0]) depth++;
  return depth;
}
