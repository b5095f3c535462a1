/** A machine's wall-clock faults, kept per replica slot (they outlive a process): standing still, stepping back. */

/**
 * What a replica's wall clock reads, given what it would read unfaulted. Monotonic time is never
 * affected: only `wallNow()` (the times an elector writes into the Lease).
 */
export class WallClockFaults {
  /** Added to the unfaulted reading (negative after a step back, or after a freeze it resumed from). */
  private offsetMs = 0;
  /** While frozen: the reading it stands still at, and the virtual time it froze. */
  private frozen: { readingMs: number; sinceVirtualMs: number } | undefined;

  read(unfaultedMs: number): number {
    return this.frozen ? this.frozen.readingMs : unfaultedMs + this.offsetMs;
  }

  get isFrozen(): boolean {
    return this.frozen !== undefined;
  }

  /** Stands still at `readingMs` (the clock's reading now) from virtual time `virtualNowMs`. */
  freeze(readingMs: number, virtualNowMs: number): void {
    if (!this.frozen) this.frozen = { readingMs, sinceVirtualMs: virtualNowMs };
  }

  /**
   * Runs again: either on from where it stood (now behind by the time it stood still) or jumping
   * to its unfaulted reading (an NTP step forward).
   */
  unfreeze(virtualNowMs: number, resume: 'from-where-it-stood' | 'jump-forward'): void {
    const frozen = this.frozen;
    if (!frozen) return;
    this.frozen = undefined;
    if (resume === 'from-where-it-stood') this.offsetMs -= virtualNowMs - frozen.sinceVirtualMs;
  }

  /** Steps back by `ms` (a wrong NTP step, a VM restored from a snapshot), and stays back. */
  stepBack(ms: number): void {
    this.offsetMs -= ms;
    if (this.frozen) this.frozen = { ...this.frozen, readingMs: this.frozen.readingMs - ms };
  }
}
