/**
 * Every error leasekit creates is a {@link LeaseKitError} with a stable, literal `code`.
 * API outcomes are {@link ApiError}s classified by the Kubernetes Status `reason`, the way
 * client-go classifies them (reason first, then HTTP code).
 */
export class LeaseKitError extends Error {
  /** Stable machine-readable code; see each subclass. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Codes of {@link ConfigError}: each names the rule that failed. */
export type ConfigErrorCode =
  | 'CONFIG_MISSING'
  | 'CLIENT_MISSING'
  | 'CLIENT_INVALID'
  | 'IDENTITY_EMPTY'
  | 'LEASE_NAME_EMPTY'
  | 'LEASE_NAMESPACE_EMPTY'
  | 'LABELS_INVALID'
  | 'LEASE_NAME_INVALID'
  | 'LEASE_NAMESPACE_INVALID'
  | 'FIELD_TYPE'
  | 'DURATION_NOT_FINITE'
  | 'LEASE_DURATION_TOO_SHORT'
  | 'LEASE_DURATION_NOT_GREATER_THAN_RENEW_DEADLINE'
  | 'RENEW_DEADLINE_TOO_SHORT'
  | 'RETRY_PERIOD_NOT_POSITIVE'
  | 'LEASE_TOO_SHORT_FOR_CLIENT_GO'
  | 'OPTION_INVALID'
  | 'NAMESPACE_UNKNOWN';

/** Invalid configuration, thrown synchronously by constructors. `field` names the offending option. */
export class ConfigError extends LeaseKitError {
  declare readonly code: ConfigErrorCode;
  readonly field: string;

  constructor(code: ConfigErrorCode, field: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.field = field;
  }
}

/** A Kubernetes `Status` object as the API server returns it in error bodies. */
export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: { reason: string; message: string; field: string }[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** Status reasons leasekit distinguishes (plus `Unknown` for anything else). */
export type ApiErrorReason =
  | 'BadRequest'
  | 'Unauthorized'
  | 'Forbidden'
  | 'NotFound'
  | 'MethodNotAllowed'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Gone'
  | 'Expired'
  | 'Invalid'
  | 'RequestEntityTooLarge'
  | 'TooManyRequests'
  | 'InternalError'
  | 'ServiceUnavailable'
  | 'Timeout'
  | 'Unknown';

const REASON_BY_CODE: Record<number, ApiErrorReason> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'RequestEntityTooLarge',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

const KNOWN_REASONS = new Set<string>([...Object.values(REASON_BY_CODE), 'AlreadyExists', 'Expired', 'Unknown']);

/** An error answer from the Kubernetes API (or the in-memory store that imitates it). */
export class ApiError extends LeaseKitError {
  declare readonly code: 'API_ERROR';
  /** HTTP status code. */
  readonly statusCode: number;
  /** The Status reason, e.g. `Conflict` or `AlreadyExists`. */
  readonly reason: ApiErrorReason;
  /** The Status body, always present (synthesised when the server sent none). */
  readonly status: KubeStatus;
  /** Seconds the server asked us to wait (429/503 Retry-After), if any. */
  readonly retryAfterSeconds: number | undefined;

  constructor(status: KubeStatus, options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super('API_ERROR', status.message || `API error ${status.code}`, options);
    this.statusCode = status.code;
    this.reason = classifyReason(status);
    this.status = status;
    this.retryAfterSeconds = options?.retryAfterSeconds ?? status.details?.retryAfterSeconds;
  }
}

function classifyReason(status: KubeStatus): ApiErrorReason {
  if (KNOWN_REASONS.has(status.reason)) return status.reason as ApiErrorReason;
  return REASON_BY_CODE[status.code] ?? 'Unknown';
}

/** Builds a Status object shaped like the real API server's. */
export function makeStatus(
  code: number,
  reason: string,
  message: string,
  details?: KubeStatus['details'],
): KubeStatus {
  const status: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details !== undefined) status.details = details;
  return status;
}

/**
 * An {@link ApiError} for an HTTP error answer that came without a Status body, such as a watch
 * request's error answer. The reason follows the code (403 Forbidden, 410 Gone,
 * 429 TooManyRequests, ...), as for a Status whose reason is not one leasekit knows.
 */
export function apiErrorFromHttpStatus(
  statusCode: number,
  message: string,
  options?: { cause?: unknown; retryAfterSeconds?: number | undefined },
): ApiError {
  const status = makeStatus(statusCode, REASON_BY_CODE[statusCode] ?? 'Unknown', message);
  const { cause, retryAfterSeconds } = options ?? {};
  return new ApiError(status, { ...(cause !== undefined ? { cause } : {}), ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) });
}

/**
 * Seconds from a `Retry-After` header value. Only the delta-seconds form (what the API server
 * sends) is read; an absent, empty, non-numeric, zero or negative value gives undefined.
 */
export function parseRetryAfterSeconds(value: string | readonly string[] | undefined | null): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string' || text.trim() === '') return undefined;
  const seconds = Number(text);
  return Number.isFinite(seconds) && seconds > 0 ? seconds : undefined;
}

/** A request that did not answer within its bound (the per-request timeout or the renew deadline). */
export class RequestTimeoutError extends LeaseKitError {
  declare readonly code: 'REQUEST_TIMEOUT';
  constructor(message: string, options?: { cause?: unknown }) {
    super('REQUEST_TIMEOUT', message, options);
  }
}

/** The API could not be reached (connection refused, reset, DNS, invalid response body). */
export class NetworkError extends LeaseKitError {
  declare readonly code: 'NETWORK_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super('NETWORK_ERROR', message, options);
  }
}

export function isApiError(err: unknown, reason?: ApiErrorReason): err is ApiError {
  return err instanceof ApiError && (reason === undefined || err.reason === reason);
}
export const isConflict = (err: unknown): err is ApiError => isApiError(err, 'Conflict');
export const isAlreadyExists = (err: unknown): err is ApiError => isApiError(err, 'AlreadyExists');
export const isNotFound = (err: unknown): err is ApiError => isApiError(err, 'NotFound');
export const isForbidden = (err: unknown): err is ApiError =>
  isApiError(err, 'Forbidden') || isApiError(err, 'Unauthorized');
export const isRequestTimeout = (err: unknown): err is RequestTimeoutError => err instanceof RequestTimeoutError;

/** A one-line description for logs: `Conflict (409): ...`, `REQUEST_TIMEOUT: ...`. */
export function describeError(err: unknown): string {
  // Never throws: it runs inside error handlers, and a thrown value may be anything (a getter
  // that throws, an object without a prototype whose String() conversion fails).
  try {
    if (err instanceof ApiError) return `${err.reason} (${err.statusCode}): ${err.message}`;
    if (err instanceof LeaseKitError) return `${err.code}: ${err.message}`;
    if (err instanceof Error) return String(err.message);
    return String(err);
  } catch {
    return `[unprintable ${typeof err}]`;
  }
}
