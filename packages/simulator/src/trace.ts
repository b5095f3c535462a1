/**
 * The run's event trace: a ring of the last events (printed with a violation, so the reader sees
 * what led to it), a digest of every event (two runs of one seed must produce the same digest),
 * and an optional sink that prints everything as it happens (`--trace`).
 */
import { fnv1a } from './rng.js';

export const TRACE_RING_SIZE = 40;

export class Trace {
  private readonly ring: string[] = [];
  private digestValue = 0x811c9dc5;
  private count = 0;

  constructor(
    private readonly now: () => number,
    private readonly sink?: (line: string) => void,
    private readonly size = TRACE_RING_SIZE,
  ) {}

  /** Records an event at the current virtual time. */
  add(text: string): void {
    const line = `${formatTime(this.now())}  ${text}`;
    this.digestValue = fnv1a(line, this.digestValue);
    this.count++;
    this.ring.push(line);
    if (this.ring.length > this.size) this.ring.shift();
    this.sink?.(line);
  }

  /** Printed only in verbose mode; not part of the ring or the digest. */
  detail(text: string): void {
    this.sink?.(`${formatTime(this.now())}    ${text}`);
  }

  /** The last events, oldest first. */
  recent(): string[] {
    return [...this.ring];
  }

  /** A hash of every event so far, as 8 hex digits. */
  get digest(): string {
    return this.digestValue.toString(16).padStart(8, '0');
  }

  get events(): number {
    return this.count;
  }
}

/** Virtual time as `t=123.456s`. */
export function formatTime(ms: number): string {
  return `t=${(ms / 1000).toFixed(3)}s`.padStart(12);
}
