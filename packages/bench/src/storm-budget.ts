/**
 * client-go's request budget for a follower whose writes all fail, and the verdict on what a
 * follower actually sent. client-go's follower tries at once, then waits uniformly in [R, 2.2R)
 * after every try (R: the retry period); a try is one GET and at most one write (PUT or POST). Its
 * tries are therefore at least R apart, so a window of W ms holds at most floor(W / R) + 1 of them:
 * that many GETs, as many writes, and twice that many requests in all. client-go never watches,
 * so a watching follower's watch requests count against the total.
 */
import type { Verb } from '@leasekit/lease-apiserver';

/** Requests one follower sent to the Lease API in the window, by verb. */
export type VerbTally = Record<Verb, number>;

/** client-go's budget for one follower in one window. */
export interface Budget {
  /** Tries: floor(W / R) + 1. Also the GET limit and the write limit. */
  readonly tries: number;
  /** Requests in all: two per try. */
  readonly total: number;
}

/** One follower's requests, grouped the way the report shows them, and the verdict. */
export interface FollowerVerdict {
  readonly gets: number;
  /** create + update + patch + delete. */
  readonly writes: number;
  /** watch + list. */
  readonly watches: number;
  readonly total: number;
  readonly overBudget: boolean;
  /** What exceeded the budget, e.g. `GETs 225 > 6`; empty when within it. */
  readonly reasons: readonly string[];
}

/** client-go's budget for a window of `windowMs` at retry period `retryPeriodMs`. */
export function clientGoBudget(windowMs: number, retryPeriodMs: number): Budget {
  if (!(windowMs >= 0 && retryPeriodMs > 0)) throw new RangeError(`budget needs a window >= 0 and a retry period > 0, got ${windowMs} and ${retryPeriodMs}`);
  const tries = Math.floor(windowMs / retryPeriodMs) + 1;
  return { tries, total: 2 * tries };
}

/** An all-zero tally. */
export function emptyTally(): VerbTally {
  return { get: 0, list: 0, watch: 0, create: 0, update: 0, patch: 0, delete: 0, deletecollection: 0 };
}

/** Groups a follower's requests and judges them against `budget`. */
export function judge(tally: VerbTally, budget: Budget): FollowerVerdict {
  const gets = tally.get;
  const writes = tally.create + tally.update + tally.patch + tally.delete + tally.deletecollection;
  const watches = tally.watch + tally.list;
  const total = gets + writes + watches;
  const reasons: string[] = [];
  if (gets > budget.tries) reasons.push(`GETs ${gets} > ${budget.tries}`);
  if (writes > budget.tries) reasons.push(`writes ${writes} > ${budget.tries}`);
  if (total > budget.total) reasons.push(`total ${total} > ${budget.total}`);
  return { gets, writes, watches, total, overBudget: reasons.length > 0, reasons };
}
