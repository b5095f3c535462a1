/**
 * Test helpers: raw HTTP requests (node:http, no connection pooling, so nothing outlives a test),
 * a streaming watch reader, and a bounded wait on a condition (tests never sleep a fixed time).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { Logger } from '@leasekit/k8s-leaderelection';

/** A raw answer. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Options for {@link send}. */
export interface SendOptions {
  body?: string | Buffer | object;
  headers?: Record<string, string | number>;
  signal?: AbortSignal;
  /** Send the body chunked, without Content-Length. */
  chunked?: boolean;
}

/**
 * One HTTP request to the server at `baseUrl`; `path` goes on the request line exactly as given
 * (never resolved as a URL, so `//host/...` cannot send the test anywhere else). Objects are sent as JSON.
 */
export function send(baseUrl: string, method: string, path: string, options: SendOptions = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const body = options.body === undefined ? undefined : typeof options.body === 'string' || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string | number> = {
    ...(body !== undefined ? { 'Content-Type': 'application/json', ...(options.chunked ? {} : { 'Content-Length': Buffer.byteLength(body) }) } : {}),
    ...options.headers,
  };
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers, agent: false, ...(options.signal ? { signal: options.signal } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** An open watch read line by line. */
export interface RawWatch {
  status: number;
  /** Every event received so far. */
  events: any[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Resolves when the server ends the stream; `reset` says whether it was cut abruptly. */
  ended: Promise<{ reset: boolean }>;
  /** Closes the stream from the client side. */
  close(): void;
}

/** Opens a watch (or any streaming GET) and collects newline-delimited JSON events. */
export function openWatch(baseUrl: string, path: string, headers: Record<string, string> = {}): Promise<RawWatch> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method: 'GET', path, headers, agent: false }, (res) => {
      const events: unknown[] = [];
      let buffer = '';
      let settle: (v: { reset: boolean }) => void = () => {};
      const ended = new Promise<{ reset: boolean }>((r) => (settle = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line) events.push(JSON.parse(line));
        }
      });
      res.on('end', () => settle({ reset: false }));
      res.on('error', () => settle({ reset: true }));
      res.on('close', () => settle({ reset: !res.complete }));
      resolve({ status: res.statusCode ?? 0, events: events as RawWatch['events'], ended, close: () => req.destroy() });
    });
    req.on('error', (err) => reject(err));
    req.end();
  });
}

/**
 * Polls `condition` until it holds, at most `timeoutMs` (then throws naming `what`). Bounded so a
 * broken test fails instead of hanging; the bound is generous and never a performance assertion.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, intervalMs = 20): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A logger that keeps lines for assertions instead of printing them. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (message: string, fields?: object) => {
    lines.push(`${level} ${message} ${fields ? JSON.stringify(fields) : ''}`);
  };
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
}

/** A MicroTime for now (six fractional digits, UTC). */
export function microNow(): string {
  return new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
