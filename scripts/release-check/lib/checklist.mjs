/**
 * The release check's record: every check prints one line as it ends ("ok" or "FAIL" with why,
 * and how long it took), and the summary counts them.
 */
export class Checklist {
  #passed = [];
  #failed = [];

  /**
   * Runs `fn`, which resolves to a short detail on success or throws (or rejects) with what went
   * wrong. Never throws itself; resolves to whether the check passed.
   */
  async check(name, fn) {
    const started = performance.now();
    const took = () => `(${((performance.now() - started) / 1000).toFixed(1)} s)`;
    try {
      const detail = await fn();
      this.#passed.push(name);
      console.log(`  ok    ${name}${detail ? `: ${detail}` : ''} ${took()}`);
      return true;
    } catch (err) {
      this.#failed.push(name);
      const why = err instanceof Error ? err.message : String(err);
      console.log(`  FAIL  ${name} ${took()}\n${indent(why)}`);
      return false;
    }
  }

  get failed() {
    return this.#failed.length;
  }

  summary(seconds) {
    const failed = this.#failed.length ? ` (failed: ${this.#failed.join('; ')})` : '';
    return `release-check: ${this.#passed.length} passed, ${this.#failed.length} failed${failed} in ${seconds.toFixed(1)} s`;
  }
}

function indent(text) {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `        ${line}`)
    .join('\n');
}
