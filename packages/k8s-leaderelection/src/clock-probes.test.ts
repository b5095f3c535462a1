/**
 * Probes of the system clock's zero delay (run on setImmediate instead of a 1 ms setTimeout) by
 * someone with no stake in the code: timers still fire in due order, a cancelled zero-delay timer
 * never fires, a chain of zero delays yields to other timers and promise callbacks, and the
 * elector on the real clock keeps client-go's request pace against a server whose every write
 * fails (requests counted, never durations asserted).
 */
import { describe, expect, it } from '@jest/globals';
import { systemClock, type TimerHandle } from './clock.js';
import { Elector } from './elector.js';
import { ApiError, makeStatus } from './errors.js';
import { silentLogger } from './logger.js';
import { seededRandom } from './random.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient, type Fault, type MemoryCall } from './testing/memory-lease-client.js';

/** Resolves once `predicate()` holds, polling on the real clock (bounded: false after `maxPolls`). */
async function eventually(predicate: () => boolean, maxPolls = 500): Promise<boolean> {
  for (let i = 0; i < maxPolls && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  return predicate();
}

describe('systemClock: zero delays', () => {
  /** Arms `delays` (name -> ms) in order from inside a callback of `from`, then keeps the thread busy for `busyMs`; resolves with the order they fired in. */
  function firingOrder(from: 'a 1 ms timer' | 'a zero delay', delays: ReadonlyArray<readonly [string, number]>, busyMs: number): Promise<string[]> {
    const order: string[] = [];
    return new Promise((resolve) => {
      systemClock.setTimeout(
        () => {
          for (const [name, ms] of delays) {
            systemClock.setTimeout(() => {
              order.push(name);
              if (order.length === delays.length) resolve(order);
            }, ms);
          }
          // The caller's own work after arming (a continuation writing a Lease, logging): CPU, no sleep.
          const until = performance.now() + busyMs;
          while (performance.now() < until) order.length += 0;
        },
        from === 'a zero delay' ? 0 : 1,
      );
    });
  }

  it('fires zero, negative and NaN delays armed together from a timer callback first, in the order armed, before any positive delay', async () => {
    const delays = [['5 ms', 5], ['zero 1', 0], ['1 ms', 1], ['zero 2', 0], ['NaN', Number.NaN], ['negative', -3]] as const;
    const order = await firingOrder('a 1 ms timer', delays, 0);
    expect(order.slice(0, 4)).toEqual(['zero 1', 'zero 2', 'NaN', 'negative']);
    expect([...order.slice(4)].sort()).toEqual(['1 ms', '5 ms']);
  });

  // Order among timers: a zero delay armed from inside a zero-delay callback (every watch-driven
  // take runs in one: the follower's pause(0)) goes to the next turn's check phase, while a 1 ms
  // timer armed right after it goes to the next turn's timers phase, which runs first once a
  // millisecond has passed. The clock runs the zero delays armed before a timer first, so the
  // later-due timer still fires second (as with setTimeout(0); FakeClock always fires in order,
  // so no fake-clock test can see this).
  it('fires a zero delay before a 1 ms timer armed after it, also when both are armed from a zero-delay callback that then works for 3 ms', async () => {
    const delays = [['zero', 0], ['1 ms', 1]] as const;
    expect(await firingOrder('a zero delay', delays, 3)).toEqual(['zero', '1 ms']);
  });

  it('never fires a zero-delay timer cancelled right after arming, nor one cancelled by a zero-delay timer that runs before it in the same turn', async () => {
    const fired: string[] = [];
    const early = systemClock.setTimeout(() => fired.push('cancelled at once'), 0);
    systemClock.clearTimeout(early);
    const handles: { second?: TimerHandle } = {};
    systemClock.setTimeout(() => {
      fired.push('first');
      if (handles.second !== undefined) systemClock.clearTimeout(handles.second);
    }, 0);
    const second = systemClock.setTimeout(() => fired.push('cancelled by first'), 0);
    handles.second = second;
    let sentinel = false;
    systemClock.setTimeout(() => (sentinel = true), 10);
    expect(await eventually(() => sentinel)).toBe(true);
    expect(fired).toEqual(['first']);
    // Clearing a fired or cleared zero-delay timer again is a no-op.
    systemClock.clearTimeout(early);
    systemClock.clearTimeout(second);
  });

  it('runs a zero delay after promise callbacks queued after arming it (it is a macrotask, not a microtask)', async () => {
    const order: string[] = [];
    const done = new Promise<void>((resolve) =>
      systemClock.setTimeout(() => {
        order.push('zero delay');
        resolve();
      }, 0),
    );
    void Promise.resolve().then(() => order.push('promise callback'));
    await done;
    expect(order).toEqual(['promise callback', 'zero delay']);
  });

  it('a loop that re-arms a zero delay from its own callback still lets a 1 ms timer armed before it fire', async () => {
    const CAP = 200_000;
    let sentinel = false;
    let spins = 0;
    systemClock.setTimeout(() => (sentinel = true), 1);
    await new Promise<void>((resolve) => {
      const spin = (): void => {
        spins++;
        if (sentinel || spins >= CAP) resolve();
        else systemClock.setTimeout(spin, 0);
      };
      systemClock.setTimeout(spin, 0);
    });
    // A zero delay that never yielded to the timers phase would spin up to the cap first.
    expect(sentinel).toBe(true);
    expect(spins).toBeLessThan(CAP);
  });
});

describe('the elector on the real clock: no retry storm through zero delays', () => {
  const NS = 'default';
  const LEASE = 'probe-lease';
  const R = 100;
  const status = (code: number, reason: 'InternalError' | 'Conflict'): Fault => ({ kind: 'error', error: new ApiError(makeStatus(code, reason, `injected ${reason}`)) });

  /** Starts of the elector's acquire tries: a GET, or a write no GET of its own preceded. */
  function tries(calls: readonly MemoryCall[]): number {
    let n = 0;
    let previous: string | undefined;
    for (const call of calls) {
      if (call.verb !== 'get' && call.verb !== 'update' && call.verb !== 'create') continue;
      if (call.verb === 'get' || previous !== 'get') n++;
      previous = call.verb;
    }
    return n;
  }

  /**
   * A watching follower of a free Lease whose every write fails with `fault`, on the system
   * clock, until it has tried `target` times (or the poll budget is spent). Returns its tries and
   * the retry periods elapsed meanwhile, counted on the same monotonic clock the elector uses.
   */
  async function followFailingFreeLease(fault: Fault, target: number): Promise<{ tries: number; periods: number; leader: boolean }> {
    const store = new LeaseStore({ clock: systemClock });
    store.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 1 } });
    const client = new MemoryLeaseClient(store, { clock: systemClock, fault: (call) => (call.verb === 'update' ? fault : undefined) });
    const elector = new Elector(
      { identity: 'a', leaseName: LEASE, leaseNamespace: NS, leaseDurationMs: 2_000, renewDeadlineMs: 1_500, retryPeriodMs: R, followerStrategy: 'watch', random: seededRandom(7), recordEvents: false },
      client,
      {},
      silentLogger,
    );
    const controller = new AbortController();
    const started = systemClock.now();
    const done = elector.run(controller.signal);
    await eventually(() => tries(client.calls) >= target || client.calls.length > 1_000, 400);
    const periods = (systemClock.now() - started) / R;
    const result = { tries: tries(client.calls), periods, leader: elector.isLeader() };
    controller.abort();
    await done;
    return result;
  }

  it.each([
    ['every write fails with 500', status(500, 'InternalError')],
    ['every write conflicts (409) while the record stays free', status(409, 'Conflict')],
  ])('a watching follower of a free Lease where %s tries at most once per retry period', async (_name, fault) => {
    const { tries: n, periods, leader } = await followFailingFreeLease(fault, 4);
    expect(leader).toBe(false);
    expect(n).toBeGreaterThan(0);
    // client-go: one try at once, then at least R between tries.
    expect(n).toBeLessThanOrEqual(Math.floor(periods) + 1);
  });
});
