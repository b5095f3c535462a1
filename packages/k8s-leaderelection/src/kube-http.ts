/**
 * JSON requests to the API server over node:http(s), on one keep-alive connection pool per client:
 * bounded by a timeout, error answers mapped to {@link ApiError} by their Status body, connection
 * failures to NetworkError. Where to connect and how to authenticate comes from the caller (the
 * KubeConfig in lease-lock.ts); this file knows nothing of client-node.
 *
 * Why not client-node's generated API: it builds a new agent (a new TCP and TLS connection) for
 * every request and spends about 2 ms of CPU per call in its serialisation layers. A handover is two
 * requests on the critical path, so that was most of it. client-go keeps its connections open too.
 */
import { Agent as HttpAgent, STATUS_CODES, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions as HttpsRequestOptions } from 'node:https';
import { urlToHttpOptions } from 'node:url';
import { systemClock, type Clock } from './clock.js';
import { ApiError, NetworkError, RequestTimeoutError, makeStatus, parseRetryAfterSeconds, type KubeStatus } from './errors.js';
import type { RequestOptions } from './lease.js';
import { RequestDeadline, type DeadlineReasons } from './request.js';

/** Where and how to send: the server URL and node:https options (credentials, TLS, agent). */
export interface Endpoint {
  readonly url: string;
  readonly requestOptions: HttpsRequestOptions;
}

/** TCP keep-alive probes on pooled connections, as client-node and client-go set them. */
const TCP_KEEPALIVE_MS = 30_000;

/** An error answer body is read only this far (a misbehaving proxy may send a page of HTML). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Parsed request URLs kept per client (a client sends to a handful of paths; beyond this the cache starts over). */
const MAX_CACHED_TARGETS = 64;

export class KubeHttp {
  private readonly httpAgent = new HttpAgent({ keepAlive: true, keepAliveMsecs: TCP_KEEPALIVE_MS });
  private readonly httpsAgent = new HttpsAgent({ keepAlive: true, keepAliveMsecs: TCP_KEEPALIVE_MS });
  /** node:http's options for each full URL sent to, parsed once (node:http would parse a URL string on every request). */
  private readonly targets = new Map<string, HttpsRequestOptions>();

  constructor(
    /** Asked before every request, so rotated credentials (token files, exec plugins) are used. */
    private readonly endpoint: () => Promise<Endpoint>,
    private readonly timeoutMs: number,
    /** Times the timeout (tests pass a FakeClock). */
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * Sends `method path` with `body` as JSON and resolves with the parsed JSON answer (2xx), or
   * rejects with an ApiError (any other status), a RequestTimeoutError (the timeout or the caller's
   * signal; a caller's own Error reason passes through unchanged) or a NetworkError.
   */
  async request<T>(method: string, path: string, body: unknown, options?: RequestOptions): Promise<T> {
    const deadline = new RequestDeadline(this.clock, this.timeoutMs, options?.signal, FAILURES);
    try {
      if (deadline.reason) throw deadline.reason;
      const { url, requestOptions } = await this.endpoint().catch((err: unknown) => {
        throw new NetworkError(`cannot prepare the request: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      });
      if (deadline.reason) throw deadline.reason;
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
      const https = url.startsWith('https:');
      const headers: Record<string, string | number | string[]> = { ...(requestOptions.headers as Record<string, string | number | string[]> | undefined), accept: 'application/json' };
      if (payload) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = payload.length;
      }
      const agent = requestOptions.agent ?? (https ? this.httpsAgent : this.httpAgent);
      const send = https ? httpsRequest : httpRequest;
      const target = this.target(`${url.replace(/\/+$/, '')}${path}`);
      return await new Promise<T>((resolve, reject) => {
        let settled = false;
        const finish = (err: Error | undefined, value?: T): void => {
          if (settled) return;
          settled = true;
          deadline.dispose();
          if (err) reject(err);
          else resolve(value as T);
        };
        // What node:http does with a URL string and options: the URL's fields, overridden by the options.
        const request = send({ ...target, ...requestOptions, method, headers, agent }, (res) => {
          readBody(res, res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? Infinity : MAX_ERROR_BODY_BYTES)
            .then((text) => {
              const statusCode = res.statusCode ?? 0;
              if (statusCode >= 200 && statusCode < 300) finish(undefined, JSON.parse(text) as T);
              else finish(errorAnswer(statusCode, res, text));
            })
            .catch((err: unknown) => finish(deadline.reason ?? networkFailure(err)));
        });
        request.on('error', (err) => finish(deadline.reason ?? networkFailure(err)));
        deadline.onEnd = (failure) => {
          request.destroy();
          finish(failure);
        };
        request.end(payload);
      });
    } finally {
      deadline.dispose();
    }
  }

  /**
   * node:http's options for `url`, as `http.request(url)` derives them (`urlToHttpOptions(new URL(url))`),
   * parsed once per URL: a client sends to the same few URLs again and again.
   */
  private target(url: string): HttpsRequestOptions {
    let target = this.targets.get(url);
    if (target === undefined) {
      target = urlToHttpOptions(new URL(url)) as HttpsRequestOptions;
      if (this.targets.size >= MAX_CACHED_TARGETS) this.targets.clear();
      this.targets.set(url, target);
    }
    return target;
  }

  /** Closes the pooled connections (idle ones are unreferenced and never keep the process alive). */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** The whole body as text (at most `limit` bytes kept). */
function readBody(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      if (size < limit) chunks.push(chunk);
      size += chunk.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the response was cut off')));
  });
}

/** An error answer: its Status body when it has one, else a Status synthesised from the code. */
function errorAnswer(statusCode: number, res: IncomingMessage, text: string): ApiError {
  let status: KubeStatus | undefined;
  try {
    const parsed = JSON.parse(text) as { kind?: unknown } | null;
    if (parsed && typeof parsed === 'object' && parsed.kind === 'Status') status = parsed as KubeStatus;
  } catch {
    // not JSON: synthesised below
  }
  status ??= makeStatus(statusCode, '', `HTTP ${statusCode}: ${text.slice(0, 200) || STATUS_CODES[statusCode] || ''}`);
  const retryAfterSeconds = parseRetryAfterSeconds(res.headers['retry-after']);
  return new ApiError(status, retryAfterSeconds !== undefined ? { retryAfterSeconds } : undefined);
}

/**
 * How a request fails at its deadline: a RequestTimeoutError for the timeout (its cause the
 * DOMException `AbortSignal.timeout()` would give), and {@link abortFailure} for the caller's signal.
 */
const FAILURES: DeadlineReasons<Error> = {
  timedOut: () => new RequestTimeoutError('request timed out', { cause: new DOMException('The operation was aborted due to timeout', 'TimeoutError') }),
  aborted: (signal) => abortFailure(signal),
};

/**
 * The failure of an aborted request: the caller's own Error reason unchanged, else a
 * RequestTimeoutError (AbortSignal.timeout() and a bare abort() leave a DOMException).
 */
function abortFailure(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error && reason.name !== 'AbortError' && reason.name !== 'TimeoutError') return reason;
  const timedOut = (reason as { name?: unknown } | undefined)?.name === 'TimeoutError';
  return new RequestTimeoutError(timedOut ? 'request timed out' : 'request aborted', { cause: reason });
}

function networkFailure(err: unknown): NetworkError {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  return new NetworkError(typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message, { cause: err });
}
