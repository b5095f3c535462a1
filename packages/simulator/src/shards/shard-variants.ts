/**
 * ShardedElector variants for the sharded run: the real one, and deliberately broken ones that
 * prove the sharded checks catch a class of bug. The ShardedElector has no step seam of its own,
 * so the broken ones replace one of its private methods on the instance (test-only; the method
 * must exist, or building the variant throws, so a rename cannot turn a variant silently safe).
 */
import { ShardedElector, type ShardCallbacks, type ShardedElectorConfig, type Logger } from '@leasekit/k8s-leaderelection';
import { withReplacedSteps, type StepOverrides } from '@leasekit/k8s-leaderelection/internal';

/** Builds one replica's ShardedElector; the sharded run takes one so that variants can be swapped in. */
export type ShardedFactory = (config: ShardedElectorConfig, client: unknown, callbacks: ShardCallbacks, logger?: Logger) => ShardedElector;

type Method = (this: ShardedElector, ...args: never[]) => unknown;

/** Replaces the private method `name` of `sharded` (given the original). */
function replacePrivate(sharded: ShardedElector, name: string, replace: (original: Method) => Method): void {
  const target = sharded as unknown as Record<string, unknown>;
  const original = target[name];
  if (typeof original !== 'function') throw new Error(`ShardedElector has no method ${name}: update the variant`);
  target[name] = replace(original as Method);
}

/** Plans as if it were the only member: follows every free shard and never gives one up (BAL). */
function ignoresQuota(config: ShardedElectorConfig, client: unknown, callbacks: ShardCallbacks, logger?: Logger): ShardedElector {
  const sharded = new ShardedElector(config, client, callbacks, logger);
  replacePrivate(sharded, 'members', () => () => [config.identity]);
  return sharded;
}

/** Never starts an Elector for a shard whose record names another replica: a dead holder's shards stay unled (UNOWNED). */
function ignoresOrphans(config: ShardedElectorConfig, client: unknown, callbacks: ShardCallbacks, logger?: Logger): ShardedElector {
  const sharded = new ShardedElector(config, client, callbacks, logger);
  const holders = (sharded as unknown as { holders(): string[] }).holders.bind(sharded);
  replacePrivate(sharded, 'start', (start) =>
    function (this: ShardedElector, shard: number) {
      const holder = holders()[shard];
      if (holder !== undefined && holder !== '' && holder !== config.identity) return undefined;
      return (start as (this: ShardedElector, shard: number) => unknown).call(this, shard);
    } as Method,
  );
  return sharded;
}

/** Every shard Elector keeps its term while renewals fail: no guarantee deadline, no renew deadline (S1, S3). */
const noLeaseGuard: StepOverrides = () => ({ guaranteeUntil: () => Infinity, renewRoundDeadline: () => Infinity });

/** A ShardedElector whose shard Electors are built with `overrides` (start() builds exactly one Elector, synchronously). */
function withShardSteps(overrides: StepOverrides): ShardedFactory {
  return (config, client, callbacks, logger) => {
    const sharded = new ShardedElector(config, client, callbacks, logger);
    replacePrivate(sharded, 'start', (start) =>
      function (this: ShardedElector, shard: number) {
        return withReplacedSteps(overrides, () => (start as (this: ShardedElector, shard: number) => unknown).call(this, shard));
      } as Method,
    );
    return sharded;
  };
}

/**
 * Its membership retries a failed refresh at once instead of after the retry period (doubling):
 * during an API episode it sends a request per round trip (B). The membership's settings are
 * replaced on the instance, past the validation that forbids a zero retry period.
 */
function membershipRetryStorm(config: ShardedElectorConfig, client: unknown, callbacks: ShardCallbacks, logger?: Logger): ShardedElector {
  const sharded = new ShardedElector(config, client, callbacks, logger);
  const membership = (sharded as unknown as { membership?: { settings?: Record<string, unknown> } }).membership;
  if (membership?.settings === undefined || typeof membership.settings.retryPeriodMs !== 'number') throw new Error('ShardedElector has no membership settings: update the variant');
  membership.settings = { ...membership.settings, retryPeriodMs: 0 };
  return sharded;
}

/**
 * A member whose handover failed is never counted again by this replica: its back-off has no end,
 * and neither a renewal of a shard nor its leaving clears it (BAL: the back-off outlasts its bound,
 * and the balance waits on it). The set view's back-off state is replaced on the instance.
 */
function endlessBackoff(config: ShardedElectorConfig, client: unknown, callbacks: ShardCallbacks, logger?: Logger): ShardedElector {
  const sharded = new ShardedElector(config, client, callbacks, logger);
  type View = { backOff?: (member: string, nowMs: number) => void; backoffs?: Map<string, { failures: number; untilMs: number }> };
  const view = (sharded as unknown as { view?: View }).view;
  const original = view?.backOff;
  const backoffs = view?.backoffs;
  if (view === undefined || typeof original !== 'function' || !(backoffs instanceof Map)) throw new Error('ShardedElector has no view.backOff: update the variant');
  view.backOff = (member, nowMs) => {
    original.call(view, member, nowMs);
    const backoff = backoffs.get(member);
    if (backoff) backoffs.set(member, { ...backoff, untilMs: Infinity });
  };
  backoffs.delete = () => false;
  return sharded;
}

export const SHARD_VARIANTS = {
  safe: (config, client, callbacks, logger) => new ShardedElector(config, client, callbacks, logger),
  'ignores-quota': ignoresQuota,
  'ignores-orphans': ignoresOrphans,
  'unguarded-shards': withShardSteps(noLeaseGuard),
  'membership-retry-storm': membershipRetryStorm,
  'endless-backoff': endlessBackoff,
} as const satisfies Record<string, ShardedFactory>;

export type ShardVariantName = keyof typeof SHARD_VARIANTS;

export function isShardVariantName(name: string): name is ShardVariantName {
  return Object.prototype.hasOwnProperty.call(SHARD_VARIANTS, name);
}
