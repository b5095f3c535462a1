/**
 * Test helpers: components on one fake clock and one in-memory Lease store (and the usual ways to
 * start them), a recorder of every event and callback in one timeline, a capturing logger, and a
 * tiny parser for prom-client's text exposition so tests assert metric values, not strings.
 */
import { expect } from '@jest/globals';
import type { Registry } from 'prom-client';
import type { ElectorObserver, LeaderCallbacks, Logger, LogFields } from '@leasekit/k8s-leaderelection';
import { FakeClock, LeaseStore, MemoryLeaseClient, seededRandom, type MemoryLeaseClientOptions } from '@leasekit/k8s-leaderelection/testing';
import { LeaderElectionComponent } from '../component.js';
import type { LeaderElectionComponentConfig } from '../config.js';
import type { EventEmitter } from 'eventemitter3';
import { createLeaderElectionBus, LEADER_ELECTION_EVENTS, type LeaderElectionEventName, type LeaderElectionEvents } from '../events.js';

type Bus = EventEmitter<LeaderElectionEvents>;

export const NS = 'default';
export const LEASE = 'my-lease';
/** FakeClock's wall time at monotonic 0 (2025-01-01T00:00:00Z), in seconds. */
export const START_WALL_S = Date.UTC(2025, 0, 1) / 1000;

/** One entry of a replica's timeline: an event it published, or a callback it received. */
export type TimelineEntry =
  | { kind: 'event'; name: LeaderElectionEventName; payload: Record<string, unknown>; atMs: number }
  | { kind: 'callback'; name: 'onStartedLeading' | 'onStoppedLeading' | 'onNewLeader'; args: unknown[]; atMs: number };

export interface CapturedLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields: LogFields | undefined;
}

/** A logger that keeps everything, for asserting that failures were reported. */
export function capturingLogger(): Logger & { entries: CapturedLog[] } {
  const entries: CapturedLog[] = [];
  const at = (level: CapturedLog['level']) => (message: string, fields?: LogFields) => entries.push({ level, message, fields });
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface ReplicaOptions {
  config?: Partial<LeaderElectionComponentConfig>;
  client?: MemoryLeaseClientOptions;
  callbacks?: LeaderCallbacks;
  bus?: Bus;
  registry?: Registry;
  observer?: ElectorObserver;
}

export interface Replica {
  id: string;
  component: LeaderElectionComponent<Bus>;
  client: MemoryLeaseClient;
  bus: Bus;
  log: ReturnType<typeof capturingLogger>;
  timeline: TimelineEntry[];
  controller: AbortController;
  done: Promise<void> | undefined;
  /** Only the events, as `[name, payload]`. */
  events(): Array<[LeaderElectionEventName, Record<string, unknown>]>;
  /** The entries' names in order, e.g. `['event:leader.became', 'callback:onStartedLeading']`. */
  names(): string[];
  start(): void;
  /** Aborts the signal and advances the clock until `run()` has resolved. */
  stop(): Promise<void>;
}

export interface World {
  clock: FakeClock;
  store: LeaseStore;
  /** Pre-creates the Lease, so a replica acquires it without waiting (see the elector's safety rule). */
  createLease(name?: string): void;
  replica(id: string, options?: ReplicaOptions): Replica;
}

export function world(seed = 1): World {
  const clock = new FakeClock();
  const store = new LeaseStore({ clock });
  let n = 0;
  return {
    clock,
    store,
    createLease(name = LEASE) {
      store.create(NS, { metadata: { name } });
    },
    replica(id, options = {}) {
      const client = new MemoryLeaseClient(store, { clock, ...options.client });
      const bus = options.bus ?? createLeaderElectionBus();
      const log = capturingLogger();
      const timeline: TimelineEntry[] = [];
      for (const name of Object.values(LEADER_ELECTION_EVENTS)) {
        bus.on(name, (payload: object) => {
          timeline.push({ kind: 'event', name, payload: { ...payload }, atMs: clock.now() });
        });
      }
      const user = options.callbacks ?? {};
      const callbacks: LeaderCallbacks = {
        onStartedLeading: (signal, term) => {
          timeline.push({ kind: 'callback', name: 'onStartedLeading', args: [signal, term], atMs: clock.now() });
          return user.onStartedLeading?.(signal, term);
        },
        onStoppedLeading: (info) => {
          timeline.push({ kind: 'callback', name: 'onStoppedLeading', args: [info], atMs: clock.now() });
          return user.onStoppedLeading?.(info);
        },
        onNewLeader: (identity) => {
          timeline.push({ kind: 'callback', name: 'onNewLeader', args: [identity], atMs: clock.now() });
          return user.onNewLeader?.(identity);
        },
      };
      const component = new LeaderElectionComponent(
        {
          identity: id,
          leaseName: LEASE,
          leaseNamespace: NS,
          clock,
          random: seededRandom(seed * 1000 + ++n),
          followerStrategy: 'poll',
          ...(options.registry ? { registry: options.registry } : {}),
          ...(options.observer ? { observer: options.observer } : {}),
          ...options.config,
        },
        client,
        bus,
        callbacks,
        log,
      );
      const replica: Replica = {
        id,
        component,
        client,
        bus,
        log,
        timeline,
        controller: new AbortController(),
        done: undefined,
        events: () => timeline.flatMap((e) => (e.kind === 'event' ? [[e.name, e.payload] as [LeaderElectionEventName, Record<string, unknown>]] : [])),
        names: () => timeline.map((e) => `${e.kind}:${e.name}`),
        start() {
          replica.controller = new AbortController();
          replica.done = component.run(replica.controller.signal);
        },
        async stop() {
          replica.controller.abort();
          let finished = false;
          void replica.done?.then(() => (finished = true));
          await clock.advanceUntil(() => finished, 60_000);
          await replica.done;
        },
      };
      return replica;
    },
  };
}

/** Starts `leader`, runs the clock 0 ms (it takes the pre-created Lease), then starts `others`. */
export async function leaderFirst(w: World, leader: Replica, others: readonly Replica[]): Promise<void> {
  leader.start();
  await w.clock.advance(0);
  for (const r of others) r.start();
}

/** Starts `leader` (which takes the pre-created Lease at once, asserted), then each of `others` 5 s apart, then runs 5 s more. */
export async function joinedApart(w: World, leader: Replica, others: readonly Replica[]): Promise<void> {
  leader.start();
  await w.clock.advance(0);
  expect(leader.component.isLeader()).toBe(true);
  for (const r of others) {
    await w.clock.advance(5_000);
    r.start();
  }
  await w.clock.advance(5_000);
}

/** One sample of the text exposition: metric name, labels, value. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The parsed text exposition: samples, and HELP/TYPE per metric family. */
export interface Exposition {
  samples: Sample[];
  help: Map<string, string>;
  type: Map<string, string>;
  /** The value of the one sample with this name and (exactly these) labels; undefined when absent. */
  value(name: string, labels?: Record<string, string>): number | undefined;
}

/** Parses Prometheus text format 0.0.4 (what `registry.metrics()` returns), enough for tests. */
export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  const help = new Map<string, string>();
  const type = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'HELP' ? help : type).set(meta[2]!, meta[3]!.replace(/\\n/g, '\n').replace(/\\\\/g, '\\'));
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`unparsable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const m of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[m[1]!] = m[2]!;
    samples.push({ name: sample[1]!, labels, value: Number(sample[3]) });
  }
  return {
    samples,
    help,
    type,
    value(name, labels = {}) {
      const wanted = JSON.stringify(sortKeys(labels));
      const found = samples.filter((s) => s.name === name && JSON.stringify(sortKeys(s.labels)) === wanted);
      if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${wanted}`);
      return found[0]?.value;
    },
  };
}

/** Scrapes a registry and parses the result. */
export async function scrape(registry: Registry): Promise<Exposition> {
  return parseExposition(await registry.metrics());
}

/** The replica's `is_leader` gauge for the Lease (undefined when not exported). */
export async function isLeaderGauge(r: Replica): Promise<number | undefined> {
  return (await scrape(r.component.registry)).value('leasekit_leader_election_is_leader', { name: LEASE });
}

function sortKeys(labels: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}
