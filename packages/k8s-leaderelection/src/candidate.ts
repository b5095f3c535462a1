/** Owns a coordinated elector's LeaseCandidate: creating it, refreshing it on its interval, answering the coordinator's pings. */
import { sleep, type Clock } from './clock.js';
import type { CandidateSettings, ResolvedConfig } from './config.js';
import { ConfigError, describeError, isApiError, isConflict, isNotFound } from './errors.js';
import type { LeaseCandidate, LeaseCandidateWatchEvent, LeaseClient } from './lease.js';
import type { SafeLogger } from './logger.js';
import { formatMicroTime, parseMicroTime } from './record.js';
import { boundedSignal, raceAbort } from './request.js';

/** The LeaseCandidate API group and version (Kubernetes 1.33+, beta). */
export const CANDIDATE_API_VERSION = 'coordination.k8s.io/v1beta1';
/** A refreshed candidate is refreshed again after this long (client-go's LeaseCandidate requeueInterval, 5 minutes). */
export const CANDIDATE_RENEW_INTERVAL_MS = 5 * 60_000;
/** Failed candidate refreshes back off up to this (client-go's workqueue rate limiter cap, 1000 s). */
export const CANDIDATE_MAX_BACKOFF_MS = 1_000_000;
/**
 * A ping is answered no sooner than this (or one retry period, if shorter) after the previous
 * refresh started: well inside the 5 s the Kubernetes coordinator waits for answers.
 */
export const PING_ANSWER_FLOOR_MS = 1000;
/** A failing candidate watch is reopened at least this often (client-go's reflector backoff cap, 30 s). */
export const CANDIDATE_WATCH_MAX_BACKOFF_MS = 30_000;

/** The LeaseCandidate methods of a {@link LeaseClient}, all present (what `coordinated: true` needs). */
export type LeaseCandidateClient = Required<Pick<LeaseClient, 'getCandidate' | 'createCandidate' | 'updateCandidate' | 'watchCandidate'>>;

const CANDIDATE_METHODS = ['getCandidate', 'createCandidate', 'updateCandidate', 'watchCandidate'] as const;

/** `client` as a {@link LeaseCandidateClient}; throws a ConfigError naming `client` when it lacks a method. */
export function candidateClientOf(client: LeaseClient): LeaseCandidateClient {
  const methods = client as Partial<Record<(typeof CANDIDATE_METHODS)[number], unknown>>;
  const missing = CANDIDATE_METHODS.filter((method) => typeof methods[method] !== 'function');
  if (missing.length > 0) {
    throw new ConfigError(
      'CLIENT_INVALID',
      'client',
      `client lacks the LeaseCandidate methods coordinated: true needs (${missing.join(', ')}): use a KubeConfig, or a LeaseClient that implements them`,
    );
  }
  return client as LeaseCandidateClient;
}

/** Whether `candidate` carries a ping not answered yet: a pingTime after its renewTime (or with no renewTime). */
export function pingPending(candidate: LeaseCandidate | undefined): boolean {
  const ping = parseMicroTime(candidate?.spec?.pingTime);
  if (ping === null) return false;
  const renew = parseMicroTime(candidate?.spec?.renewTime);
  return renew === null || ping > renew;
}

/** The wait after `failures` (>= 1) consecutive failures: R, 2R, 4R, ... capped at `capMs`. */
export function candidateBackoffMs(retryPeriodMs: number, failures: number, capMs: number): number {
  return Math.min(retryPeriodMs * 2 ** Math.min(failures - 1, 30), capMs);
}

export interface CandidateKeeperOptions {
  readonly client: LeaseCandidateClient;
  readonly config: ResolvedConfig;
  readonly settings: CandidateSettings;
  readonly clock: Clock;
  readonly log: SafeLogger;
}

/**
 * Keeps this replica's LeaseCandidate, named after its identity, in the Lease's namespace (as
 * kube-controller-manager and kube-scheduler do). The first refresh reads it (creating it when
 * missing); later ones write over the last object seen (from the watch or our own write), one
 * request each. A refresh every {@link CANDIDATE_RENEW_INTERVAL_MS}; a ping (pingTime after
 * renewTime, seen on the watch) is answered at once, but never sooner than a second (or R) after
 * the previous refresh started ({@link PING_ANSWER_FLOOR_MS}), and each distinct ping once. The renewTime answering a ping is
 * never before the ping (a clock behind the API server's must not leave the ping unanswered).
 * Leaves the candidate behind on shutdown, like client-go: the API server garbage-collects
 * stale candidates, and no delete permission is needed.
 */
export class CandidateKeeper {
  /** The last candidate object seen (our write's answer or a watch event); undefined: read it first. */
  private last: LeaseCandidate | undefined;
  /** The pingTime of the last ping answered (or being answered). */
  private answeredPing: string | undefined;
  private pinged = false;
  private wake: (() => void) | undefined;
  /** resourceVersions the watch delivered while a write was in flight, in order (undefined: no write in flight). */
  private seenDuringWrite: (string | undefined)[] | undefined;
  /** The candidate object was found to run for another Lease (logged once). */
  private reportedForeign = false;

  constructor(private readonly options: CandidateKeeperOptions) {}

  /** The candidate's name: the elector's identity (the coordinator writes it as the Lease's holder). */
  get name(): string {
    return this.options.settings.name;
  }

  /** Keeps the candidate until `stop` aborts; never rejects. */
  async run(stop: AbortSignal): Promise<void> {
    await Promise.all([this.refreshLoop(stop), this.watchLoop(stop)]);
  }

  private async refreshLoop(stop: AbortSignal): Promise<void> {
    const { clock, config } = this.options;
    let failures = 0;
    while (!stop.aborted) {
      const startedAt = clock.now();
      this.pinged = false;
      const ok = await this.refresh(stop);
      failures = ok ? 0 : failures + 1;
      const dueAt = startedAt + (ok ? CANDIDATE_RENEW_INTERVAL_MS : candidateBackoffMs(config.retryPeriodMs, failures, CANDIDATE_MAX_BACKOFF_MS));
      await this.waitUntil(dueAt, startedAt + Math.min(config.retryPeriodMs, PING_ANSWER_FLOOR_MS), stop);
    }
  }

  /** Waits until `dueAt`, or after a ping until `floorAt` (whichever is sooner). */
  private async waitUntil(dueAt: number, floorAt: number, stop: AbortSignal): Promise<void> {
    const { clock } = this.options;
    while (!stop.aborted) {
      const at = this.pinged ? Math.min(dueAt, floorAt) : dueAt;
      const ms = at - clock.now();
      if (ms <= 0) return;
      const interrupt = new AbortController();
      const onStop = (): void => interrupt.abort();
      stop.addEventListener('abort', onStop, { once: true });
      this.wake = () => interrupt.abort();
      try {
        await sleep(clock, ms, interrupt.signal);
      } finally {
        this.wake = undefined;
        stop.removeEventListener('abort', onStop);
      }
    }
  }

  /** One refresh (GET, then create or update; or one update over the last object seen). True when it committed. */
  private async refresh(stop: AbortSignal): Promise<boolean> {
    const { client, config } = this.options;
    const ns = config.leaseNamespace;
    let seen: (string | undefined)[] = [];
    try {
      let base = this.last;
      if (base === undefined) {
        try {
          base = await this.send(stop, (signal) => client.getCandidate(ns, this.name, { signal }));
        } catch (err) {
          if (!isNotFound(err)) throw err;
          this.last = await this.send(stop, (signal) => client.createCandidate(ns, this.created(), { signal }));
          this.options.log.info('Created the LeaseCandidate', { candidate: this.name });
          return true;
        }
      }
      if (base.spec?.leaseName !== undefined && base.spec.leaseName !== config.leaseName) {
        // leaseName is immutable: writing on would keep it a candidate for the other Lease.
        if (!this.reportedForeign) {
          this.reportedForeign = true;
          this.options.log.error('The LeaseCandidate runs for another Lease: two coordinated electors share this identity; give each its own identity', {
            candidate: this.name,
            candidateLease: base.spec.leaseName,
          });
        }
        this.last = undefined;
        return false;
      }
      this.seenDuringWrite = [];
      const answer = await this.send(stop, (signal) => client.updateCandidate(ns, this.renewed(base), { signal })).finally(() => {
        seen = this.seenDuringWrite ?? [];
        this.seenDuringWrite = undefined;
      });
      // The watch may have delivered our write and then a newer object (a ping) before this
      // answer arrived: keep the newer one, or the ping would be answered over a stale object.
      const ours = seen.lastIndexOf(answer.metadata?.resourceVersion);
      if (ours === -1 || ours === seen.length - 1) this.last = answer;
      return true;
    } catch (err) {
      // A stale or vanished object: read it afresh next time.
      if (isConflict(err) || isNotFound(err) || isApiError(err, 'AlreadyExists')) this.last = undefined;
      if (!stop.aborted) this.options.log.warn('Could not refresh the LeaseCandidate', { candidate: this.name, error: describeError(err) });
      return false;
    }
  }

  private send<T>(stop: AbortSignal, request: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const bounded = boundedSignal(this.options.clock, this.options.config.renewDeadlineMs, stop);
    return raceAbort(Promise.resolve().then(() => request(bounded.signal)), bounded.signal).finally(() => bounded.dispose());
  }

  /** A new candidate object: our lease, versions and strategy, renewTime now. */
  private created(): LeaseCandidate {
    const { config, settings } = this.options;
    return {
      apiVersion: CANDIDATE_API_VERSION,
      kind: 'LeaseCandidate',
      metadata: { name: this.name, namespace: config.leaseNamespace },
      spec: {
        leaseName: config.leaseName,
        binaryVersion: settings.binaryVersion,
        emulationVersion: settings.emulationVersion,
        strategy: settings.strategy,
        renewTime: this.renewTime(undefined),
      },
    };
  }

  /** `base` refreshed: renewTime now (never before a pending ping), our versions and strategy (leaseName is immutable). */
  private renewed(base: LeaseCandidate): LeaseCandidate {
    const { settings } = this.options;
    if (pingPending(base)) this.answeredPing = base.spec?.pingTime ?? undefined;
    return {
      ...base,
      spec: {
        ...base.spec,
        binaryVersion: settings.binaryVersion,
        emulationVersion: settings.emulationVersion,
        strategy: settings.strategy,
        renewTime: this.renewTime(base),
      },
    };
  }

  private renewTime(base: LeaseCandidate | undefined): string {
    const now = this.options.clock.wallNow();
    const ping = pingPending(base) ? parseMicroTime(base?.spec?.pingTime) : null;
    return formatMicroTime(ping !== null && ping >= now ? ping + 0.001 : now);
  }

  private async watchLoop(stop: AbortSignal): Promise<void> {
    const { client, config, clock, log } = this.options;
    let failures = 0;
    while (!stop.aborted) {
      let opened = false;
      try {
        await client.watchCandidate(config.leaseNamespace, this.name, {
          signal: stop,
          onOpen: () => {
            opened = true;
          },
          onEvent: (event) => {
            opened = true;
            this.onEvent(event);
          },
        });
      } catch (err) {
        if (!stop.aborted) log.warn('The LeaseCandidate watch failed', { candidate: this.name, error: describeError(err) });
      }
      if (stop.aborted) return;
      failures = opened ? 0 : failures + 1;
      // Reopened one retry period after a stream that worked, backing off after failures.
      await sleep(clock, opened ? config.retryPeriodMs : candidateBackoffMs(config.retryPeriodMs, failures, CANDIDATE_WATCH_MAX_BACKOFF_MS), stop);
    }
  }

  private onEvent(event: LeaseCandidateWatchEvent): void {
    if (event.type === 'DELETED') {
      // Gone (garbage-collected, or deleted by hand): create it again, at the ping pace.
      this.last = undefined;
      this.pinged = true;
      this.wake?.();
      return;
    }
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED') return;
    const candidate = event.object as LeaseCandidate;
    if (candidate.metadata?.name !== this.name) return;
    this.seenDuringWrite?.push(candidate.metadata.resourceVersion);
    this.last = candidate;
    if (pingPending(candidate) && candidate.spec?.pingTime !== this.answeredPing) {
      this.pinged = true;
      this.wake?.();
    }
  }
}
