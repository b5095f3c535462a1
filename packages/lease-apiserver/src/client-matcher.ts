/**
 * Which client a request comes from. Fault rules and partitions single out a client by its
 * User-Agent, by any header, or by the bearer token of its kubeconfig (`kubeConfig({ token })`).
 */
import type { IncomingHttpHeaders } from 'node:http';

/** Selects clients; every field given must match. An empty matcher matches every client. */
export interface ClientMatcher {
  /** The User-Agent contains this text, or matches this pattern. */
  readonly userAgent?: string | RegExp;
  /** A request header (name case-insensitive) equals this value, or matches this pattern. */
  readonly header?: { readonly name: string; readonly value: string | RegExp };
  /** `Authorization: Bearer <token>`, what a kubeconfig from `kubeConfig({ token })` sends. */
  readonly token?: string;
}

/** What a matcher looks at: the request's headers. */
export interface ClientInfo {
  readonly headers: IncomingHttpHeaders;
}

function test(pattern: string | RegExp, value: string, exact: boolean): boolean {
  if (typeof pattern === 'string') return exact ? value === pattern : value.includes(pattern);
  pattern.lastIndex = 0; // a /g pattern is stateful; every request must be judged afresh
  return pattern.test(value);
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

/** True when `client` is selected by `matcher`. */
export function matchesClient(matcher: ClientMatcher, client: ClientInfo): boolean {
  if (matcher.userAgent !== undefined && !test(matcher.userAgent, headerValue(client.headers, 'user-agent') ?? '', false)) return false;
  if (matcher.token !== undefined && headerValue(client.headers, 'authorization') !== `Bearer ${matcher.token}`) return false;
  if (matcher.header !== undefined) {
    const value = headerValue(client.headers, matcher.header.name);
    if (value === undefined || !test(matcher.header.value, value, true)) return false;
  }
  return true;
}

/** A short description for logs and the CLI banner. */
export function describeMatcher(matcher: ClientMatcher): string {
  const parts: string[] = [];
  if (matcher.userAgent !== undefined) parts.push(`user-agent ~ ${String(matcher.userAgent)}`);
  if (matcher.token !== undefined) parts.push(`token ${matcher.token}`);
  if (matcher.header !== undefined) parts.push(`${matcher.header.name}: ${String(matcher.header.value)}`);
  return parts.length === 0 ? 'every client' : parts.join(' and ');
}
