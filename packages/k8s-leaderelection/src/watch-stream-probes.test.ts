/**
 * Probes of the watch stream: WatchLines under every chunking, at its cap's boundary, and
 * KubeLeaseClient's watch over real HTTP on 127.0.0.1 (raw server, short timings, bounded polls)
 * when a hook aborts or throws with more events in the same chunk, when the stream is cut inside
 * a line, and when a line passes the cap in its last chunk.
 */
import { afterEach, describe, expect, it } from '@jest/globals';
import { kubeConfigFor } from './__tests__/kube-config.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { NetworkError } from './errors.js';
import { KubeLeaseClient } from './lease-lock.js';
import type { Lease, LeaseWatchEvent } from './lease.js';
import { MAX_WATCH_LINE_CHARS, WatchLines } from './watch-lines.js';
import { waitFor } from './__tests__/wait-for.js';

function splitter(maxLineChars?: number): { lines: string[]; watchLines: WatchLines } {
  const lines: string[] = [];
  return { lines, watchLines: new WatchLines((line) => lines.push(line), maxLineChars) };
}

/** Lines with 2-, 3- and 4-byte characters, CRLF and LF ends, blank and non-JSON lines, and a last line without newline. */
const LINES = ['{"a":"zoë"}', '', 'not json', '{"b":"日本"}', '   ', '{"c":"🦀é"}', '{"d":"x"}'];
const ENDS = ['\r\n', '\n', '\n', '\r\n', '\n', '\n', ''];
const STREAM = Buffer.from(LINES.map((line, i) => line + ENDS[i]!).join(''), 'utf8');

function linesOf(chunks: Buffer[]): string[] {
  const { lines, watchLines } = splitter();
  for (const chunk of chunks) watchLines.push(chunk);
  watchLines.end();
  return lines;
}

describe('WatchLines probes: any chunking gives the same lines', () => {
  it('delivers the same lines, each once and in order, for every way of cutting the bytes into three chunks', () => {
    const mismatches: string[] = [];
    for (let i = 0; i <= STREAM.length; i++) {
      for (let j = i; j <= STREAM.length; j++) {
        const got = linesOf([STREAM.subarray(0, i), STREAM.subarray(i, j), STREAM.subarray(j)]);
        if (JSON.stringify(got) !== JSON.stringify(LINES)) mismatches.push(`${i},${j}: ${JSON.stringify(got)}`);
      }
    }
    expect(mismatches.slice(0, 3)).toEqual([]);
  });
});

describe('WatchLines probes: the cap does not depend on where chunks end', () => {
  it('throws for a line one past the cap whose last character arrives with its newline', () => {
    const { lines, watchLines } = splitter(10);
    watchLines.push('0123456789');
    expect(() => watchLines.push('x\n')).toThrow(NetworkError);
    expect(lines).toEqual([]);
  });

  it('throws for a line past the cap that a single chunk holds whole, and delivers nothing after it', () => {
    const { lines, watchLines } = splitter(10);
    expect(() => watchLines.push('ok\n0123456789x\nlater\n')).toThrow(NetworkError);
    expect(lines).toEqual(['ok']);
  });

  it('throws for a last line past the cap that only the end of the stream completes', () => {
    const { lines, watchLines } = splitter(10);
    const bytes = Buffer.from('0123456789é', 'utf8');
    watchLines.push(bytes.subarray(0, bytes.length - 1)); // ten characters and half of "é"
    expect(() => watchLines.end()).toThrow(NetworkError);
    expect(lines).toEqual([]);
  });

  it('accepts a line of exactly the cap ending in CRLF also when "\\r" and "\\n" arrive apart, and throws once the held "\\r" turns out to be the line\'s', () => {
    const whole = splitter(10);
    whole.watchLines.push('0123456789\r\n');
    const cut = splitter(10);
    cut.watchLines.push('0123456789\r');
    cut.watchLines.push('\n');
    expect(whole.lines).toEqual(['0123456789']);
    expect(cut.lines).toEqual(['0123456789']);
    const longer = splitter(10);
    longer.watchLines.push('0123456789\r');
    expect(() => longer.watchLines.push('x')).toThrow(NetworkError);
  });
});

// ---------------------------------------------------------------------------------------------
// Over HTTP: a raw server whose every answer the test writes itself.

const NS = 'default';
const NAME = 'my-lease';

interface RawServer {
  url: string;
  /** Server-side sockets currently open. */
  sockets: Set<Socket>;
  server: Server;
}

const servers: RawServer[] = [];

afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (s) =>
        new Promise<void>((resolve) => {
          s.server.closeAllConnections();
          s.server.close(() => resolve());
        }),
    ),
  );
});

async function rawServer(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server = createServer(answer);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const s = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, sockets, server };
  servers.push(s);
  return s;
}

function client(url: string): KubeLeaseClient {
  return new KubeLeaseClient(kubeConfigFor(url));
}

async function outcome(promise: Promise<unknown>): Promise<{ resolved: true } | { rejected: unknown }> {
  try {
    await promise;
    return { resolved: true };
  } catch (err) {
    return { rejected: err };
  }
}

function event(type: string, holder: string): LeaseWatchEvent {
  return { type, object: { metadata: { name: NAME, namespace: NS }, spec: { holderIdentity: holder } } } as LeaseWatchEvent;
}

const line = (e: LeaseWatchEvent): string => `${JSON.stringify(e)}\n`;
const holders = (events: LeaseWatchEvent[]): string[] => events.map((e) => `${e.type}:${(e.object as Lease).spec?.holderIdentity ?? ''}`);

/** Answers a watch with 200 and `body` in one write, keeping the stream open. */
function oneChunk(body: string): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write(body);
  };
}

describe('KubeLeaseClient watch probes: every line, any chunking', () => {
  it('delivers exactly the events of a stream written one byte per write, skipping blank, non-JSON and non-event lines', async () => {
    const events = [event('ADDED', 'zoë'), event('MODIFIED', '日本'), event('MODIFIED', '🦀'), event('DELETED', 'é')];
    const text = [
      `${JSON.stringify(events[0])}\r\n`,
      '\n',
      'not json\n',
      '{"type":"ADDED"}\n', // no object: not an event
      'null\n',
      `${JSON.stringify(events[1])}\n`,
      '  \r\n',
      `${JSON.stringify(events[2])}\r\n`,
      JSON.stringify(events[3]), // the last, without a newline
    ].join('');
    const bytes = Buffer.from(text, 'utf8');
    const s = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      let at = 0;
      const next = (): void => {
        if (at === bytes.length) res.end();
        else res.write(bytes.subarray(at, ++at), () => setImmediate(next));
      };
      next();
    });
    const seen: LeaseWatchEvent[] = [];
    await client(s.url).watch(NS, NAME, { signal: new AbortController().signal, onEvent: (e) => seen.push(e) });
    expect(seen).toEqual(events);
  });
});

describe('KubeLeaseClient watch probes: a hook that ends the watch', () => {
  it('delivers nothing after onEvent aborted the signal, though the chunk held more events; resolves and closes the socket', async () => {
    const s = await rawServer(oneChunk(line(event('ADDED', 'a')) + line(event('MODIFIED', 'b')) + line(event('MODIFIED', 'c'))));
    const controller = new AbortController();
    const seen: LeaseWatchEvent[] = [];
    const result = await outcome(
      client(s.url).watch(NS, NAME, {
        signal: controller.signal,
        onEvent: (e) => {
          seen.push(e);
          controller.abort();
        },
      }),
    );
    expect(result).toEqual({ resolved: true });
    expect(holders(seen)).toEqual(['ADDED:a']);
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });

  it('rejects with the very error onEvent threw, calls it for no later event of the chunk, and closes the socket', async () => {
    const s = await rawServer(oneChunk(line(event('ADDED', 'a')) + line(event('MODIFIED', 'b')) + line(event('MODIFIED', 'c'))));
    const thrown = new Error('hook broke');
    let calls = 0;
    const result = await outcome(
      client(s.url).watch(NS, NAME, {
        signal: new AbortController().signal,
        onEvent: () => {
          calls++;
          throw thrown;
        },
      }),
    );
    expect(result).toEqual({ rejected: thrown });
    expect(calls).toBe(1);
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });

  it('rejects with the error onOpen threw and delivers none of the events that came with the headers', async () => {
    const s = await rawServer((_req, res) => {
      // Headers and events in one write: the first chunk may hold both.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(line(event('ADDED', 'a')) + line(event('MODIFIED', 'b')));
    });
    const thrown = new Error('onOpen broke');
    const seen: LeaseWatchEvent[] = [];
    const result = await outcome(
      client(s.url).watch(NS, NAME, {
        signal: new AbortController().signal,
        onOpen: () => {
          throw thrown;
        },
        onEvent: (e) => seen.push(e),
      }),
    );
    expect(result).toEqual({ rejected: thrown });
    expect(seen).toEqual([]);
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });
});

describe('KubeLeaseClient watch probes: a broken stream', () => {
  it('rejects with a NetworkError and does not deliver a last line cut off by the socket closing, even one that parses', async () => {
    const s = await rawServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // A whole event without its newline, then the connection dies (no terminating chunk).
      res.write(line(event('ADDED', 'a')) + JSON.stringify(event('MODIFIED', 'cut')), () => req.socket.destroy());
    });
    const seen: LeaseWatchEvent[] = [];
    const result = await outcome(client(s.url).watch(NS, NAME, { signal: new AbortController().signal, onEvent: (e) => seen.push(e) }));
    expect(holders(seen)).toEqual(['ADDED:a']);
    expect((result as { rejected: unknown }).rejected).toBeInstanceOf(NetworkError);
  });

  it('rejects with a NetworkError, delivers no event and closes its socket when an event line one past the cap ends in its last chunk', async () => {
    const head = '{"type":"ADDED","object":{"metadata":{"name":"my-lease"},"pad":"';
    const tail = '"}}';
    const text = head + 'a'.repeat(MAX_WATCH_LINE_CHARS + 1 - head.length - tail.length) + tail;
    expect(text).toHaveLength(MAX_WATCH_LINE_CHARS + 1);
    const s = await rawServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      // All but the last 64 characters, then those with the newline: the line completes in a small
      // chunk. The stream then ends, so a line let through ends the test at once, not at its timeout.
      res.write(text.slice(0, -64), () => res.end(`${text.slice(-64)}\n`));
    });
    const seen: LeaseWatchEvent[] = [];
    const result = await outcome(client(s.url).watch(NS, NAME, { signal: new AbortController().signal, onEvent: (e) => seen.push(e) }));
    expect(seen.length).toBe(0); // a count: a failure must not print the 16 Mi line
    expect((result as { rejected: unknown }).rejected).toBeInstanceOf(NetworkError);
    await waitFor('the client to close its socket', () => s.sockets.size === 0);
  });
});
