/**
 * The embedded API server: `startLeaseApiServer()` serves coordination.k8s.io/v1 Leases over HTTP
 * on an in-memory {@link LeaseStore}, coordination.k8s.io/v1beta1 LeaseCandidates on a
 * {@link CandidateStore} (with an optional coordinator, `coordinator.ts`), and the core Events
 * recorded about Leases (an {@link EventStore}), with discovery and Table printing for kubectl
 * and fault injection for tests.
 *
 * Every request goes through one pipeline: route, partition check, count, fault plan (latency,
 * then hang / error / dropped response), serve. Each request ends when its client disconnects or
 * the server closes, and every wait (latency, hang, partition) ends with it, so none can outlive
 * either; close() ends watch streams, aborts waits and destroys every socket.
 */
import { createServer, IncomingMessage, ServerResponse, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ApiError, ConfigError, type Clock, type LeaseWatchEvent, type Random } from '@leasekit/k8s-leaderelection';
import { sleep, systemClock } from '@leasekit/k8s-leaderelection/internal';
import { CandidateStore, LeaseStore, seededRandom } from '@leasekit/k8s-leaderelection/testing';
import type { ClientInfo } from './client-matcher.js';
import { matchesClient } from './client-matcher.js';
import { Coordinator, type CoordinatorTimings } from './coordinator.js';
import { RequestCounters } from './counters.js';
import { discoveryDocument, type KubernetesVersion } from './discovery.js';
import { EventStore } from './event-store.js';
import { warningHeader } from './fields.js';
import { Faults, type ActivePartition, type FaultTarget, type WatchCutOptions } from './faults.js';
import { isLoopbackHost, urlHost } from './host.js';
import { openApiDocument, openApiIndex } from './openapi.js';
import { V1BETA1_DOCUMENT, V1BETA1_INDEX_PATH } from './openapi-candidates.js';
import { DEFAULT_MAX_BODY_BYTES, methodNotAllowedError, notFoundError, readBody, sendJson, sendRaw, sendStatus, sendText, statusError, statusOf, tableVersionRequested } from './http.js';
import { kubeConfigFor, kubeconfigYaml, type KubeConfigOptions } from './kubeconfig.js';
import { checkUnsupported, labelSelectorOf, parseFieldSelector, parseIncludeObject, parseTimeoutMs } from './query.js';
import { handleEvent, handleStored, type ResourceRequest } from './resources.js';
import { readRequestHead } from './raw-request.js';
import { parseRoute, type ResourceRoute, type Route } from './routes.js';
import { candidateResource, leaseResource, type StoredResource } from './stored-resources.js';
import type { ResourceName, Verb } from './verbs.js';
import { WatchStream } from './watch.js';

/** Options for {@link startLeaseApiServer}. */
export interface LeaseApiServerOptions {
  /** Address to bind. Anything but loopback needs `allowNonLoopback`. @default '127.0.0.1' */
  readonly host?: string;
  /** Port to bind; 0 picks a free one (read it from `url`). @default 0 */
  readonly port?: number;
  /**
   * Allow binding a non-loopback address. The server has no authentication and no TLS: anyone who
   * can reach it can take any Lease. @default false
   */
  readonly allowNonLoopback?: boolean;
  /** The store to serve; share one with in-process MemoryLeaseClients if you like. @default a new LeaseStore */
  readonly store?: LeaseStore;
  /** The LeaseCandidate store to serve (coordination.k8s.io/v1beta1). @default a new CandidateStore */
  readonly candidates?: CandidateStore;
  /**
   * Run the coordinated-leader-election coordinator (OldestEmulationVersion) over the stores:
   * `true` with the real controller's timings, or an object with shorter ones. @default false
   */
  readonly coordinator?: boolean | CoordinatorTimings;
  /** Watch history kept by a store created here (older resourceVersions get 410). @default 1000 */
  readonly historyLimit?: number;
  /** Time source for fault timers, watch timeouts, table ages and a store created here. @default the system clock */
  readonly clock?: Clock;
  /** Randomness for fault rates and ranges. Overrides `seed`. @default Math.random */
  readonly random?: Random;
  /** Seed for fault randomness, for a reproducible run. @default unseeded */
  readonly seed?: number;
  /** Request bodies beyond this are answered 413. @default 3 MiB, like the real server */
  readonly maxBodyBytes?: number;
  /** The version reported on `/version`. @default 1.32 */
  readonly kubernetesVersion?: KubernetesVersion;
  /** Called once per request when its response is over (watches: when the stream ends). */
  readonly onRequest?: (record: RequestRecord) => void;
}

/** One served request, as reported to `onRequest`. */
export interface RequestRecord {
  readonly method: string;
  /** Path and query as sent. */
  readonly url: string;
  /** Set for resource requests. */
  readonly resource: ResourceName | undefined;
  readonly verb: Verb | undefined;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** The status sent, or 0 when no answer was sent (a hang, a dropped response, a reset). */
  readonly statusCode: number;
  /** The fault that shaped the request, if any. */
  readonly fault: 'latency' | 'hang' | 'error' | 'drop' | 'partition' | undefined;
  /** Monotonic time the request arrived (the server's clock). */
  readonly startedAtMs: number;
  readonly durationMs: number;
}

/** A running server. */
export interface LeaseApiServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The Lease store behind the API (read and seed state directly in tests). */
  readonly store: LeaseStore;
  /** The LeaseCandidate store behind `/apis/coordination.k8s.io/v1beta1`. */
  readonly candidates: CandidateStore;
  /** The coordinator, when the `coordinator` option is set. */
  readonly coordinator: Coordinator | undefined;
  /** The Event objects behind `/api/v1/.../events` (those about Leases also land in `store.events`). */
  readonly events: EventStore;
  /** Fault injection; nothing is injected until a rule is added. */
  readonly faults: Faults;
  /** Requests by verb, per resource. */
  readonly counters: RequestCounters;
  /** Watch streams currently open. */
  readonly openWatchCount: number;
  /** A client-node KubeConfig for this server (plain http, so `skipTLSVerify` is set). */
  kubeConfig(options?: KubeConfigOptions): KubeConfig;
  /** Writes a kubeconfig file for this server (mode 0600, directories created); resolves to the path. */
  writeKubeconfig(path: string, options?: KubeConfigOptions): Promise<string>;
  /** Stops serving: ends watch streams, abandons waiting requests, closes every socket, clears every timer. */
  close(): Promise<void>;
}

/** A request in flight, and what ends every wait on its behalf. */
interface InFlight {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly client: ClientInfo;
  fault: RequestRecord['fault'];
  /** Set when its client disconnects or the server closes: nothing more is done for it. */
  ended: boolean;
  /**
   * Aborts when the request ends, for the waits (latency, hang, partition); made only when one
   * needs it, since most requests never wait (a controller per request, aborted when its response
   * closed, cost more than serving a Lease write).
   */
  waits: AbortController | undefined;
}

/** Ends a request's waits (idempotent). */
function endFlight(flight: InFlight): void {
  if (flight.ended) return;
  flight.ended = true;
  flight.waits?.abort();
}

/** The signal that aborts when the request ends (already aborted when it has). */
function flightSignal(flight: InFlight): AbortSignal {
  if (!flight.waits) {
    flight.waits = new AbortController();
    if (flight.ended) flight.waits.abort();
  }
  return flight.waits.signal;
}

/**
 * Starts the server and resolves once it listens. Refuses a non-loopback `host` unless
 * `allowNonLoopback` is set.
 */
export async function startLeaseApiServer(options: LeaseApiServerOptions = {}): Promise<LeaseApiServer> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host) && !options.allowNonLoopback) {
    throw new ConfigError(
      'OPTION_INVALID',
      'host',
      `host (${host}) is not a loopback address: the server has no authentication, so binding ${host} would let anyone who reaches it take any Lease; pass allowNonLoopback (CLI: --allow-remote) if you mean it`,
    );
  }
  const clock = options.clock ?? systemClock;
  const history = options.historyLimit !== undefined ? { historyLimit: options.historyLimit } : {};
  const store = options.store ?? new LeaseStore({ clock, ...history });
  const candidates = options.candidates ?? new CandidateStore({ clock, ...history });
  const timings = options.coordinator === true ? {} : options.coordinator || undefined;
  // Built before binding, so invalid timings fail without a socket to close.
  const coordinator = timings ? new Coordinator({ ...timings, leases: store, candidates, clock }) : undefined;
  const random = options.random ?? (options.seed !== undefined ? seededRandom(options.seed) : undefined);
  const faults = new Faults({ clock, ...(random ? { random } : {}) });
  const server = new LeaseHttpServer({
    store,
    candidates,
    coordinator,
    stored: { leases: leaseResource(store), leasecandidates: candidateResource(candidates) },
    events: new EventStore({ leases: store, clock }),
    faults,
    clock,
    maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    version: options.kubernetesVersion ?? { major: '1', minor: '32' },
    onRequest: options.onRequest,
  });
  const port = await server.listen(host, options.port ?? 0);
  coordinator?.start();
  return server.facade(host, port);
}

interface ServerParts {
  store: LeaseStore;
  candidates: CandidateStore;
  coordinator: Coordinator | undefined;
  stored: Record<StoredResource['resource'], StoredResource>;
  events: EventStore;
  faults: Faults;
  clock: Clock;
  maxBodyBytes: number;
  version: KubernetesVersion;
  onRequest: ((record: RequestRecord) => void) | undefined;
}

class LeaseHttpServer implements FaultTarget {
  readonly counters = new RequestCounters();
  private readonly http: Server;
  private readonly inFlight = new Set<InFlight>();
  private readonly watches = new Set<WatchStream>();
  private readonly sockets = new Set<Socket>();
  /** Sockets Node's HTTP parser gave up on, now answered by {@link serveDetached}. */
  private readonly detached = new WeakSet<Socket>();
  /** Requests held by a hang-mode partition, woken when any partition heals. */
  private readonly healWaiters = new Set<() => void>();
  private readonly detachFaults: () => void;
  private closing: Promise<void> | undefined;
  private serverAddress = '';

  constructor(private readonly parts: ServerParts) {
    this.http = createServer((req, res) => this.handle(req, res));
    this.http.on('clientError', (err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket) => this.clientError(err, socket));
    // CONNECT is not for Leases: answered like any other method a path does not support.
    this.http.on('connect', (req: IncomingMessage, socket: Socket) => this.serveDetached(req, socket));
    this.http.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.detachFaults = parts.faults.attach(this);
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.http.once('error', onError);
      this.http.listen(port, host, () => {
        this.http.off('error', onError);
        const bound = (this.http.address() as AddressInfo).port;
        this.serverAddress = `${urlHost(host)}:${bound}`;
        resolve(bound);
      });
    });
  }

  facade(host: string, port: number): LeaseApiServer {
    const url = `http://${urlHost(host)}:${port}`;
    const watches = this.watches;
    return {
      url,
      host,
      port,
      store: this.parts.store,
      candidates: this.parts.candidates,
      coordinator: this.parts.coordinator,
      events: this.parts.events,
      faults: this.parts.faults,
      counters: this.counters,
      get openWatchCount() {
        return watches.size;
      },
      kubeConfig: (options) => kubeConfigFor(url, options),
      writeKubeconfig: async (path, options) => {
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, kubeconfigYaml(url, options), { mode: 0o600 });
        return path;
      },
      close: () => this.close(),
    };
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.parts.coordinator?.stop();
      this.detachFaults();
      this.parts.faults.dispose();
      for (const flight of this.inFlight) endFlight(flight);
      for (const watch of [...this.watches]) watch.end('end');
      this.http.close(() => resolve());
      this.http.closeAllConnections();
      for (const socket of this.sockets) socket.destroy();
    });
    return this.closing;
  }

  // -- FaultTarget ------------------------------------------------------------------------------

  cutWatches(options: WatchCutOptions): number {
    const victims = [...this.watches].filter((w) => !options.client || matchesClient(options.client, w.client));
    for (const watch of victims) watch.end(options.mode ?? 'end');
    return victims.length;
  }

  partitioned(partition: ActivePartition): void {
    if (partition.mode !== 'reset') return;
    for (const flight of this.inFlight) if (matchesClient(partition.client, flight.client)) flight.req.socket.destroy();
    for (const watch of [...this.watches]) if (matchesClient(partition.client, watch.client)) watch.end('reset');
  }

  healed(): void {
    for (const watch of this.watches) watch.flush();
    for (const wake of [...this.healWaiters]) wake();
  }

  // -- requests Node's HTTP parser does not hand over --------------------------------------------

  /**
   * Malformed HTTP never reaches the handler. What Go's server would refuse as well gets the same
   * bare 400 and a hang-up; a request Go accepts but Node's parser does not (a method that is any
   * token, bytes outside ASCII in the target) is answered through the pipeline, with a Status.
   */
  private clientError(err: Error & { code?: string; rawPacket?: Buffer }, socket: Socket): void {
    // The parser stays in its error state and reports every later chunk again: already answered.
    if (this.detached.has(socket)) return;
    const head = (err.code === 'HPE_INVALID_METHOD' || err.code === 'HPE_INVALID_URL') && err.rawPacket ? readRequestHead(err.rawPacket) : undefined;
    if (head === undefined || !socket.writable) {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request');
      else socket.destroy();
      return;
    }
    const req = new IncomingMessage(socket);
    req.method = head.method;
    req.url = head.url;
    req.headers = head.headers;
    req.rawHeaders = head.rawHeaders;
    req.httpVersionMajor = 1;
    req.httpVersionMinor = head.httpVersionMinor;
    req.httpVersion = `1.${head.httpVersionMinor}`;
    // The body, if any, is beyond the parser: a method Go accepts is answered without one, but a
    // target Go accepts may name a verb that needs it, which cannot be served from here.
    req.push(null);
    req.complete = true;
    const needsBody = head.hasBody && err.code === 'HPE_INVALID_URL';
    this.serveDetached(req, socket, needsBody);
  }

  /**
   * Serves a request on a response bound to its socket by hand (CONNECT, or a head read back by
   * {@link clientError}), through the same pipeline; the connection closes after the answer.
   */
  private serveDetached(req: IncomingMessage, socket: Socket, unreadableBody = false): void {
    this.detached.add(socket);
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.once('finish', () => socket.end());
    if (unreadableBody) {
      sendStatus(res, statusError(400, 'BadRequest', "lease-apiserver cannot read the body of a request whose target has bytes outside ASCII (Node's HTTP parser refuses them)").status);
      return;
    }
    this.handle(req, res);
  }

  // -- the pipeline ----------------------------------------------------------------------------

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const startedAtMs = this.parts.clock.now();
    const flight: InFlight = { req, res, client: { headers: req.headers }, fault: undefined, ended: false, waits: undefined };
    this.inFlight.add(flight);
    let route: Route = { kind: 'notFound' };
    res.once('close', () => {
      this.inFlight.delete(flight);
      endFlight(flight);
      this.report(flight, route, startedAtMs);
    });
    if (this.closing) {
      res.destroy();
      return;
    }
    // Split by hand: `new URL()` would read a path starting with `//` as a host name.
    const target = req.url ?? '/';
    const queryAt = target.indexOf('?');
    const pathname = queryAt < 0 ? target : target.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? '' : target.slice(queryAt + 1));
    route = parseRoute(req.method ?? 'GET', pathname, query);
    this.serve(flight, route, query).catch((err: unknown) => {
      if (!flight.ended) sendStatus(res, statusOf(err));
    });
  }

  private async serve(flight: InFlight, route: Route, query: URLSearchParams): Promise<void> {
    const { res } = flight;

    // 1. A partition cuts the client off from everything, discovery included.
    if (!(await this.passPartition(flight))) return;

    // 2. Non-resource paths: answered at once.
    switch (route.kind) {
      case 'health':
        return sendText(res, 200, 'ok');
      case 'discovery':
        return sendJson(res, 200, discoveryDocument(route.document, this.parts.version, this.serverAddress));
      case 'openapi': {
        if (route.document === 'index') return sendJson(res, 200, openApiIndex({ [V1BETA1_INDEX_PATH]: V1BETA1_DOCUMENT }));
        const { json, etag } = route.document === 'coordinationV1' ? openApiDocument() : { json: V1BETA1_DOCUMENT.json, etag: `"${V1BETA1_DOCUMENT.hash}"` };
        return sendRaw(res, 200, json, { ETag: etag, 'Cache-Control': 'public, immutable' });
      }
      case 'methodNotAllowed':
        throw methodNotAllowedError();
      case 'notFound':
        throw notFoundError();
    }

    // 3. Count, then apply the fault plan.
    this.counters.count(route.resource, route.verb);
    const plan = this.parts.faults.plan({ ...route, headers: flight.req.headers });
    if (plan.latencyMs > 0) {
      flight.fault = 'latency';
      await sleep(this.parts.clock, plan.latencyMs, flightSignal(flight));
      if (flight.ended) return;
    }
    const outcome = plan.outcome;
    if (outcome?.kind === 'hang') {
      flight.fault = 'hang';
      return untilAborted(flightSignal(flight));
    }
    if (outcome?.kind === 'error') {
      flight.fault = 'error';
      return sendStatus(res, outcome.status);
    }

    // 4. Serve.
    const stored = route.resource === 'events' ? undefined : this.parts.stored[route.resource];
    if (route.verb === 'watch' && stored) return this.serveWatch(flight, route, query, stored);
    const request: ResourceRequest = {
      route,
      query,
      headers: flight.req.headers,
      body: () => readBody(flight.req, this.parts.maxBodyBytes),
      nowMs: this.parts.clock.wallNow(),
    };
    const reply = await (stored ? handleStored(stored, request) : handleEvent(this.parts.events, request));
    if (flight.ended) return;

    // 5. A dropped response: the work is done, the client never hears of it.
    if (outcome?.kind === 'drop') {
      flight.fault = 'drop';
      if (outcome.mode === 'reset') flight.req.socket.destroy();
      else return untilAborted(flightSignal(flight));
      return;
    }
    if (reply.warnings?.length) res.setHeader('Warning', reply.warnings.map(warningHeader));
    sendJson(res, reply.code, reply.body);
  }

  /** Holds or resets a partitioned client's request; false when it must not be served. */
  private async passPartition(flight: InFlight): Promise<boolean> {
    for (let partition = this.parts.faults.partitionOf(flight.client); partition; partition = this.parts.faults.partitionOf(flight.client)) {
      flight.fault = 'partition';
      if (partition.mode === 'reset') {
        flight.req.socket.destroy();
        return false;
      }
      // Wait for any partition to heal (then look again: another may still cover this client).
      const signal = flightSignal(flight);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.healWaiters.delete(done);
          signal.removeEventListener('abort', done);
          resolve();
        };
        this.healWaiters.add(done);
        signal.addEventListener('abort', done, { once: true });
        if (signal.aborted) done();
      });
      if (flight.ended) return false;
    }
    return true;
  }

  private serveWatch(flight: InFlight, route: ResourceRoute, query: URLSearchParams, stored: StoredResource): void {
    const { res } = flight;
    checkUnsupported(query);
    const labels = labelSelectorOf(query);
    const selector = parseFieldSelector(query.get('fieldSelector'));
    const timeoutMs = parseTimeoutMs(query);
    const tableVersion = tableVersionRequested(flight.req.headers.accept);
    const includeObject = parseIncludeObject(query);
    const name = route.name ?? selector.name;
    const namespace = route.namespace ?? selector.namespace;
    // sendInitialEvents (the watch-list protocol): the current state, then a bookmark marking its end.
    const sendInitialEvents = query.get('sendInitialEvents') === 'true';
    const resourceVersion = sendInitialEvents ? undefined : (query.get('resourceVersion') ?? undefined);
    const clock = this.parts.clock;
    const faults = this.parts.faults;

    let handle: { stop(): void } | undefined;
    const stream = new WatchStream({
      res,
      client: flight.client,
      clock,
      encode: (event) => (tableVersion && (event.type === 'ADDED' || event.type === 'MODIFIED' || event.type === 'DELETED')
        ? { type: event.type, object: stored.table([event.object], { version: tableVersion, includeObject, nowMs: clock.wallNow() }) }
        : event),
      isQuiet: () => faults.partitionOf(flight.client)?.mode === 'hang',
      onEnd: () => {
        handle?.stop();
        this.watches.delete(stream);
      },
    });
    // The store delivers in microtasks, so the head below goes out before the first event.
    let expired: LeaseWatchEvent | undefined;
    try {
      handle = stored.watch(
        { ...(namespace !== undefined ? { namespace } : {}), ...(name !== undefined ? { name } : {}), ...(resourceVersion !== undefined ? { resourceVersion } : {}), ...labels },
        (event) => stream.send(event),
        () => stream.end('end'),
      );
    } catch (err) {
      // A compacted resourceVersion is not an HTTP error: the stream opens and reports it.
      if (!(err instanceof ApiError && err.statusCode === 410)) throw err;
      expired = { type: 'ERROR', object: { ...err.status } };
    }
    this.watches.add(stream);
    stream.open();
    if (expired) {
      stream.send(expired);
      stream.end('end');
      return;
    }
    if (sendInitialEvents) {
      // Queued after the store's initial ADDED deliveries, so it follows them on the wire.
      queueMicrotask(() => stream.send(initialEventsEnd(stored)));
    }
    if (timeoutMs !== undefined) stream.endAfter(timeoutMs, 'end');
    const lifetime = faults.watchLifetimeFor(flight.client);
    if (lifetime) stream.endAfter(lifetime.ms, lifetime.mode);
  }

  private report(flight: InFlight, route: Route, startedAtMs: number): void {
    const onRequest = this.parts.onRequest;
    if (!onRequest) return;
    const resource = route.kind === 'resource' ? route : undefined;
    const { req, res } = flight;
    try {
      onRequest({
        method: req.method ?? '',
        url: req.url ?? '',
        resource: resource?.resource,
        verb: resource?.verb,
        namespace: resource?.namespace,
        name: resource?.name,
        headers: req.headers,
        statusCode: res.headersSent ? res.statusCode : 0,
        fault: flight.fault,
        startedAtMs,
        durationMs: this.parts.clock.now() - startedAtMs,
      });
    } catch {
      // An observer's failure must not take the server down.
    }
  }
}

/** The BOOKMARK that ends the initial events of a watch-list request. */
function initialEventsEnd(stored: StoredResource): LeaseWatchEvent {
  return {
    type: 'BOOKMARK',
    object: { kind: stored.kind, apiVersion: stored.apiVersion, metadata: { resourceVersion: stored.resourceVersion(), annotations: { 'k8s.io/initial-events-end': 'true' } } },
  };
}

/** Resolves when `signal` aborts (the client left or the server closed). */
function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
