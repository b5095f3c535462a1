/**
 * Waits for a condition of an over-HTTP test: polls `predicate` every 10 ms, at most `attempts`
 * times (real time, bounded; never a fixed sleep), and fails naming `what` when it never holds.
 */
export async function waitFor(what: string, predicate: () => boolean, attempts = 1000): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}
