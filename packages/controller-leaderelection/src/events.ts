/**
 * The leader-election events: their names, payloads, the typed eventemitter3 bus that carries
 * them, and the one function that publishes them without letting a listener hurt the publisher.
 */
import { EventEmitter } from 'eventemitter3';
import type { StopReason } from '@leasekit/k8s-leaderelection';
import { isPromiseLike } from '@leasekit/k8s-leaderelection/internal';

/** The event type strings, as the Go original names them. */
export const LEADER_ELECTION_EVENTS = Object.freeze({
  started: 'leader.election.started',
  became: 'leader.became',
  lost: 'leader.lost',
  observed: 'leader.observed',
} as const);

/** Fields every payload carries. */
export interface LeaderEventBase {
  /** When the event was created, from the component's clock (`config.clock.wallNow()`). */
  readonly timestamp: Date;
}

/** `leader.election.started`: `run()` was called; published before the first API request. */
export interface LeaderElectionStartedEvent extends LeaderEventBase {
  /** This replica's identity (`standalone` when election is disabled). */
  readonly identity: string;
  readonly leaseName: string;
  readonly leaseNamespace: string;
}

/** `leader.became`: this replica leads; leader-only work may start. */
export interface BecameLeaderEvent extends LeaderEventBase {
  /** This replica's identity (`standalone` when election is disabled). */
  readonly identity: string;
  /**
   * The term's fencing token (the Lease's `leaseTransitions` when the term began; 0 when
   * election is disabled). A leasekit addition: pass it with downstream writes.
   */
  readonly token: number;
}

/** `leader.lost`: this replica no longer leads; leader-only work must stop. */
export interface LostLeadershipEvent extends LeaderEventBase {
  readonly identity: string;
  /**
   * Why: `renew_failed`, `lease_taken` (another replica holds the Lease), `lease_deleted`,
   * `released` (shutdown: `run()`'s signal aborted), `resigned` (`resign()` was called),
   * `handed_over` (`handoverTo()` was called, or the Lease's `preferredHolder` names another
   * replica: the Lease was written naming that replica) or `work_failed` (`onStartedLeading`
   * threw or rejected during the term, and `onStartedLeadingFailure` is `'resign'`, the
   * default: the Lease is released so another replica can lead).
   */
  readonly reason: StopReason;
  /** The fencing token of the term that ended (the one `leader.became` carried). */
  readonly token: number;
}

/** `leader.observed`: the Lease names a new holder (the first one seen, too, and ourselves). */
export interface NewLeaderObservedEvent extends LeaderEventBase {
  readonly newLeaderIdentity: string;
  /** True when the new holder is this replica. */
  readonly isSelf: boolean;
}

/**
 * The typed event map for eventemitter3: `new EventEmitter<LeaderElectionEvents>()`.
 * A `leader.lost` listener may return a promise: the lease is released only after it settles
 * (bounded by `onStoppedLeadingTimeoutMs`), so work it stops cannot overlap the next leader's.
 */
export interface LeaderElectionEvents {
  'leader.election.started': (event: LeaderElectionStartedEvent) => void;
  'leader.became': (event: BecameLeaderEvent) => void;
  'leader.lost': (event: LostLeadershipEvent) => void | Promise<void>;
  'leader.observed': (event: NewLeaderObservedEvent) => void;
}

/** A name of {@link LeaderElectionEvents}. */
export type LeaderElectionEventName = keyof LeaderElectionEvents;

/** The payload type of one event. */
export type LeaderElectionEventPayload<K extends LeaderElectionEventName> = Parameters<LeaderElectionEvents[K]>[0];

/**
 * What the component needs of a bus: the eventemitter3 methods it publishes through. Any
 * `EventEmitter<LeaderElectionEvents>` ({@link createLeaderElectionBus}) fits, and so does your
 * application's own emitter when its event map includes {@link LeaderElectionEvents}
 * (eventemitter3's own type would reject one with more events, so the needs are spelled out).
 * `removeListener` (with eventemitter3's `once` argument) is needed too, and checked at runtime.
 */
export interface LeaderElectionBus {
  /** The listeners of one event, in order. */
  listeners(event: LeaderElectionEventName): Array<(...args: never) => unknown>;
  /** Not called (see {@link deliver}), but required so that only real emitters are accepted. */
  emit(event: LeaderElectionEventName, ...args: never): boolean;
}

/** Creates an eventemitter3 emitter typed for the leader-election events. */
export function createLeaderElectionBus(): EventEmitter<LeaderElectionEvents> {
  return new EventEmitter<LeaderElectionEvents>();
}

/** True for something that can serve as the bus (an eventemitter3 emitter, duck-typed). */
export function isEventBus(value: unknown): value is LeaderElectionBus {
  const bus = value as (Partial<LeaderElectionBus> & { removeListener?: unknown }) | null;
  return bus != null && typeof bus.emit === 'function' && typeof bus.listeners === 'function' && typeof bus.removeListener === 'function';
}

/**
 * What {@link deliver} needs of any bus: `listeners` and `removeListener` (checked by
 * {@link isEventBus}). The sharded component's bus passes through it too.
 */
export interface DeliveryBus {
  listeners(event: never): Array<(...args: never) => unknown>;
}

/** Loosely typed view of the bus, so one delivery routine serves every event. */
interface UntypedBus {
  listeners(event: string): Array<(payload: unknown) => unknown>;
  removeListener(event: string, fn: (payload: unknown) => unknown, context: undefined, once: boolean): unknown;
  /** Present on node:events emitters only: once-listeners come back as self-removing wrappers. */
  rawListeners?(event: string): Array<(payload: unknown) => unknown>;
}

/**
 * Delivers `payload` to every listener of `event`, each in its own try/catch.
 *
 * Why not `bus.emit`: eventemitter3 stops at the first listener that throws, so one broken
 * subscriber would keep every later one from hearing `leader.lost`, and a leader-only
 * component would keep working after leadership ended. Here each listener is isolated; a throw
 * or a rejected promise is reported through `onListenerError` and never reaches the elector.
 *
 * Semantics match eventemitter3's `emit` otherwise: listeners run synchronously in order, from
 * a snapshot taken at the start (one added during delivery hears the next event, not this one),
 * `once` listeners are removed before they run, and `this` is the bus. The one difference: a
 * listener registered with an explicit `context` argument is called with the bus as `this`.
 *
 * @returns the promises returned by listeners (already guarded), for callers that wait on them.
 */
export function deliver(
  bus: LeaderElectionBus | DeliveryBus,
  event: string,
  payload: object,
  onListenerError: (error: unknown) => void,
): Promise<void>[] {
  const untyped = bus as unknown as UntypedBus;
  const pending: Promise<void>[] = [];
  let listeners: Array<(payload: unknown) => unknown>;
  let removeOnce: (fn: (payload: unknown) => unknown) => void;
  try {
    if (typeof untyped.rawListeners === 'function') {
      // A node:events emitter (passed through a cast): its once-wrappers remove themselves.
      listeners = untyped.rawListeners(event);
      removeOnce = () => {};
    } else {
      listeners = untyped.listeners(event);
      // eventemitter3's fourth argument removes only `once` registrations of `fn`.
      removeOnce = (fn) => untyped.removeListener(event, fn, undefined, true);
    }
  } catch (err) {
    onListenerError(err);
    return pending;
  }
  for (const listener of listeners) {
    try {
      removeOnce(listener);
      const result = listener.call(bus, payload);
      if (isPromiseLike(result)) pending.push(Promise.resolve(result).then(() => undefined, onListenerError));
    } catch (err) {
      onListenerError(err);
    }
  }
  return pending;
}
