/**
 * The sharded component's liveness check, with client-go's semantics per replica: unhealthy only
 * when this replica believes it leads a shard but none of its shards was renewed for longer than
 * the lease duration plus a tolerance (the process is wedged; a restart hands its shards over).
 */
import { LeaseKitError, type Clock } from '@leasekit/k8s-leaderelection';

/**
 * Tracks the shard terms begun and not yet ended (from the shard callbacks) and the last
 * successful shard write (the shard Electors' `onRenewed` hook, shared by every shard).
 */
export class ShardLiveness {
  private readonly clock: Clock;
  private readonly leaseDurationMs: number;
  private readonly name: string;
  private readonly leading = new Set<number>();
  private lastRenewAtMs = -Infinity;

  constructor(options: { clock: Clock; leaseDurationMs: number; name: string }) {
    this.clock = options.clock;
    this.leaseDurationMs = options.leaseDurationMs;
    this.name = options.name;
  }

  /** A shard Elector renewed (or acquired) its Lease. */
  renewed(): void {
    this.lastRenewAtMs = this.clock.now();
  }

  /** A shard term began (its acquisition is a renewal too). */
  started(shard: number): void {
    this.leading.add(shard);
    this.renewed();
  }

  /** A shard term ended. */
  ended(shard: number): void {
    this.leading.delete(shard);
  }

  /**
   * An Error when a shard term is running but no shard was renewed for longer than the lease
   * duration plus `toleranceMs`; undefined otherwise (followers and a stopped replica are healthy).
   * The shard Electors' renewals are seen together (their observer hook carries no shard), so
   * this catches a wedged process; a single shard that stops renewing ends its own term at its
   * guarantee deadline (`shard.lost`, reason `renew_failed`).
   */
  check(toleranceMs: number): Error | undefined {
    if (this.leading.size === 0) return undefined;
    const sinceMs = this.clock.now() - this.lastRenewAtMs;
    if (sinceMs > this.leaseDurationMs + toleranceMs) {
      const shards = [...this.leading].sort((a, b) => a - b).join(', ');
      return new LeaseKitError(
        'LEADER_NOT_RENEWING',
        `failed election to renew leadership of shard set ${this.name} (shards ${shards}): last shard renewal ${Math.round(sinceMs)} ms ago exceeds lease duration ${this.leaseDurationMs} ms + tolerance ${toleranceMs} ms`,
      );
    }
    return undefined;
  }
}
