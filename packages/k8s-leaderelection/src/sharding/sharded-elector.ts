/**
 * Owns sharded leadership: one replica's share of a set of N Leases (`<setName>-<i>`), each led
 * through its own Elector (its own term, signal and fencing token), placed by rendezvous hashing
 * over the live members, moved only by the Elector's own directed handover (one at a time, rate
 * limited), observed through one set watch and counted through a membership Lease per replica.
 */
import { sleep, systemClock, type Clock } from '../clock.js';
import { leaseClientFor } from '../client-factory.js';
import { Elector, type LeadershipTerm, type StoppedLeadingInfo } from '../elector.js';
import { isDnsSubdomain, resolveConfig, type ElectorConfig } from '../config.js';
import { ConfigError, LeaseKitError, describeError } from '../errors.js';
import type { LeaseClient } from '../lease.js';
import { toSafeLogger, type Logger, type SafeLogger } from '../logger.js';
import { DEFAULT_MEMBERSHIP_DURATION_MS, DEFAULT_MEMBERSHIP_RENEW_INTERVAL_MS, Membership, memberOfLabelValue, type MembershipConfig } from '../membership.js';
import { systemRandom, type Random } from '../random.js';
import { cachedScores, fairShare, plan, type ScoreFn } from './placement.js';
import { SetFeed, type SetFeedClient } from './set-feed.js';
import { SetView } from './set-view.js';

/** The label every Lease of a shard set carries (shard Leases and membership Leases alike). */
export const SHARD_SET_LABEL = 'leasekit.io/shard-set';
export const DEFAULT_HANDOVER_INTERVAL_MS = 5_000;
/** The most shards one set may have (placement is computed in O(N·M) per member). */
export const MAX_SHARDS = 1_000;
/** The longest set name: `<setName>-member-<10 hex>`, the longest Lease name of a set, stays within 253 characters. */
export const MAX_SET_NAME_LENGTH = 253 - '-member-'.length - 10;

/** The Lease name of shard `shard` of set `setName`. */
export function shardLeaseName(setName: string, shard: number): string {
  return `${setName}-${shard}`;
}

/** The elector options every shard shares (what identifies a shard's Lease is set by the ShardedElector). */
export type ShardElectorOptions = Omit<
  ElectorConfig,
  'identity' | 'leaseName' | 'leaseNamespace' | 'name' | 'once' | 'followerStrategy' | 'coordinated' | 'binaryVersion' | 'emulationVersion' | 'strategy' | 'clock' | 'random'
>;

export interface ShardedElectorConfig {
  /** This replica's unique identity (the holder of its shards, and its membership). */
  readonly identity: string;
  /** The set's name: shard Leases are `<setName>-<i>`, membership Leases `<setName>-member-<hash>`. */
  readonly setName: string;
  /** The namespace of every Lease of the set. */
  readonly namespace: string;
  /** How many shards (N), 1 to 1000. Every replica of the set must use the same number. */
  readonly shards: number;
  /** Elector options for every shard (lease duration, renew deadline, retry period, ...). */
  readonly elector?: ShardElectorOptions;
  /** Membership timings and labels (see `Membership`). */
  readonly membership?: Pick<MembershipConfig, 'durationMs' | 'renewIntervalMs' | 'retryPeriodMs' | 'requestTimeoutMs' | 'labels'>;
  /** This replica starts at most one handover per this interval, and only one at a time. @default 5000 */
  readonly handoverIntervalMs?: number;
  /** The live member set must have stood unchanged this long before this replica moves a shard. @default handoverIntervalMs */
  readonly settleMs?: number;
  /** Time source (tests inject a FakeClock). @default the system clock */
  readonly clock?: Clock;
  /** Randomness for jitter. @default Math.random */
  readonly random?: Random;
}

/** What the ShardedElector calls, per shard. Each is optional, may be async and may throw (logged). */
export interface ShardCallbacks {
  /** Leadership of `shard` began: start its work, stop when `signal` aborts; fence writes with `term.token`. */
  onStartedLeading?(shard: number, signal: AbortSignal, term: LeadershipTerm): unknown;
  /** Leadership of `shard` ended (awaited, bounded, before the shard is released or handed over). */
  onStoppedLeading?(shard: number, info: StoppedLeadingInfo): unknown;
}

/** A point-in-time view, for status pages and tests. */
export interface ShardedSnapshot {
  readonly identity: string;
  /** The members placement counts on (live, not suspected dead), sorted. */
  readonly members: readonly string[];
  /** Each shard's holder as this replica last saw it ('' when none). */
  readonly holders: readonly string[];
  /** The shards this replica leads now. */
  readonly held: readonly number[];
  /** The shards this replica runs an Elector for without leading them (standby, incoming, free). */
  readonly following: readonly number[];
  /** The shard being handed over now, if any. */
  readonly handingOver: number | undefined;
  /** Members suspected dead (a shard of theirs was taken over by expiry). */
  readonly suspected: readonly string[];
  /** Members not counted for now because a shard handed to them expired before they renewed it (see docs/sharding.md). */
  readonly backedOff: readonly string[];
}

/** One shard's Elector in this process. */
interface Slot {
  readonly shard: number;
  readonly elector: Elector;
  readonly stop: AbortController;
  done: Promise<void>;
  /** Kept following until then (monotonic ms), once started or seen for a silent shard (no start/stop churn while renewals lag). */
  followUntilMs: number;
}

interface Settings {
  readonly identity: string;
  readonly setName: string;
  readonly namespace: string;
  readonly shards: number;
  readonly handoverIntervalMs: number;
  readonly settleMs: number;
  readonly clock: Clock;
  readonly random: Random;
}

/**
 * One replica's part in a shard set. `run(signal)` joins the membership, watches the set, leads
 * its fair share of the shards and, when `signal` aborts, hands its shards to the members that
 * will hold them (or releases them), leaves the membership and resolves.
 *
 * Every shard is an ordinary {@link Elector} term: lease-guarded, its own signal and fencing
 * token, never two holders at once. The ShardedElector only decides which shards this replica
 * runs an Elector for and when to call `resign({ to })`; it never writes a shard Lease itself.
 */
export class ShardedElector {
  /** The shard Lease names, by shard index. */
  readonly shardNames: readonly string[];
  /** Counters: handovers started by rebalancing, Electors started. */
  readonly stats = { handovers: 0, electorsStarted: 0 };
  private readonly settings: Settings;
  private readonly client: LeaseClient;
  private readonly ownsClient: boolean;
  private readonly callbacks: ShardCallbacks;
  private readonly logger: Logger | undefined;
  private readonly log: SafeLogger;
  private readonly electorOptions: ShardElectorOptions;
  private readonly feed: SetFeed;
  private readonly view: SetView;
  private readonly membership: Membership;
  private readonly score: ScoreFn = cachedScores();
  private readonly tickMs: number;
  /** The shard lease duration: how long a follower started for a silent shard is kept at least. */
  private readonly leaseMs: number;
  /** A shard record another replica holds that has not changed this long is silent: its holder is not renewing. */
  private readonly shardSilentMs: number;
  /** A membership that has not changed this long is silent: its member stopped refreshing it. */
  private readonly memberSilentMs: number;
  /** The members as last judged while the set watch was open (the view is frozen while it is down). */
  private lastMembers: string[] = [];
  /** When the next shard or member turns silent (the loop wakes then). */
  private nextSilenceAtMs = Infinity;
  /** When a decision held back by settleMs or handoverIntervalMs becomes due (the loop wakes then). */
  private nextDecisionAtMs = Infinity;
  /** Free shards (no holder) -> monotonic time this replica first saw them free. */
  private readonly freeSinceMs = new Map<number, number>();
  private readonly slots = new Map<number, Slot>();
  /** Electors stopped but not yet finished (a shard gets no new Elector until its old one ended). */
  private readonly retiring = new Map<number, Slot>();
  private handingOver: number | undefined;
  private lastHandoverAtMs = -Infinity;
  private membersKey = '';
  private membersChangedAtMs = 0;
  private leaving = false;
  private running = false;
  private wake: (() => void) | undefined;

  /**
   * @param client a client-node `KubeConfig` or a LeaseClient with `list`, `delete` and `watchSet`.
   * @throws ConfigError naming the field (the Elector's and the Membership's own checks included).
   */
  constructor(config: ShardedElectorConfig, client: unknown, callbacks: ShardCallbacks = {}, logger?: Logger) {
    this.settings = resolveSettings(config);
    const { identity, setName, namespace, shards, clock, random } = this.settings;
    this.shardNames = Array.from({ length: shards }, (_, i) => shardLeaseName(setName, i));
    this.electorOptions = config.elector ?? {};
    this.callbacks = callbacks ?? {};
    this.logger = logger;
    this.log = toSafeLogger(logger, { identity, shardSet: `${namespace}/${setName}` });
    // Validates the shared elector options on the longest shard name (throws ConfigError).
    const probe = { config: resolveConfig(this.electorConfig(shards - 1), { client }) };
    this.tickMs = probe.config.retryPeriodMs;
    this.leaseMs = probe.config.leaseDurationMs;
    // Renewals come every retry period: half a period more without a change means a missed one.
    this.shardSilentMs = 1.5 * probe.config.retryPeriodMs;
    // The membership refreshes every renew interval and retries every retry period after a failure.
    const m = config.membership ?? {};
    const memberDurationMs = m.durationMs ?? DEFAULT_MEMBERSHIP_DURATION_MS;
    this.memberSilentMs = (m.renewIntervalMs ?? Math.min(DEFAULT_MEMBERSHIP_RENEW_INTERVAL_MS, memberDurationMs / 3)) + 2 * (m.retryPeriodMs ?? 2_000);
    this.client = leaseClientFor(client, probe.config.renewDeadlineMs);
    this.ownsClient = this.client !== client;
    if (typeof this.client.list !== 'function' || typeof this.client.delete !== 'function' || typeof this.client.watchSet !== 'function') {
      throw new ConfigError('CLIENT_INVALID', 'client', 'a ShardedElector needs a LeaseClient with list, delete and watchSet (a KubeConfig, KubeLeaseClient or MemoryLeaseClient)');
    }
    const labelValue = memberOfLabelValue(setName);
    this.membership = new Membership(
      { ...config.membership, identity, leaseName: setName, leaseNamespace: namespace, clock, labels: { ...config.membership?.labels, [SHARD_SET_LABEL]: labelValue } },
      this.client,
      logger,
    );
    this.view = new SetView(setName, this.shardNames, identity, this.leaseMs);
    this.feed = new SetFeed({
      client: this.client as SetFeedClient,
      namespace,
      labelSelector: `${SHARD_SET_LABEL}=${labelValue}`,
      clock,
      random,
      retryPeriodMs: probe.config.retryPeriodMs,
      requestTimeoutMs: probe.config.renewDeadlineMs,
      log: this.log,
      onChange: (name, lease) => {
        if (this.view.observe(name, lease, clock.now(), clock.wallNow())) this.wake?.();
      },
    });
  }

  /** True while this replica leads `shard` and its lease is guaranteed. */
  isLeader(shard: number): boolean {
    return (this.slots.get(shard)?.elector.isLeader() ?? false) || (this.retiring.get(shard)?.elector.isLeader() ?? false);
  }

  /** The current term of `shard` while this replica leads it, else undefined. */
  getTerm(shard: number): LeadershipTerm | undefined {
    return this.slots.get(shard)?.elector.getTerm() ?? this.retiring.get(shard)?.elector.getTerm();
  }

  /** The shards this replica leads now, ascending. */
  heldShards(): number[] {
    return this.shardNames.map((_, s) => s).filter((s) => this.isLeader(s));
  }

  /** The set requests this replica made: lists and watch opens (the shard Electors' requests are not counted here). */
  get feedRequests(): { readonly lists: number; readonly watches: number } {
    return { ...this.feed.requests };
  }

  snapshot(): ShardedSnapshot {
    const held = this.heldShards();
    return {
      identity: this.settings.identity,
      members: this.members(),
      holders: this.view.holders(),
      held,
      following: [...this.slots.keys()].filter((s) => !held.includes(s)).sort((a, b) => a - b),
      handingOver: this.handingOver,
      // While the set watch is down nothing can refresh a membership: silence is not judged then.
      suspected: this.view.suspected(this.settings.clock.now(), this.feed.open ? this.memberSilentMs : Infinity),
      backedOff: this.view.backedOffMembers(this.settings.clock.now()),
    };
  }

  /**
   * Joins, watches the set and leads this replica's share until `signal` aborts; then hands each
   * held shard to the member that will hold it (releases it when there is none), stops every
   * Elector, leaves the membership and resolves. Never rejects because of API failures.
   */
  async run(signal?: AbortSignal): Promise<void> {
    if (this.running) throw new LeaseKitError('ALREADY_RUNNING', `sharded elector for ${this.settings.setName} is already running`);
    this.running = true;
    this.leaving = false;
    const stop = signal ?? new AbortController().signal;
    const feedStop = new AbortController();
    const membershipStop = new AbortController();
    const feedDone = this.feed.run(feedStop.signal);
    const membershipDone = this.membership.run(membershipStop.signal);
    try {
      while (!stop.aborted) {
        this.evaluate();
        const now = this.settings.clock.now();
        const untilNext = Math.min(this.nextSilenceAtMs + 1, this.nextDecisionAtMs) - now;
        await this.pause(Math.max(1, Math.min(this.tickMs, untilNext)), stop);
      }
      // Leave the membership first: the others stop counting this replica (and, the member set
      // having changed, wait settleMs before moving anything), so none hands it a shard meanwhile.
      this.leaving = true;
      membershipStop.abort();
      await membershipDone;
      await this.leave();
    } catch (err) {
      this.log.error('Sharded election loop failed', { error: describeError(err) });
    } finally {
      this.leaving = true;
      for (const slot of [...this.slots.values()]) this.retire(slot);
      await Promise.all([...this.retiring.values()].map((slot) => slot.done));
      membershipStop.abort();
      await membershipDone;
      feedStop.abort();
      await feedDone;
      if (this.ownsClient) this.client.close?.();
      this.running = false;
    }
  }

  /** Decides which shards this replica runs an Elector for, then rebalances (at most one handover). */
  private evaluate(): void {
    if (this.leaving) return;
    const { identity, shards, clock } = this.settings;
    const now = clock.now();
    const members = this.members();
    if (this.feed.open) this.lastMembers = members;
    const key = members.join('\n');
    if (key !== this.membersKey) {
      this.membersKey = key;
      this.membersChangedAtMs = now;
    }
    const holders = this.holders();
    const owners = plan(shards, members, holders, this.score);
    const standby = this.standbys(members, holders);
    // Shards whose holder is not renewing, as the set watch shows: follow them too, whoever the
    // standby is (it may be dead as well). Followers cost no request while the set watch serves
    // their watches; when the holder is alive the next renewal ends it, when not the standby (it
    // followed longest) or the first follower takes the shard with one compare-and-swap.
    const silent = new Set(this.feed.open ? this.view.silentShards(now, this.shardSilentMs) : []);
    this.nextSilenceAtMs = this.view.nextSilenceAtMs(now, this.shardSilentMs, this.memberSilentMs);
    this.nextDecisionAtMs = Infinity;
    const settledAtMs = this.membersChangedAtMs + this.settings.settleMs;
    const rescueDelayMs = this.rescueDelayMs(members, holders);
    for (let s = 0; s < shards; s++) {
      let slot = this.slots.get(s);
      const free = holders[s] === '';
      if (!free) this.freeSinceMs.delete(s);
      else if (!this.freeSinceMs.has(s)) this.freeSinceMs.set(s, now);
      // Free for settleMs plus a lease duration (members kept changing): the planned owner tries it.
      const overdueAtMs = free ? this.freeSinceMs.get(s)! + this.settings.settleMs + this.leaseMs : Infinity;
      // And, in case the plan keeps naming members that never live that long, this replica too
      // (see rescueDelayMs); the compare-and-swap decides, placement moves the shard later.
      const rescueAtMs = overdueAtMs + rescueDelayMs;
      // A follower of a silent shard stays a lease duration: a lagging renewal does not restart it.
      const keptFollowing = !free && slot !== undefined && slot.followUntilMs > now;
      const wanted = holders[s] === identity || owners[s] === identity || standby[s] === identity || silent.has(s) || keptFollowing || now >= rescueAtMs;
      if (wanted && !slot) {
        // A free shard is taken only once the member set has settled (or it stayed free for
        // settleMs plus a lease duration while members kept changing): at a set's start the first
        // replica would otherwise take every shard, then hand all but its share over, one at a time.
        const freeUntilMs = free ? Math.min(settledAtMs, overdueAtMs) : -Infinity;
        if (now >= freeUntilMs) slot = this.start(s);
        else this.nextDecisionAtMs = Math.min(this.nextDecisionAtMs, freeUntilMs);
      } else if (!wanted && slot && !slot.elector.isLeader() && this.handingOver !== s) this.retire(slot);
      if (!wanted && !slot && rescueAtMs < Infinity) this.nextDecisionAtMs = Math.min(this.nextDecisionAtMs, rescueAtMs);
      if (slot && silent.has(s)) slot.followUntilMs = now + this.leaseMs;
    }
    this.rebalance(members, owners, now);
  }

  /**
   * How long after a free shard became overdue (free for settleMs plus a lease duration) this
   * replica starts an Elector for it although the plan names another member: at once while it
   * holds fewer than its ceil share, one retry period later when it holds its ceil share or more,
   * never while it is not a member or the set watch is down (a frozen view cannot show a take).
   * Normally the planned owner has taken the shard by then and nobody else starts; only a shard
   * the plan keeps giving to members that do not live long enough (churn) draws this small herd.
   */
  private rescueDelayMs(members: readonly string[], holders: readonly string[]): number {
    const { identity, shards } = this.settings;
    if (!this.feed.open || !members.includes(identity)) return Infinity;
    const mine = holders.filter((h) => h === identity).length;
    return mine < fairShare(shards, members.length).ceil ? 0 : this.tickMs;
  }

  /**
   * The members placement counts on. While the set watch is open: the view's live, unsuspected,
   * not silent members. While it is down the view is frozen (no refresh can arrive), so the
   * members last judged with the watch open stand: nothing expires on a frozen view, and the
   * standby Electors (which poll meanwhile) stay.
   */
  private members(): string[] {
    const { clock } = this.settings;
    return this.feed.open ? this.view.members(clock.now(), this.memberSilentMs) : this.lastMembers;
  }

  /** Each shard's holder: this replica's own Electors for the shards it leads, the feed for the rest. */
  private holders(): string[] {
    const holders = this.view.holders();
    for (const s of this.slots.keys()) if (this.isLeader(s)) holders[s] = this.settings.identity;
    return holders;
  }

  /**
   * For each shard another member holds: the member that would get it if its holder left (the
   * plan without the holder). That member keeps an Elector following the shard, so it takes
   * the shard at once on a handover and one lease duration after a crash.
   */
  private standbys(members: readonly string[], holders: readonly string[]): (string | undefined)[] {
    const { identity, shards } = this.settings;
    const standby = new Array<string | undefined>(shards).fill(undefined);
    const others = new Set(holders.filter((h) => h !== '' && h !== identity && members.includes(h)));
    for (const holder of others) {
      const without = plan(shards, members.filter((m) => m !== holder), holders, this.score);
      holders.forEach((h, s) => {
        if (h === holder) standby[s] = without[s];
      });
    }
    return standby;
  }

  /** Starts at most one directed handover of a shard this replica leads but the plan gives to another member. */
  private rebalance(members: readonly string[], owners: readonly (string | undefined)[], now: number): void {
    const { identity, handoverIntervalMs, settleMs } = this.settings;
    // No move on a frozen view (set watch down): it cannot show a crash, a takeover or a leave.
    if (this.handingOver !== undefined || !members.includes(identity) || !this.feed.open) return;
    for (const [s, slot] of [...this.slots].sort(([a], [b]) => a - b)) {
      const to = owners[s];
      if (to === undefined || to === identity || !slot.elector.isLeader()) continue;
      // A move is due: wake exactly when the member set has settled and the interval has passed.
      const dueAtMs = Math.max(this.membersChangedAtMs + settleMs, this.lastHandoverAtMs + handoverIntervalMs);
      if (now < dueAtMs) {
        this.nextDecisionAtMs = Math.min(this.nextDecisionAtMs, dueAtMs);
        return;
      }
      this.handingOver = s;
      this.lastHandoverAtMs = now;
      this.stats.handovers++;
      this.log.info('Handing a shard over to rebalance', { shard: s, to });
      void slot.elector
        .resign({ to })
        .catch((err: unknown) => this.log.warn('Shard handover failed', { shard: s, to, error: describeError(err) }))
        .finally(() => {
          this.handingOver = undefined;
          this.wake?.();
        });
      return;
    }
  }

  /** On shutdown: hands every held shard to the member the plan without this replica gives it to. */
  private async leave(): Promise<void> {
    const { identity, shards } = this.settings;
    const members = this.members().filter((m) => m !== identity);
    const owners = plan(shards, members, this.holders(), this.score);
    await Promise.all(
      [...this.slots.values()].map(async (slot) => {
        const to = owners[slot.shard];
        if (!slot.elector.isLeader() || to === undefined) return;
        await slot.elector.resign({ to }).catch((err: unknown) => this.log.warn('Shard handover on shutdown failed', { shard: slot.shard, to, error: describeError(err) }));
      }),
    );
    // Stopping an Elector that still leads (no other member) releases its shard.
  }

  /** Starts an Elector for `shard` (not while its previous one is still finishing). */
  private start(shard: number): Slot | undefined {
    if (this.retiring.has(shard)) return undefined;
    const elector = new Elector(
      this.electorConfig(shard),
      // Its first read is what the set watch shows (no GET while it is open); its watch is the set watch.
      this.feed.clientFor(this.client, { firstGetFromCache: true }),
      {
        onStartedLeading: (signal, term) => this.callbacks.onStartedLeading?.(shard, signal, term),
        onStoppedLeading: (info) => this.callbacks.onStoppedLeading?.(shard, info),
      },
      this.logger,
    );
    const stop = new AbortController();
    const slot: Slot = { shard, elector, stop, done: Promise.resolve(), followUntilMs: -Infinity };
    slot.done = elector.run(stop.signal).catch((err: unknown) => this.log.error('Shard elector failed', { shard, error: describeError(err) }));
    this.slots.set(shard, slot);
    this.stats.electorsStarted++;
    return slot;
  }

  /** Stops a shard's Elector (it releases the shard if it still leads it) and keeps it until it finished. */
  private retire(slot: Slot): void {
    if (this.slots.get(slot.shard) === slot) this.slots.delete(slot.shard);
    this.retiring.set(slot.shard, slot);
    slot.stop.abort();
    void slot.done.then(() => {
      if (this.retiring.get(slot.shard) === slot) this.retiring.delete(slot.shard);
      this.wake?.();
    });
  }

  private electorConfig(shard: number): ElectorConfig {
    const { identity, setName, namespace, clock, random } = this.settings;
    const options = this.electorOptions;
    return {
      ...options,
      identity,
      leaseName: shardLeaseName(setName, shard),
      leaseNamespace: namespace,
      followerStrategy: 'watch',
      labels: { ...options.labels, [SHARD_SET_LABEL]: memberOfLabelValue(setName) },
      clock,
      random,
    };
  }

  /** Waits `ms` or until woken (a holder or member change) or `stop` aborts. */
  private async pause(ms: number, stop: AbortSignal): Promise<void> {
    const interrupt = new AbortController();
    const onStop = (): void => interrupt.abort();
    stop.addEventListener('abort', onStop, { once: true });
    this.wake = () => interrupt.abort();
    try {
      await sleep(this.settings.clock, ms, interrupt.signal);
    } finally {
      this.wake = undefined;
      stop.removeEventListener('abort', onStop);
    }
  }
}

function resolveSettings(config: ShardedElectorConfig): Settings {
  if (config == null || typeof config !== 'object') throw new ConfigError('CONFIG_MISSING', 'config', 'config cannot be nil: pass a ShardedElectorConfig object');
  const { shards } = config;
  if (!(typeof shards === 'number' && Number.isInteger(shards) && shards >= 1 && shards <= MAX_SHARDS)) {
    throw new ConfigError('OPTION_INVALID', 'shards', `shards (${String(shards)}) must be an integer from 1 to ${MAX_SHARDS}`);
  }
  if (typeof config.setName !== 'string' || config.setName === '') throw new ConfigError('LEASE_NAME_EMPTY', 'setName', 'setName cannot be empty');
  // Every Lease name of the set must be valid: the longest is the membership's `<setName>-member-<10 hex>`.
  if (!isDnsSubdomain(config.setName) || config.setName.length > MAX_SET_NAME_LENGTH) {
    throw new ConfigError(
      'LEASE_NAME_INVALID',
      'setName',
      `setName (${JSON.stringify(config.setName)}) must be a DNS subdomain of at most ${MAX_SET_NAME_LENGTH} characters (lowercase alphanumerics, '-' and '.', starting and ending alphanumeric): the set's Lease names are built from it`,
    );
  }
  if (typeof config.namespace !== 'string' || config.namespace === '') throw new ConfigError('LEASE_NAMESPACE_EMPTY', 'namespace', 'namespace cannot be empty');
  const handoverIntervalMs = config.handoverIntervalMs ?? DEFAULT_HANDOVER_INTERVAL_MS;
  if (!(typeof handoverIntervalMs === 'number' && Number.isFinite(handoverIntervalMs) && handoverIntervalMs > 0)) {
    throw new ConfigError('OPTION_INVALID', 'handoverIntervalMs', `handoverIntervalMs (${String(handoverIntervalMs)}) must be a finite number greater than 0`);
  }
  const settleMs = config.settleMs ?? handoverIntervalMs;
  if (!(typeof settleMs === 'number' && Number.isFinite(settleMs) && settleMs >= 0)) {
    throw new ConfigError('OPTION_INVALID', 'settleMs', `settleMs (${String(settleMs)}) must be a finite number >= 0`);
  }
  return {
    identity: config.identity,
    setName: config.setName,
    namespace: config.namespace,
    shards,
    handoverIntervalMs,
    settleMs,
    clock: config.clock ?? systemClock,
    random: config.random ?? systemRandom,
  };
}
