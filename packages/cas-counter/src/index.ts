/**
 * An exact, shardable counter on etcd, and the optimistic read-modify-write helper it is built on.
 * @packageDocumentation
 */
export { CasCounter } from './cas-counter.js';
export { ContentionBackoff } from './contention-backoff.js';
export { parseCounterValue, type StoredCount } from './counter-value.js';
export type { CasCounterOptions, CompareAndSetResult, CounterCallOptions } from './options.js';
export { type KnownState, type UpdateOptions, type UpdateResult, type Updater, update } from './update.js';
