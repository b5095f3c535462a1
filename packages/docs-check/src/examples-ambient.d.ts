// Application functions the documentation's examples call: the reader's own leader-only work.
declare function startReconciling(signal: AbortSignal, fencingToken: number): void;
declare function reconcileUntil(signal: AbortSignal, fencingToken: number): Promise<void>;
declare function startWork(signal: AbortSignal): void;
/** The reader's leader-only work in the adapter's README (informers, a reconcile loop, ...). */
declare class Reconciler {
  constructor(fencingToken: number);
  start(): void;
  stop(): Promise<void>;
}
