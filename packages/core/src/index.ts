export type { Etcd3 as EtcdClient } from 'etcd3';
export { type ClientOptions, createClient, type PemSource, requestTimeoutOf } from './client.js';
export {
  assertArgument,
  CoordError,
  type CoordErrorDetails,
  type ErrorCode,
  ErrorCodes,
} from './errors.js';
export { backoffDelay, monotonicNow, sleep } from './internal/clock.js';
export { toCoordError } from './internal/etcd-errors.js';
export { idempotent, idempotentWrite, writeOnce } from './internal/rpc.js';
export { MAX_NAME_LENGTH, prefixRangeEnd, validateName } from './keys.js';
export { type OwnKeyLoss, watchOwnKey } from './own-key.js';
export { type RangeSnapshot, type RawRange, readPrefix, readRange } from './read.js';
export { leaseIdToHex, toBigInt, toWire } from './revision.js';
export { Session, type SessionOptions } from './session.js';
export { type SnapshotAndWatch, snapshotThenWatch } from './snapshot.js';
export { ops, type RangeOptions, rangeRequest } from './txn.js';
export { raceSignal, type WaitOptions, type WaitScope, waitScope } from './wait-options.js';
export {
  isDirectChild,
  type JoinOptions,
  joinQueue,
  leaveQueue,
  type QueuedKey,
  type QueueMembership,
  type QueueTicket,
} from './waiting.js';
export { abandonQueue, keyLostError, removeStrandedKey } from './waiting-cleanup.js';
export { waitForFewerAhead, waitForPredecessors } from './waiting-for-turn.js';
export { type Watch, type WatchOptions, type WatchTarget, watch } from './watch.js';
export { type KeyValue, toKeyValue, type WatchBatch, type WatchEvent } from './watch-event.js';
