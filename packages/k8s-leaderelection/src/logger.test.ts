import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { defaultLogger, silentLogger, toSafeLogger, type LogFields, type Logger } from './logger.js';
import { settle } from './testing/fake-clock.js';

type Call = [unknown, unknown];

/** A logger in console's shape: (message, fields). */
function consoleLike() {
  const calls: Record<'debug' | 'info' | 'warn' | 'error', Call[]> = { debug: [], info: [], warn: [], error: [] };
  const logger = {
    debug: (m: string, f?: LogFields) => void calls.debug.push([m, f]),
    info: (m: string, f?: LogFields) => void calls.info.push([m, f]),
    warn: (m: string, f?: LogFields) => void calls.warn.push([m, f]),
    error: (m: string, f?: LogFields) => void calls.error.push([m, f]),
  };
  return { logger, calls };
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('toSafeLogger with a console-like logger', () => {
  it('passes the message first and the fields second, at every level', () => {
    const { logger, calls } = consoleLike();
    const log = toSafeLogger(logger);
    log.debug('d', { a: 1 });
    log.info('i', { b: 2 });
    log.warn('w', { c: 3 });
    log.error('e', { d: 4 });
    expect(calls).toEqual({ debug: [['d', { a: 1 }]], info: [['i', { b: 2 }]], warn: [['w', { c: 3 }]], error: [['e', { d: 4 }]] });
  });

  it('adds the context to every line, and lets a line override a context field', () => {
    const { logger, calls } = consoleLike();
    const log = toSafeLogger(logger, { identity: 'pod-a', lease: 'default/my-lease' });
    log.info('Started leading');
    log.warn('Stopped leading', { reason: 'renew_failed', identity: 'override' });
    expect(calls.info).toEqual([['Started leading', { identity: 'pod-a', lease: 'default/my-lease' }]]);
    expect(calls.warn).toEqual([['Stopped leading', { identity: 'override', lease: 'default/my-lease', reason: 'renew_failed' }]]);
  });

  it('never lets a logger change the context it was given', () => {
    const context = { identity: 'pod-a' };
    const log = toSafeLogger({ info: (_m: string, f?: LogFields) => void (f!.identity = 'changed') }, context);
    log.info('x');
    expect(context).toEqual({ identity: 'pod-a' });
  });

  it('calls the methods on the logger itself, so class-based loggers keep their `this`', () => {
    class ClassLogger {
      readonly lines: string[] = [];
      info(message: string): void {
        this.lines.push(message);
      }
    }
    const logger = new ClassLogger();
    toSafeLogger(logger).info('hello');
    expect(logger.lines).toEqual(['hello']);
  });

  it('works with the real console', () => {
    const info = jest.spyOn(console, 'info').mockImplementation(() => undefined);
    toSafeLogger(console, { identity: 'pod-a' }).info('Starting leader election loop');
    expect(info).toHaveBeenCalledWith('Starting leader election loop', { identity: 'pod-a' });
  });
});

describe('toSafeLogger with a pino-like logger', () => {
  it('recognises pino by bindings() and calls it as (fields, message) on the logger', () => {
    const calls: { self: unknown; args: unknown[] }[] = [];
    const pino = {
      bindings: () => ({}),
      info(...args: unknown[]) {
        calls.push({ self: this, args });
      },
      warn(...args: unknown[]) {
        calls.push({ self: this, args });
      },
    };
    const log = toSafeLogger(pino as unknown as Logger, { identity: 'pod-a' });
    log.info('New leader observed', { leader: 'pod-b' });
    log.warn('Stopped leading');
    expect(calls).toEqual([
      { self: pino, args: [{ identity: 'pod-a', leader: 'pod-b' }, 'New leader observed'] },
      { self: pino, args: [{ identity: 'pod-a' }, 'Stopped leading'] },
    ]);
  });
});

describe('toSafeLogger with a winston-like logger', () => {
  it('calls winston as (message, meta), since it has no bindings()', () => {
    const entries: { level: string; message: unknown; meta: unknown }[] = [];
    const winston = {
      level: 'debug',
      log(level: string, message: unknown, meta: unknown) {
        entries.push({ level, message, meta });
      },
      child() {
        return this;
      },
      debug(message: string, meta?: LogFields) {
        this.log('debug', message, meta);
      },
      info(message: string, meta?: LogFields) {
        this.log('info', message, meta);
      },
      warn(message: string, meta?: LogFields) {
        this.log('warn', message, meta);
      },
      error(message: string, meta?: LogFields) {
        this.log('error', message, meta);
      },
    };
    const log = toSafeLogger(winston, { identity: 'pod-a' });
    log.debug('Started leading', { token: 3 });
    log.error('Leader election loop failed');
    expect(entries).toEqual([
      { level: 'debug', message: 'Started leading', meta: { identity: 'pod-a', token: 3 } },
      { level: 'error', message: 'Leader election loop failed', meta: { identity: 'pod-a' } },
    ]);
  });
});

describe('toSafeLogger with an incomplete or broken logger', () => {
  it('drops the levels a logger does not have and still logs the others', () => {
    const errors: unknown[] = [];
    const log = toSafeLogger({ error: (m: string) => void errors.push(m) });
    expect(() => {
      log.debug('d');
      log.info('i');
      log.warn('w');
      log.error('e');
    }).not.toThrow();
    expect(errors).toEqual(['e']);
  });

  it('ignores a level that is not a function', () => {
    const log = toSafeLogger({ warn: 'loud' } as unknown as Logger);
    expect(() => log.warn('w')).not.toThrow();
  });

  it('logs nothing, and never throws, with the silent logger', () => {
    const spies = (['debug', 'info', 'warn', 'error', 'log'] as const).map((level) => jest.spyOn(console, level).mockImplementation(() => undefined));
    const log = toSafeLogger(silentLogger);
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });

  it('never propagates an exception thrown by the logger', () => {
    const boom = (): never => {
      throw new Error('logger down');
    };
    const log = toSafeLogger({ debug: boom, info: boom, warn: boom, error: boom }, { identity: 'pod-a' });
    expect(() => {
      log.debug('d');
      log.info('i', { x: 1 });
      log.warn('w');
      log.error('e');
    }).not.toThrow();
  });

  it('never propagates an exception thrown by a pino-like logger', () => {
    const log = toSafeLogger({
      bindings: () => ({}),
      warn: () => {
        throw new TypeError('bad');
      },
    } as unknown as Logger);
    expect(() => log.warn('w')).not.toThrow();
  });

  it('never propagates an exception thrown while looking a level up', () => {
    const logger = {
      get warn(): never {
        throw new Error('getter failed');
      },
    };
    expect(() => toSafeLogger(logger as unknown as Logger).warn('w')).not.toThrow();
  });

  it('handles the rejection of an async logger, so it cannot become an unhandled rejection', async () => {
    const rejected = Promise.reject(new Error('transport down'));
    const then = jest.spyOn(rejected, 'then');
    const log = toSafeLogger({ error: () => rejected } as unknown as Logger);
    expect(() => log.error('e')).not.toThrow();
    const handledBySafeLogger = then.mock.calls.some((args) => typeof args[1] === 'function');
    rejected.catch(() => undefined); // so that a failure here fails this test instead of crashing the run
    expect(handledBySafeLogger).toBe(true);
    await settle();
  });
});

describe('the default logger', () => {
  function spyConsole() {
    return {
      debug: jest.spyOn(console, 'debug').mockImplementation(() => undefined),
      info: jest.spyOn(console, 'info').mockImplementation(() => undefined),
      log: jest.spyOn(console, 'log').mockImplementation(() => undefined),
      warn: jest.spyOn(console, 'warn').mockImplementation(() => undefined),
      error: jest.spyOn(console, 'error').mockImplementation(() => undefined),
    };
  }

  it('is used when no logger is given and prints only warnings and errors', () => {
    const spies = spyConsole();
    const log = toSafeLogger(undefined, { identity: 'pod-a' });
    log.debug('Started leading');
    log.info('Starting leader election loop');
    log.warn('Stopped leading', { reason: 'renew_failed' });
    log.error('Leader election loop failed');
    expect(spies.debug).not.toHaveBeenCalled();
    expect(spies.info).not.toHaveBeenCalled();
    expect(spies.log).not.toHaveBeenCalled();
    expect(spies.warn).toHaveBeenCalledTimes(1);
    expect(spies.warn.mock.calls[0]![0]).toContain('Stopped leading');
    expect(spies.warn.mock.calls[0]![1]).toEqual({ identity: 'pod-a', reason: 'renew_failed' });
    expect(spies.error).toHaveBeenCalledTimes(1);
    expect(spies.error.mock.calls[0]![0]).toContain('Leader election loop failed');
  });

  it('is the exported defaultLogger, which has no debug or info level', () => {
    const spies = spyConsole();
    expect(defaultLogger.debug).toBeUndefined();
    expect(defaultLogger.info).toBeUndefined();
    defaultLogger.warn?.('w');
    expect(spies.warn).toHaveBeenCalledTimes(1);
  });
});
