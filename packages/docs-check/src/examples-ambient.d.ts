// Application functions the documentation's examples call: the reader's own leader-only work.
declare function startReconciling(signal: AbortSignal, fencingToken: number): void;
declare function reconcileUntil(signal: AbortSignal, fencingToken: number): Promise<void>;
declare function startWork(signal: AbortSignal): void;
/** The reader's desired-state changes, until `signal` aborts. */
declare function desiredChanges(signal: AbortSignal): AsyncIterable<unknown>;
/** The reader's write to the resource the leader owns, rejected there if `fencingToken` is older than one already seen. */
declare function applyFenced(change: unknown, fencingToken: number): Promise<void>;
/** The reader's leader-only work in the adapter's README (informers, a reconcile loop, ...). */
declare class Reconciler {
  constructor(fencingToken: number);
  start(): void;
  stop(): Promise<void>;
}
