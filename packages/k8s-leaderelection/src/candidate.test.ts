import { describe, expect, it } from '@jest/globals';
import { CANDIDATE_RENEW_INTERVAL_MS, PING_ANSWER_FLOOR_MS, CandidateKeeper, candidateClientOf, pingPending } from './candidate.js';
import { resolveConfig, type ElectorConfig } from './config.js';
import { ConfigError, apiErrorFromHttpStatus } from './errors.js';
import { toSafeLogger, silentLogger } from './logger.js';
import { formatMicroTime, parseMicroTime } from './record.js';
import { FakeClock } from './testing/fake-clock.js';
import { LeaseStore } from './testing/lease-store.js';
import { MemoryLeaseClient } from './testing/memory-lease-client.js';
import { CandidateStore } from './testing/candidate-store.js';
import type { Fault, MemoryCall, MemoryVerb } from './testing/memory-lease-client.js';

const NS = 'default';
const R = 2000;

/** The coordinator's ping: pingTime set on the candidate (a compare-and-swap write, as the coordinator makes). */
function ping(candidates: CandidateStore, name: string, pingTime: string): void {
  const current = candidates.get(NS, name);
  candidates.update(NS, name, { ...current, spec: { ...current.spec, pingTime } });
}

function setup(options: { config?: Partial<ElectorConfig>; fault?: (call: MemoryCall) => Fault | undefined } = {}) {
  const clock = new FakeClock();
  const candidates = new CandidateStore({ clock });
  const client = new MemoryLeaseClient(new LeaseStore({ clock }), { clock, candidates, ...(options.fault ? { fault: options.fault } : {}) });
  const config = resolveConfig({
    identity: 'pod-a',
    leaseName: 'my-lease',
    leaseNamespace: NS,
    clock,
    retryPeriodMs: R,
    coordinated: true,
    binaryVersion: '1.33.1',
    ...options.config,
  });
  const keeper = new CandidateKeeper({ client: candidateClientOf(client), config, settings: config.coordinated!, clock, log: toSafeLogger(silentLogger) });
  const controller = new AbortController();
  const done = keeper.run(controller.signal);
  const count = (verb: MemoryVerb): number => client.calls.filter((c) => c.verb === verb).length;
  const own = () => candidates.peek(NS, 'pod-a');
  const stop = async (): Promise<void> => {
    controller.abort();
    await clock.advance(0);
    await done;
  };
  return { clock, candidates, client, count, own, stop };
}

describe('CandidateKeeper', () => {
  it('creates the LeaseCandidate named after the identity, in the Lease namespace, with the versions and strategy', async () => {
    const { clock, count, own, stop } = setup();
    await clock.advance(0);
    expect(own()?.spec).toEqual({
      leaseName: 'my-lease',
      binaryVersion: '1.33.1',
      emulationVersion: '1.33.1',
      strategy: 'OldestEmulationVersion',
      renewTime: formatMicroTime(clock.wallNow()),
    });
    expect(own()?.metadata?.namespace).toBe(NS);
    expect([count('getCandidate'), count('createCandidate'), count('updateCandidate'), count('watchCandidate')]).toEqual([1, 1, 0, 1]);
    await stop();
  });

  it('refreshes the candidate once per interval and makes no other request in steady state', async () => {
    const { clock, client, count, own, stop } = setup();
    await clock.advance(0);
    await clock.advance(30 * 60_000);
    // 30 minutes: GET + create at 0, then one update per 5 minutes; the one watch stays open.
    expect([count('getCandidate'), count('createCandidate'), count('updateCandidate'), count('watchCandidate')]).toEqual([1, 1, 6, 1]);
    const updates = client.calls.filter((c) => c.verb === 'updateCandidate').map((c) => c.atMs);
    expect(updates).toEqual([1, 2, 3, 4, 5, 6].map((n) => n * CANDIDATE_RENEW_INTERVAL_MS));
    expect(own()?.spec?.renewTime).toBe(formatMicroTime(clock.wallNow()));
    await stop();
  });

  it('answers a ping with one update at once, with a renewTime after the pingTime', async () => {
    const { clock, candidates, count, own, stop } = setup();
    await clock.advance(10_000);
    ping(candidates, 'pod-a', formatMicroTime(clock.wallNow()));
    expect(pingPending(own())).toBe(true);
    await clock.advance(0);
    expect(count('updateCandidate')).toBe(1);
    expect(pingPending(own())).toBe(false);
    expect(parseMicroTime(own()?.spec?.renewTime)).toBeGreaterThan(parseMicroTime(own()?.spec?.pingTime)!);
    // Answered once: nothing more until the interval.
    await clock.advance(CANDIDATE_RENEW_INTERVAL_MS - 1);
    expect(count('updateCandidate')).toBe(1);
    await stop();
  });

  it('answers a ping that comes within a second of the last refresh one second after that refresh (inside the coordinator\'s 5 s)', async () => {
    const { clock, candidates, client, count, stop } = setup();
    await clock.advance(500);
    ping(candidates, 'pod-a', formatMicroTime(clock.wallNow()));
    await clock.advance(PING_ANSWER_FLOOR_MS - 500 - 1);
    expect(count('updateCandidate')).toBe(0);
    await clock.advance(1);
    expect(count('updateCandidate')).toBe(1);
    expect(client.calls.at(-1)?.atMs).toBe(PING_ANSWER_FLOOR_MS);
    await stop();
  });

  it('answers a ping stamped ahead of its own wall clock once, with a renewTime after it', async () => {
    const { clock, candidates, count, own, stop } = setup();
    await clock.advance(10_000);
    const ahead = formatMicroTime(clock.wallNow() + 60_000); // the API server's clock is a minute ahead
    ping(candidates, 'pod-a', ahead);
    await clock.advance(0);
    expect(count('updateCandidate')).toBe(1);
    expect(pingPending(own())).toBe(false);
    await clock.advance(60_000);
    expect(count('updateCandidate')).toBe(1);
    await stop();
  });

  it('recreates a deleted candidate at the ping pace', async () => {
    const { clock, candidates, count, own, stop } = setup();
    await clock.advance(10_000);
    candidates.delete(NS, 'pod-a');
    await clock.advance(0);
    expect(own()?.spec?.leaseName).toBe('my-lease');
    expect(count('createCandidate')).toBe(2);
    await stop();
  });

  it('reads the candidate again after a conflicting refresh, and backs off', async () => {
    let conflictOnce = true;
    const { clock, count, own, stop } = setup({
      fault: (call) => {
        if (call.verb === 'updateCandidate' && conflictOnce) {
          conflictOnce = false;
          return { kind: 'error', error: apiErrorFromHttpStatus(409, 'conflict') };
        }
        return undefined;
      },
    });
    await clock.advance(CANDIDATE_RENEW_INTERVAL_MS);
    expect(count('updateCandidate')).toBe(1); // failed with 409
    await clock.advance(R);
    expect([count('getCandidate'), count('updateCandidate')]).toEqual([2, 2]);
    expect(own()?.spec?.renewTime).toBe(formatMicroTime(clock.wallNow()));
    await stop();
  });

  it('backs off against a failing server: 9 reads and 24 watch attempts in 10 minutes', async () => {
    const { clock, client, count, stop } = setup({ fault: () => ({ kind: 'error', error: apiErrorFromHttpStatus(500, 'boom') }) });
    await clock.advance(10 * 60_000);
    // Reads at 0, R, 3R, 7R, ... (R, 2R, 4R ... apart): 0, 2, 6, 14, 30, 62, 126, 254, 510 s.
    expect(client.calls.filter((c) => c.verb === 'getCandidate').map((c) => c.atMs / 1000)).toEqual([0, 2, 6, 14, 30, 62, 126, 254, 510]);
    // Watches: 0, 2, 6, 14, 30, then every 30 s: 60 ... 600.
    expect(count('watchCandidate')).toBe(5 + 19);
    expect(count('createCandidate') + count('updateCandidate')).toBe(0);
    await stop();
  });

  it('stops on abort: no request after it, the watch closed, no timer left, the candidate left in place', async () => {
    const { clock, candidates, client, own, stop } = setup();
    await clock.advance(1000);
    await stop();
    const calls = client.calls.length;
    expect(candidates.watcherCount).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(CANDIDATE_RENEW_INTERVAL_MS * 2);
    expect(client.calls.length).toBe(calls);
    expect(own()).toBeDefined();
  });
});

describe('candidateClientOf', () => {
  it('rejects a client without the candidate methods with a ConfigError naming client and the missing methods', () => {
    const client = new MemoryLeaseClient(new LeaseStore());
    let caught: unknown;
    try {
      candidateClientOf(client);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).field).toBe('client');
    expect((caught as ConfigError).message).toContain('getCandidate, createCandidate, updateCandidate, watchCandidate');
  });
});
