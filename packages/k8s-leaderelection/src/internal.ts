/** Owns the internal entry: what sibling leasekit packages share with this one. Not public API: it may change in any release. */
export { invoke, isPromiseLike, notify, settleWithin } from './callbacks.js';
