/**
 * Logging without a logging library. Anything with `debug/info/warn/error(message, fields)`
 * methods works: `console` and winston as they are. pino takes `(fields, message)`; it is
 * recognised by its `bindings()` method and called that way, so it too works as it is.
 */
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug?(message: string, fields?: LogFields): void;
  info?(message: string, fields?: LogFields): void;
  warn?(message: string, fields?: LogFields): void;
  error?(message: string, fields?: LogFields): void;
}

/** What the elector calls: every level present, never throwing. */
export interface SafeLogger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

type Level = 'debug' | 'info' | 'warn' | 'error';

/** The default: warnings and errors to the console, nothing else. */
export const defaultLogger: Logger = {
  warn: (message, fields) => console.warn(`[leasekit] ${message}`, fields ?? ''),
  error: (message, fields) => console.error(`[leasekit] ${message}`, fields ?? ''),
};

/** A logger that drops everything (for tests and benchmarks that want silence). */
export const silentLogger: Logger = {};

function isPinoLike(logger: object): boolean {
  return typeof (logger as { bindings?: unknown }).bindings === 'function';
}

/** Wraps any supported logger so every level exists and a throwing logger cannot break the elector. */
export function toSafeLogger(logger: Logger | undefined, context: LogFields = {}): SafeLogger {
  const target: Logger = logger ?? defaultLogger;
  const pino = isPinoLike(target);
  const make = (level: Level) => (message: string, fields?: LogFields) => {
    // Everything inside the try, the level lookup too (a getter or a proxy may throw), and an
    // async logger's rejection is caught: an unhandled rejection would crash the process.
    try {
      const fn = target[level];
      if (typeof fn !== 'function') return;
      const merged = { ...context, ...fields };
      const result: unknown = pino
        ? (fn as unknown as (f: LogFields, m: string) => unknown).call(target, merged, message)
        : (fn as (m: string, f: LogFields) => unknown).call(target, message, merged);
      if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, () => undefined);
      }
    } catch {
      // A broken logger must never take leader election down with it.
    }
  };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}
