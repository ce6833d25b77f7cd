/**
 * Leader election with fencing tokens on etcd, compatible with `etcdctl elect`: {@link Election},
 * a thin facade over the waiting engine in `@coordkit/core` (the one the locks use).
 * @packageDocumentation
 */
export type { WaitOptions } from '@coordkit/core';
export { Election, type ObserveOptions } from './election.js';
export { type ElectionEventMap, ElectionEvents } from './election-events.js';
export type { LeaderInfo } from './leader-info.js';
export { Leadership, type LeadershipGrant, type ResignOptions } from './leadership.js';
