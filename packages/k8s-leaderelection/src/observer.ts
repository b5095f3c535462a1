/**
 * Diagnostics hooks, so an adapter can export metrics without the pure package depending on a
 * metrics library. Every hook is optional; exceptions thrown by hooks are caught and logged.
 */
import type { ApiErrorReason } from './errors.js';

/** Which step of the algorithm sent a request. */
export type RequestPurpose = 'acquire' | 'renew' | 'release' | 'observe';

/** Why a leadership term ended. */
export type StopReason =
  /** Renewals kept failing until the renew deadline (or the lease guarantee) ran out. */
  | 'renew_failed'
  /** The Lease now names another holder (someone took it or rewrote it). */
  | 'lease_taken'
  /** The Lease was deleted and could not be recreated by us. */
  | 'lease_deleted'
  /** `run()`'s signal aborted: shutdown (the lease is released unless `releaseOnCancel` is false). */
  | 'released'
  /** `resign()` was called. */
  | 'resigned'
  /**
   * The lease was handed to a named replica: `resign({ to })` was called, or the Lease's
   * `preferredHolder` names another replica (client-go's coordinated leader election).
   */
  | 'handed_over'
  /** `onStartedLeading` threw or rejected, and `onStartedLeadingFailure` is `'resign'`. */
  | 'work_failed';

export interface RequestInfo {
  purpose: RequestPurpose;
  verb: 'get' | 'create' | 'update';
  durationMs: number;
  /** Undefined on success and when cancelled. A Status reason, or `Timeout`/`NetworkError`/`Unknown`. */
  errorReason?: ApiErrorReason | 'NetworkError';
  /**
   * True when stopping (the run's signal aborting) cut the request short before an answer: no
   * failure of the API server, so it carries no `errorReason`.
   */
  cancelled?: true;
}

export interface ElectorObserver {
  /** After every API request the elector made. */
  onRequest?(info: RequestInfo): void;
  /**
   * client-go's slowpath: the slow path (after a GET) is about to write a record that names this
   * replica, after a failed fast-path renewal or on finding our own identity after a restart.
   * Not when the GET fails or another holder is found.
   */
  onSlowPath?(): void;
  /** A renewal (or the acquisition) succeeded; `wallTimeMs` is what was written as renewTime. */
  onRenewed?(info: { wallTimeMs: number }): void;
  /** This replica acquired the lease; `token` is the new term's fencing token. */
  onAcquired?(info: { token: number }): void;
  /** A leadership term ended. */
  onLeadershipEnded?(info: { reason: StopReason; heldMs: number }): void;
}
