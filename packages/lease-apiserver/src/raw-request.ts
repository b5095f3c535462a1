/**
 * Requests Node's HTTP parser refuses but Go's net/http (and so the real API server) accepts: a
 * method that is any token (`FOO`, `get`), or a request target with bytes outside ASCII. Node
 * reports them as client errors with the bytes it received; this reads their request line and
 * headers back, so the server can answer them with a Status as a real cluster would, instead of
 * a bare 400. Anything Go would refuse too (no valid request line, control characters, a broken
 * percent escape, an incomplete head) is left to the bare 400 both servers send.
 */
import type { IncomingHttpHeaders } from 'node:http';

/** A request head read back from the raw bytes. */
export interface RawRequestHead {
  readonly method: string;
  /** The target with bytes outside ASCII percent-encoded, so it routes like any other. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly httpVersionMinor: 0 | 1;
  /** True when the head announces a body (Content-Length above 0, or Transfer-Encoding). */
  readonly hasBody: boolean;
}

/** RFC 9110 token characters, which is what Go accepts as a method. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** The head of a request Go accepts, or undefined when Go would answer a bare 400 as well. */
export function readRequestHead(raw: Buffer): RawRequestHead | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [requestLine = '', ...headerLines] = raw.subarray(0, end).toString('latin1').split('\r\n');
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return undefined;
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method) || !/^HTTP\/1\.[01]$/.test(version)) return undefined;
  // Go refuses control characters and broken escapes in the target; other bytes it keeps.
  // eslint-disable-next-line no-control-regex
  if (!target.startsWith('/') || /[\x00-\x20\x7f]/.test(target)) return undefined;
  const queryAt = target.indexOf('?');
  if (/%(?![0-9A-Fa-f]{2})/.test(queryAt < 0 ? target : target.slice(0, queryAt))) return undefined;

  const headers: Record<string, string> = {};
  const rawHeaders: string[] = [];
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (!TOKEN.test(name)) return undefined;
    rawHeaders.push(name, value);
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  }
  const length = Number(headers['content-length'] ?? 0);
  return {
    method,
    url: percentEncodeHighBytes(target),
    headers,
    rawHeaders,
    httpVersionMinor: version === 'HTTP/1.0' ? 0 : 1,
    hasBody: headers['transfer-encoding'] !== undefined || !(length === 0),
  };
}

/** `/a\xff` (as latin1 text) becomes `/a%FF`: the same bytes, in a form URL code can route. */
function percentEncodeHighBytes(target: string): string {
  return target.replace(/[\x80-\xff]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
