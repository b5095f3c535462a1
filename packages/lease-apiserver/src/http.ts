/**
 * HTTP plumbing shared by every route: bounded body reading, body decoding with the API server's
 * error wording, content negotiation (JSON or a Table), and Status responses. Every failure is an
 * {@link ApiError}, so the pipeline has one way to answer: a Status object.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { loadYaml } from '@kubernetes/client-node';
import { ApiError, type KubeStatus } from '@leasekit/k8s-leaderelection';
import { makeStatus } from '@leasekit/k8s-leaderelection/internal';
import { excessNesting, jsonText, nestsTooDeep } from './json-text.js';

/** The real API server's request body bound (3 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 3 * 1024 * 1024;

/** After answering 413, read at most this many times the bound before hanging up on the client. */
const DRAIN_FACTOR = 4;

/** Builds an ApiError around a Status with no details. */
export function statusError(code: number, reason: string, message: string): ApiError {
  return new ApiError(makeStatus(code, reason, message, {}));
}

/** 404 for a path the server does not serve, worded like the real server. */
export const notFoundError = (): ApiError => statusError(404, 'NotFound', 'the server could not find the requested resource');

/** 405 for a method a path does not support, worded like the real server. */
export const methodNotAllowedError = (): ApiError =>
  statusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

/**
 * Reads the request body, at most `limitBytes`. Beyond it the request is answered with 413, but
 * only once the client has sent the rest (read and dropped, up to {@link DRAIN_FACTOR} times the
 * bound): answering and closing while it still sends would reset the connection, and a client
 * that sent `Connection: close` (client-node does) would see the reset instead of the 413.
 * Beyond the drain budget the connection is cut.
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const budget = limitBytes * DRAIN_FACTOR;
  const tooLarge = (): ApiError => statusError(413, 'RequestEntityTooLarge', `Request entity too large: limit is ${limitBytes}`);
  return new Promise((resolve, reject) => {
    if (Number.isFinite(declared) && declared > budget) {
      // Too much to wait for: answer now, and cut the connection if the client keeps sending.
      drain(req, budget);
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limitBytes;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (!over && size > limitBytes) {
        over = true;
        chunks.length = 0;
      }
      if (!over) chunks.push(chunk);
      else if (size > budget) {
        cleanup();
        req.socket.destroy();
        reject(tooLarge());
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (over) reject(tooLarge());
      else resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(statusError(400, 'BadRequest', `error reading the request body: ${err.message}`));
    };
    // A client that leaves mid-body must not leave this promise pending forever.
    const onClose = (): void => {
      if (!req.complete) onError(new Error('the client closed the connection'));
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/** Discards what is left of a body, up to `budgetBytes`; past that the connection is cut. */
function drain(req: IncomingMessage, budgetBytes: number): void {
  let seen = 0;
  req.on('data', (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > budgetBytes) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

/** The media type of a Content-Type header, lowercased, without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Media types a create or update body may use (the real server also takes protobuf, not served here). */
const BODY_TYPES = ['application/json', 'application/yaml'];

/**
 * Decodes a create/update/DeleteOptions body. `kind` names the expected type for the error
 * message, which follows the API server's ("the object provided is unrecognized ...").
 */
export function decodeBody(body: Buffer, contentType: string | undefined, kind: string): unknown {
  const type = mediaType(contentType);
  if (type !== '' && type !== '*/*' && !BODY_TYPES.includes(type)) {
    throw unsupportedMediaType(BODY_TYPES.concat('application/vnd.kubernetes.protobuf'));
  }
  return parseDocument(body, type === 'application/yaml' ? 'yaml' : 'json', kind);
}

/** Parses JSON or YAML, with a 400 worded like the API server's decoder on failure. */
export function parseDocument(body: Buffer, format: 'json' | 'yaml', kind: string): unknown {
  const unrecognized = (problem: string): ApiError =>
    statusError(400, 'BadRequest', `the object provided is unrecognized (must be of type ${kind}): couldn't get version/kind; ${problem} (${summarize(body)})`);
  const text = body.toString('utf8');
  // The API server reads YAML by converting it to JSON, so both meet the JSON depth limit.
  const tooDeep = format === 'json' ? excessNesting(text) : undefined;
  if (tooDeep !== undefined) throw unrecognized(`json parse error: invalid character '${tooDeep}' exceeded max depth`);
  let value: unknown;
  try {
    value = format === 'yaml' ? loadYaml<unknown>(text) : (JSON.parse(text) as unknown);
  } catch (err) {
    throw unrecognized(`${format} parse error: ${firstLine(err)}`);
  }
  if (format === 'yaml' && nestsTooDeep(value)) throw unrecognized("json parse error: invalid character '{' exceeded max depth");
  return value;
}

/** How a patch body is read: JSON, except YAML for server-side apply. */
export type PatchFormat = 'json' | 'merge' | 'strategic' | 'apply';

/**
 * Parses a patch body, with the API server's wording when it cannot (its patch handler, not the
 * object decoder, reads patches): "error decoding patch: ..." for JSON and merge patches,
 * the bare decoder error for a strategic merge patch, "error decoding YAML: ..." for apply.
 */
export function parsePatch(body: Buffer, format: PatchFormat): unknown {
  const refuse = (problem: string): ApiError => {
    const prefix = format === 'strategic' ? '' : format === 'apply' ? 'error decoding YAML: ' : 'error decoding patch: ';
    return statusError(400, 'BadRequest', `${prefix}${problem}`);
  };
  const text = body.toString('utf8');
  const tooDeep = format === 'apply' ? undefined : excessNesting(text);
  if (tooDeep !== undefined) throw refuse(`invalid character '${tooDeep}' exceeded max depth`);
  let value: unknown;
  try {
    value = format === 'apply' ? loadYaml<unknown>(text) : (JSON.parse(text) as unknown);
  } catch (err) {
    throw refuse(firstLine(err));
  }
  if (format === 'apply' && nestsTooDeep(value)) throw refuse("invalid character '{' exceeded max depth");
  return value;
}

function firstLine(err: unknown): string {
  return err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
}

/** The API server's short preview of an undecodable body: text when it looks like JSON, else hex. */
function summarize(body: Buffer, maxLength = 30): string {
  if (body.length === 0) return '<empty>';
  const cut = body.subarray(0, maxLength);
  const suffix = body.length > maxLength ? ' ...' : '';
  return body[0] === 0x7b ? `${cut.toString('utf8')}${suffix}` : `${cut.toString('hex')}${suffix}`;
}

/** 415, listing what is accepted (the real server's wording). */
export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  return statusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** `v1` or `v1beta1` when the Accept header asks for a meta.k8s.io Table (kubectl get does). */
export function tableVersionRequested(accept: string | undefined): 'v1' | 'v1beta1' | undefined {
  for (const clause of (accept ?? '').split(',')) {
    const [type, ...rawParams] = clause.split(';').map((p) => p.trim());
    if (type !== 'application/json' && type !== '*/*') continue;
    const params = new Map(rawParams.map((p) => p.split('=').map((s) => s.trim()) as [string, string]));
    // The first acceptable clause wins, as in the server's negotiation: plain JSON before a Table
    // means the client prefers the object itself.
    if (params.get('as') !== 'Table') return undefined;
    if (params.get('g') !== 'meta.k8s.io') continue;
    const version = params.get('v');
    if (version === 'v1' || version === 'v1beta1') return version;
  }
  return undefined;
}

/** True when nothing more may be written to the response. */
export function isFinished(res: ServerResponse): boolean {
  return res.writableEnded || res.destroyed;
}

/** Answers with a JSON body, unless the response is already finished or the client has gone. */
export function sendJson(res: ServerResponse, code: number, body: unknown, headers: Record<string, string> = {}): void {
  if (isFinished(res)) return;
  const payload = jsonText(body);
  if (!res.headersSent) {
    res.writeHead(code, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-cache, private',
      'Content-Length': Buffer.byteLength(payload),
      ...headers,
    });
  }
  res.end(payload);
}

/** Answers with a body that is already JSON text. */
export function sendRaw(res: ServerResponse, code: number, json: string, headers: Record<string, string> = {}): void {
  if (isFinished(res)) return;
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

/** Answers with plain text (health checks, like the real server). */
export function sendText(res: ServerResponse, code: number, text: string): void {
  if (isFinished(res)) return;
  res.writeHead(code, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'X-Content-Type-Options': 'nosniff' });
  res.end(text);
}

/** Answers with a Status object (the body of every error), with Retry-After when it asks for one. */
export function sendStatus(res: ServerResponse, status: KubeStatus): void {
  const retryAfter = status.details?.retryAfterSeconds;
  sendJson(res, status.code, status, retryAfter !== undefined ? { 'Retry-After': String(retryAfter) } : {});
}

/** The Status for anything thrown: ApiErrors as they are, anything else as 500 InternalError. */
export function statusOf(err: unknown): KubeStatus {
  if (err instanceof ApiError) return err.status;
  const message = err instanceof Error ? err.message : String(err);
  return makeStatus(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ reason: '', message, field: '' }] });
}
