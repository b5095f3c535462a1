import { describe, expect, it } from '@jest/globals';
import { NetworkError } from './errors.js';
import { MAX_WATCH_LINE_CHARS, WatchLines } from './watch-lines.js';

function collect(maxLineChars?: number): { lines: string[]; splitter: WatchLines } {
  const lines: string[] = [];
  return { lines, splitter: new WatchLines((line) => lines.push(line), maxLineChars) };
}

describe('WatchLines', () => {
  it('delivers each complete line of a chunk in order and holds the unfinished one', () => {
    const { lines, splitter } = collect();
    splitter.push(Buffer.from('{"a":1}\n{"b":2}\n{"c"'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    splitter.push(Buffer.from(':3}\n'));
    expect(lines).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('joins a line cut across many chunks, also where a chunk holds no newline at all', () => {
    const { lines, splitter } = collect();
    for (const part of ['{"ty', 'pe":"ADDED",', '"object":{}', '}', '\n']) splitter.push(Buffer.from(part));
    expect(lines).toEqual(['{"type":"ADDED","object":{}}']);
  });

  it('decodes a multi-byte character split between two chunks whole', () => {
    const { lines, splitter } = collect();
    const bytes = Buffer.from('{"holder":"zoë-日本"}\n', 'utf8');
    const cut = bytes.indexOf(Buffer.from('日', 'utf8')) + 1; // inside the 3-byte sequence
    splitter.push(bytes.subarray(0, cut));
    splitter.push(bytes.subarray(cut));
    expect(lines).toEqual(['{"holder":"zoë-日本"}']);
  });

  it('drops the "\\r" of a CRLF line end and delivers blank keep-alive lines as empty', () => {
    const { lines, splitter } = collect();
    splitter.push('{"a":1}\r\n\n{"b":2}\r');
    splitter.push('\n');
    expect(lines).toEqual(['{"a":1}', '', '{"b":2}']);
  });

  it('delivers a last line without a newline when the stream ends, and nothing more when none is left', () => {
    const { lines, splitter } = collect();
    splitter.push('{"a":1}\n{"b":2}');
    expect(lines).toEqual(['{"a":1}']);
    splitter.end();
    expect(lines).toEqual(['{"a":1}', '{"b":2}']);
    const empty = collect();
    empty.splitter.push('{"a":1}\n');
    empty.splitter.end();
    expect(empty.lines).toEqual(['{"a":1}']);
  });

  it('throws a NetworkError naming the cap when a line grows past it, whether in one chunk or many', () => {
    const one = collect(10);
    expect(() => one.splitter.push('0123456789x')).toThrow(NetworkError);
    expect(() => collect(10).splitter.push('0123456789x')).toThrow('longer than 10 characters');
    const many = collect(10);
    many.splitter.push('01234');
    many.splitter.push('56789');
    expect(() => many.splitter.push('x')).toThrow(NetworkError);
    // A line of exactly the cap is fine.
    const exact = collect(10);
    exact.splitter.push('0123456789');
    exact.splitter.push('\n');
    expect(exact.lines).toEqual(['0123456789']);
  });

  it('lets a line of a large Lease through: the default cap is far above any object the API server keeps', () => {
    expect(MAX_WATCH_LINE_CHARS).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    const { lines, splitter } = collect();
    const big = `{"x":"${'a'.repeat(2 * 1024 * 1024)}"}`;
    for (let i = 0; i < big.length; i += 65_536) splitter.push(Buffer.from(big.slice(i, i + 65_536)));
    splitter.push('\n');
    expect(lines).toEqual([big]);
  });

  it('passes a throwing callback error through and stops delivering that chunk', () => {
    const seen: string[] = [];
    const splitter = new WatchLines((line) => {
      seen.push(line);
      if (line === 'b') throw new Error('hook failed');
    });
    expect(() => splitter.push('a\nb\nc\n')).toThrow('hook failed');
    expect(seen).toEqual(['a', 'b']);
  });
});
