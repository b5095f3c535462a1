/**
 * One open watch stream: newline-delimited JSON events on a chunked 200 response, fed by the
 * store's watch. It ends when the client goes away, the server closes, `timeoutSeconds` passes,
 * a fault cuts it, or the client reads too slowly; every ending releases the store watch and
 * clears the stream's timers. During a hang-mode partition it holds events back and delivers
 * them when the partition heals, as TCP would after lost packets.
 */
import type { ServerResponse } from 'node:http';
import type { Clock, LeaseWatchEvent, TimerHandle } from '@leasekit/k8s-leaderelection';
import type { ClientInfo } from './client-matcher.js';
import type { CutMode } from './faults.js';
import { isFinished } from './http.js';
import { jsonText } from './json-text.js';

/** A client that has this much unread data is cut off (the real server drops slow watchers too). */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** Options for {@link WatchStream}. */
export interface WatchStreamOptions {
  readonly res: ServerResponse;
  readonly client: ClientInfo;
  readonly clock: Clock;
  /** Turns a store event into what goes on the wire (a Table row for kubectl, else as is). */
  readonly encode: (event: LeaseWatchEvent) => unknown;
  /** True while the client is cut off by a hang-mode partition. */
  readonly isQuiet: () => boolean;
  /** Called once when the stream has ended, however it ended. */
  readonly onEnd: () => void;
}

/** A watch response being streamed. */
export class WatchStream {
  readonly client: ClientInfo;
  private readonly held: string[] = [];
  private readonly timers: TimerHandle[] = [];
  private ended = false;

  constructor(private readonly options: WatchStreamOptions) {
    this.client = options.client;
    options.res.on('close', () => this.finish());
  }

  /** Sends the response head at once, so the client knows the watch is established. */
  open(): void {
    const { res } = this.options;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
  }

  /** Queues one event (held back while the client is cut off). */
  send(event: LeaseWatchEvent): void {
    if (this.ended) return;
    this.held.push(`${jsonText(this.options.encode(event))}\n`);
    this.flush();
  }

  /** Writes held events unless the client is still cut off. */
  flush(): void {
    const { res } = this.options;
    if (this.ended || this.options.isQuiet() || isFinished(res)) return;
    for (const line of this.held.splice(0)) res.write(line);
    if (res.writableLength > MAX_BUFFERED_BYTES) this.end('reset');
  }

  /** Ends the stream after `delayMs` (timeoutSeconds, or a fault's watch lifetime). */
  endAfter(delayMs: number, mode: CutMode): void {
    this.timers.push(this.options.clock.setTimeout(() => this.end(mode), delayMs));
  }

  /** Ends the stream: a clean end of the response, or a reset connection. Idempotent. */
  end(mode: CutMode): void {
    const { res } = this.options;
    if (!this.ended && !isFinished(res)) {
      if (mode === 'reset') res.destroy();
      else res.end();
    }
    this.finish();
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.held.length = 0;
    for (const timer of this.timers) this.options.clock.clearTimeout(timer);
    this.options.onEnd();
  }
}
