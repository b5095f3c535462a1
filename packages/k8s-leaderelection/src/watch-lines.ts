/**
 * Splits a watch stream into its lines (one JSON event each), the job node:readline did, with a
 * cap: readline held a line that never ends (a broken stream or proxy) without bound. It also
 * costs less a line (about 0.2 to 0.5 us against readline's 1 us, warm; on a handover's path
 * neither shows above the bench's noise, see docs/benchmarks.md). Lines end at "\n" (a "\r"
 * before it is dropped); multi-byte characters split across chunks are decoded whole; the last
 * line is delivered at {@link WatchLines.end} even without a newline, as readline did. A line
 * longer than the cap is a broken stream, not a reason to hold memory without bound.
 */
import { StringDecoder } from 'node:string_decoder';
import { NetworkError } from './errors.js';

/**
 * Longest line accepted, in UTF-16 code units. The API server keeps objects under about 1.5 MiB
 * (etcd's request limit) and a watch event is one object: 16 Mi leaves room for any Lease.
 */
export const MAX_WATCH_LINE_CHARS = 16 * 1024 * 1024;

export class WatchLines {
  private readonly decoder = new StringDecoder('utf8');
  /** The start of a line whose end has not arrived yet. */
  private pending = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineChars: number = MAX_WATCH_LINE_CHARS,
  ) {}

  /**
   * Takes the next chunk and delivers every line it completes, in order. Throws a NetworkError
   * when a line (without its "\r\n" or "\n") is longer than the cap, however the chunks cut it,
   * and delivers none after it (the caller ends the stream); a throwing `onLine` stops the
   * delivery of this chunk's remaining lines and its error passes through.
   */
  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let newline = text.indexOf('\n');
    if (newline === -1) {
      this.hold(text);
      return;
    }
    const first = this.pending + text.slice(0, newline);
    this.pending = '';
    this.deliver(first);
    let start = newline + 1;
    while ((newline = text.indexOf('\n', start)) !== -1) {
      this.deliver(text.slice(start, newline));
      start = newline + 1;
    }
    this.hold(text.slice(start));
  }

  /** The stream ended: delivers what is left as the last line (nothing when empty). */
  end(): void {
    const rest = this.pending + this.decoder.end();
    this.pending = '';
    if (rest !== '') this.deliver(rest);
  }

  private hold(text: string): void {
    if (text === '') return;
    this.pending += text;
    // A "\r" at the end may be the first half of a "\r\n", so it does not count yet: a line of
    // exactly the cap passes whether or not its "\r" and "\n" arrive in one chunk. Read from
    // `text`, not `pending`: endsWith on the concatenated string flattens it, a copy of the whole
    // line per chunk (seconds for a 16 Mi line).
    if (this.pending.length - (text.endsWith('\r') ? 1 : 0) > this.maxLineChars) {
      this.pending = '';
      throw this.tooLong();
    }
  }

  private deliver(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    // Checked here too: a line whose last characters arrive in the chunk that ends it (or at the
    // end of the stream) was never held whole, and came through one past the cap.
    if (text.length > this.maxLineChars) throw this.tooLong();
    this.onLine(text);
  }

  private tooLong(): NetworkError {
    return new NetworkError(`a watch event line is longer than ${this.maxLineChars} characters; the stream is broken`);
  }
}
