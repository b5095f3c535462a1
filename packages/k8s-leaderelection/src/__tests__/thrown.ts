/**
 * The error a synchronous call throws, by its class: the test fails when the call throws nothing,
 * and gets the error itself when it throws anything else.
 */
import { ApiError, ConfigError } from '../errors.js';

export function thrownBy<E extends Error>(type: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof type) return err;
    throw err;
  }
  throw new Error(`expected a ${type.name}, but nothing was thrown`);
}

/** The ApiError that `fn` throws. */
export function apiErrorOf(fn: () => unknown): ApiError {
  return thrownBy(ApiError, fn);
}

/** The ConfigError that `fn` throws. */
export function configErrorOf(fn: () => unknown): ConfigError {
  return thrownBy(ConfigError, fn);
}
