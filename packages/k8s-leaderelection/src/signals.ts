/**
 * A signal that aborts when any of several signals aborts, and can be taken apart again.
 *
 * `AbortSignal.any()` keeps a record of every signal made from a long-lived source (here the run
 * signal, which lives as long as the process) until garbage collection gets round to it; an
 * elector makes one per term, so a replica leading for months would keep growing. This one only
 * adds listeners, and `dispose()` removes them.
 */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Detaches from the sources; the signal no longer follows them. Idempotent. */
  dispose(): void;
}

export function linkSignals(sources: readonly AbortSignal[]): LinkedSignal {
  const controller = new AbortController();
  const attached: Array<[AbortSignal, () => void]> = [];
  const dispose = (): void => {
    for (const [source, listener] of attached.splice(0)) source.removeEventListener('abort', listener);
  };
  for (const source of sources) {
    if (source.aborted) {
      dispose();
      controller.abort(source.reason);
      break;
    }
    const listener = (): void => {
      dispose();
      controller.abort(source.reason);
    };
    source.addEventListener('abort', listener, { once: true });
    attached.push([source, listener]);
  }
  return { signal: controller.signal, dispose };
}

/**
 * The reason our own aborts of a stream's or loop's signal carry: the AbortError a bare `abort()`
 * gives, built once. A bare `abort()` builds a new DOMException, stack trace included, each time,
 * and several were on every handover's path; a LeaseClient reading the reason sees the same name,
 * code and message.
 */
export const ABORT_ERROR: DOMException = new DOMException('This operation was aborted', 'AbortError');
