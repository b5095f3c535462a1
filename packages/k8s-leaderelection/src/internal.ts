/**
 * Owns the internal entry: what sibling leasekit packages (the adapter, the embedded API server,
 * the simulator, demo, bench and docs-check) share with this one. Not public API: it may change
 * in any release. Users import the root entry and `./testing` only.
 */
/** Callback isolation and bounded waits, shared with the adapter's standalone mode. */
export { invoke, isPromiseLike, notify, settleWithin } from './callbacks.js';
/** Validation without constructing an Elector (demo and bench option parsing). */
export { resolveConfig } from './config.js';
/** Error plumbing for servers, fault injection and logs. */
export { describeError, makeStatus } from './errors.js';
/** The client-node LeaseClient class itself (users get it through createKubeLeaseClient). */
export { KubeLeaseClient } from './lease-lock.js';
/** Logger adapters the adapter wraps user loggers with. */
export { silentLogger, toSafeLogger } from './logger.js';
/** Lease record conversion and the MicroTime wire format. */
export { formatMicroTime, recordFromLease, MAX_INT32 } from './record.js';
export type { ParsedRecord } from './record.js';
/** The real clock and randomness (the defaults of ElectorConfig.clock and .random). */
export { sleep, systemClock } from './clock.js';
export { systemRandom } from './random.js';

// JSON trees walked without recursion (the store's; the embedded server writes deep answers with them).
export { MAX_JSON_DEPTH, nestedDeeperThan, stringify as jsonTextOf } from './testing/json-tree.js';

/** The test-only seam the simulator's unsafe variants are built through (never for production). */
export { withReplacedSteps } from './steps.js';
export type { ElectorSteps, StepOverrides } from './steps.js';

/** The API server's envelope and ObjectMeta rules (the embedded server's Event objects use them too). */
export * as objectRules from './testing/object-rules.js';
