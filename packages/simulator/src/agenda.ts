/**
 * A run's agenda: what happens at a virtual time (a fault's start or end, a restart), in time
 * order, and in the order scheduled among items due at the same time.
 */

/** One agenda entry. */
export interface AgendaItem {
  readonly atMs: number;
  readonly seq: number;
  readonly run: () => void;
}

export class Agenda {
  private readonly items: AgendaItem[] = [];
  private seq = 0;

  constructor(private readonly now: () => number) {}

  /** Schedules `run` `delayMs` from now (a negative delay: now). */
  at(delayMs: number, run: () => void): void {
    const item: AgendaItem = { atMs: this.now() + Math.max(0, delayMs), seq: this.seq++, run };
    let i = this.items.length;
    while (i > 0 && (this.items[i - 1]!.atMs > item.atMs || (this.items[i - 1]!.atMs === item.atMs && this.items[i - 1]!.seq > item.seq))) i--;
    this.items.splice(i, 0, item);
  }

  /** When the next item is due (Infinity: none). */
  get nextMs(): number {
    return this.items[0]?.atMs ?? Infinity;
  }

  /** Removes and returns the first item due by now, if any. */
  takeNext(): AgendaItem | undefined {
    return this.items.length > 0 && this.items[0]!.atMs <= this.now() ? this.items.shift() : undefined;
  }

  /** Removes and returns every item due by now. */
  takeDue(): AgendaItem[] {
    const due: AgendaItem[] = [];
    for (let item = this.takeNext(); item; item = this.takeNext()) due.push(item);
    return due;
  }

  clear(): void {
    this.items.length = 0;
  }
}
