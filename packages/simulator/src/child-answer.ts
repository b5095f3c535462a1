/**
 * What a child process (child.ts, shards/shard-child.ts) answers: it runs a simulation or a sweep
 * and writes the results, the real time taken and its unhandledRejection listeners before and
 * after, as JSON on stdout.
 */

export interface ChildAnswer<Summary, Result> {
  summary?: Summary;
  results: Result[];
  realMs: number;
  unhandledRejectionListeners: { before: number; after: number };
}

/** Runs `run` (it pushes each result; a sweep returns its summary) and writes the answer on stdout. */
export async function answer<Summary, Result>(run: (results: Result[]) => Promise<Summary | undefined>): Promise<void> {
  const before = process.listenerCount('unhandledRejection');
  const started = performance.now();
  const results: Result[] = [];
  const summary = await run(results);
  const response: ChildAnswer<Summary, Result> = {
    ...(summary ? { summary } : {}),
    results,
    realMs: performance.now() - started,
    unhandledRejectionListeners: { before, after: process.listenerCount('unhandledRejection') },
  };
  process.stdout.write(JSON.stringify(response));
}
