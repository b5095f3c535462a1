import { afterEach, describe, expect, it } from '@jest/globals';
import { ConfigError, type Lease } from '@leasekit/k8s-leaderelection';
import { formatMicroTime } from '@leasekit/k8s-leaderelection/internal';
import { CandidateStore, FakeClock, LeaseStore, type LeaseCandidate, type WatchHandle } from '@leasekit/k8s-leaderelection/testing';
import { Coordinator } from './coordinator.js';

const NS = 'kube-system';
const LEASE = 'kube-scheduler';
const ELECTION_MS = 5000;

/** Three stores and a coordinator on one fake clock, plus candidates that answer pings. */
class World {
  readonly clock = new FakeClock();
  readonly leases = new LeaseStore({ clock: this.clock });
  readonly candidates = new CandidateStore({ clock: this.clock });
  readonly coordinator = new Coordinator({ leases: this.leases, candidates: this.candidates, clock: this.clock, candidateValidMs: 60 * 60_000, gcIntervalMs: 10 * 60_000 });
  /** Candidates that answer pings (renewTime := now when pingTime is newer). */
  readonly answering = new Set<string>();
  private readonly handles: WatchHandle[] = [];

  constructor() {
    this.handles.push(
      this.candidates.watch({}, (event) => {
        const c = event.object as LeaseCandidate;
        const name = c.metadata?.name ?? '';
        if (event.type !== 'MODIFIED' || !this.answering.has(name)) return;
        if ((c.spec?.pingTime ?? '') > (c.spec?.renewTime ?? '')) this.renewCandidate(name);
      }),
    );
  }

  now(): string {
    return formatMicroTime(this.clock.wallNow());
  }

  addCandidate(name: string, emulationVersion: string, options: { renewedAgoMs?: number; answers?: boolean } = {}): void {
    const renewTime = formatMicroTime(this.clock.wallNow() - (options.renewedAgoMs ?? 0));
    this.candidates.create(NS, { metadata: { name }, spec: { leaseName: LEASE, binaryVersion: '1.33.0', emulationVersion, strategy: 'OldestEmulationVersion', renewTime } });
    if (options.answers ?? true) this.answering.add(name);
  }

  renewCandidate(name: string): void {
    const c = this.candidates.get(NS, name);
    this.candidates.update(NS, name, { ...c, spec: { ...c.spec, renewTime: this.now() } });
  }

  /** A holder renewing the Lease it holds, as an elector would. */
  renewLease(holder: string): void {
    const lease = this.leases.get(NS, LEASE);
    if (lease.spec?.holderIdentity !== holder) return;
    this.leases.update(NS, LEASE, { ...lease, spec: { ...lease.spec, renewTime: this.now() } });
  }

  lease(): Lease | undefined {
    return this.leases.peek(NS, LEASE);
  }

  stop(): void {
    this.coordinator.stop();
    for (const h of this.handles) h.stop();
  }
}

let world: World | undefined;
afterEach(() => {
  world?.stop();
  world = undefined;
});

describe('Coordinator: OldestEmulationVersion', () => {
  it('writes the Lease for the candidate with the oldest emulation version', async () => {
    const w = (world = new World());
    w.addCandidate('apiserver-133', '1.33.0');
    w.addCandidate('apiserver-131', '1.31.0');
    w.addCandidate('apiserver-132', '1.32.0');
    w.coordinator.start();
    await w.clock.advance(1);
    expect(w.lease()?.spec).toMatchObject({ holderIdentity: 'apiserver-131', strategy: 'OldestEmulationVersion', leaseDurationSeconds: 5, leaseTransitions: 0 });
    expect(w.lease()?.spec?.renewTime).toBe(w.lease()?.spec?.acquireTime);
    expect(w.coordinator.counts).toMatchObject({ leaseCreates: 1, holderWrites: 0, pings: 0 });
  });

  it('pings stale candidates, waits for the answers, and passes over one that does not answer', async () => {
    const w = (world = new World());
    w.addCandidate('silent-131', '1.31.0', { renewedAgoMs: 60_000, answers: false });
    w.addCandidate('answers-132', '1.32.0', { renewedAgoMs: 60_000 });
    w.addCandidate('answers-133', '1.33.0', { renewedAgoMs: 60_000 });
    w.coordinator.start();
    await w.clock.advance(1);
    expect(w.coordinator.counts.pings).toBe(3);
    expect(w.lease()).toBeUndefined();
    expect(w.candidates.get(NS, 'silent-131').spec?.pingTime).toBe(w.candidates.get(NS, 'answers-132').spec?.pingTime);
    // Within the election duration nothing is decided: the silent one still has time to answer.
    await w.clock.advance(ELECTION_MS - 100);
    expect(w.lease()).toBeUndefined();
    await w.clock.advanceUntil(() => w.lease() !== undefined, 3 * ELECTION_MS);
    expect(w.lease()?.spec?.holderIdentity).toBe('answers-132');
  });

  it('sets preferredHolder on a Lease a live non-best holder renews, and never replaces that holder while it is live', async () => {
    const w = (world = new World());
    w.leases.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'apiserver-133', leaseDurationSeconds: 15, renewTime: w.now(), acquireTime: w.now(), leaseTransitions: 3 } });
    w.addCandidate('apiserver-133', '1.33.0');
    w.addCandidate('apiserver-131', '1.31.0');
    const holders: string[] = [];
    const watch = w.leases.watch({}, (e) => holders.push((e.object as Lease).spec?.holderIdentity ?? ''));
    w.coordinator.start();
    // The holder renews every 2 s and its candidate object every 10 s, for two minutes.
    for (let t = 0; t < 120_000; t += 2000) {
      w.renewLease('apiserver-133');
      if (t % 10_000 === 0) w.renewCandidate('apiserver-133');
      await w.clock.advance(2000);
    }
    expect(w.lease()?.spec).toMatchObject({ holderIdentity: 'apiserver-133', preferredHolder: 'apiserver-131', strategy: 'OldestEmulationVersion', leaseTransitions: 3 });
    expect(w.coordinator.counts).toMatchObject({ holderWrites: 0, leaseCreates: 0, preferredHolderWrites: 1 });
    expect(new Set(holders)).toEqual(new Set(['apiserver-133']));

    // The holder stops renewing (it crashed, or yielded without releasing): after its Lease
    // expires by the coordinator's clock, the preferred candidate is written as holder.
    const expiresAt = Date.parse(w.lease()?.spec?.renewTime ?? '') + 15_000;
    await w.clock.advanceUntil(() => w.lease()?.spec?.holderIdentity === 'apiserver-131', 60_000);
    expect(Date.parse(w.lease()?.spec?.acquireTime ?? '')).toBeGreaterThan(expiresAt);
    expect(w.lease()?.spec).toMatchObject({ holderIdentity: 'apiserver-131', leaseTransitions: 4, leaseDurationSeconds: 5 });
    expect(w.lease()?.spec?.preferredHolder ?? undefined).toBeUndefined();
    expect(w.coordinator.counts.holderWrites).toBe(1);
    watch.stop();
  });

  it('writes a holder at once into a Lease its holder released (empty holderIdentity)', async () => {
    const w = (world = new World());
    w.leases.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: '', leaseDurationSeconds: 15, renewTime: w.now(), leaseTransitions: 1 } });
    w.addCandidate('apiserver-132', '1.32.0');
    w.coordinator.start();
    await w.clock.advance(1);
    expect(w.lease()?.spec).toMatchObject({ holderIdentity: 'apiserver-132', leaseTransitions: 2 });
  });

  it('does not write a new holder into a Lease deleted while its holder was live, until that term would have expired', async () => {
    const w = (world = new World());
    w.leases.create(NS, { metadata: { name: LEASE }, spec: { holderIdentity: 'apiserver-133', leaseDurationSeconds: 15, renewTime: w.now() } });
    w.addCandidate('apiserver-131', '1.31.0');
    w.coordinator.start();
    await w.clock.advance(1);
    w.leases.delete(NS, LEASE);
    await w.clock.advance(14_000);
    expect(w.lease()).toBeUndefined();
    // Its candidate renewal went stale meanwhile: it is pinged, answers, and is elected.
    await w.clock.advanceUntil(() => w.lease() !== undefined, 30_000);
    expect(w.lease()?.spec?.holderIdentity).toBe('apiserver-131');
  });

  it('leaves a Lease alone when the newest candidates disagree on the strategy', async () => {
    const w = (world = new World());
    w.addCandidate('a', '1.31.0');
    w.candidates.create(NS, { metadata: { name: 'b' }, spec: { leaseName: LEASE, binaryVersion: '1.33.0', emulationVersion: '1.33.0', strategy: 'example.com/other', renewTime: w.now() } });
    w.answering.add('b');
    w.coordinator.start();
    await w.clock.advance(ELECTION_MS * 3);
    expect(w.lease()).toBeUndefined();
  });

  it('garbage collects candidates that have not renewed for the validity period', async () => {
    const w = (world = new World());
    w.addCandidate('gone', '1.31.0', { renewedAgoMs: 61 * 60_000, answers: false });
    w.addCandidate('alive', '1.32.0');
    w.coordinator.start();
    await w.clock.advance(10 * 60_000);
    expect(w.candidates.peek(NS, 'gone')).toBeUndefined();
    expect(w.candidates.peek(NS, 'alive')).toBeDefined();
    expect(w.coordinator.counts.collected).toBe(1);
  });

  it('leaves no timer or watch behind when stopped', async () => {
    const w = (world = new World());
    w.addCandidate('a', '1.31.0', { renewedAgoMs: 60_000 });
    w.coordinator.start();
    await w.clock.advance(1);
    w.stop();
    expect(w.clock.pendingTimers).toBe(0);
    expect(w.candidates.watcherCount).toBe(0);
    expect(w.leases.watcherCount).toBe(0);
  });

  it('refuses timings that are not positive', () => {
    const w = (world = new World());
    expect(() => new Coordinator({ leases: w.leases, candidates: w.candidates, clock: w.clock, electionDurationMs: 0 })).toThrow(ConfigError);
    expect(() => new Coordinator({ leases: w.leases, candidates: w.candidates, clock: w.clock, leaseDurationSeconds: 1.5 })).toThrow(ConfigError);
  });
});
