import { CoordError, ErrorCodes } from './errors.js';
import { idempotent } from './internal/rpc.js';
import {
  isDirectChild,
  lastBefore,
  membershipOf,
  type QueuedKey,
  type QueueMembership,
  readQueueState,
} from './queue-state.js';
import { toBigInt } from './revision.js';
import type { Session } from './session.js';
import { ops } from './txn.js';
import { type KeyValue, toKeyValue } from './watch-event.js';

/**
 * The waiting engine every queue-shaped primitive (mutex, semaphore, rwlock, election) drives,
 * after etcd's Go concurrency package: a waiter's key is created under the session lease, its
 * create revision is its place in line, and it waits only for the key just ahead of it.
 */

/** A waiter's place in line, as returned by {@link joinQueue}. */
export interface QueueTicket {
  readonly key: string;
  /** The key's create revision: its place in line and its fencing token. */
  readonly createRevision: bigint;
  /** The store revision the join was read at. */
  readonly revision: bigint;
  /** The key's value in etcd (a re-joining waiter finds its earlier value). */
  readonly value: Buffer;
  /** True when the key already existed under this session (a resumed session re-joining). */
  readonly existed: boolean;
  /** The last key ahead under the predecessor prefix, if any. */
  readonly predecessor: QueuedKey | undefined;
  /** With `countAhead`: how many keys under that prefix were created before this one. */
  readonly ahead: number;
  /**
   * The predecessor is the only key under the prefix older than mine. Keys created later are always
   * newer, so once it is deleted nothing is ahead any more, and no read is needed to know it.
   */
  readonly soleAhead: boolean;
}

/** What {@link joinQueue} needs. */
export interface JoinOptions {
  readonly key: string;
  readonly value: Buffer | string;
  /** The prefix whose keys this waiter queues behind (its own prefix, or writers only for a reader). */
  readonly predecessorPrefix: string;
  /** Count the keys ahead instead of reading the last one (semaphores). */
  readonly countAhead?: boolean;
  /** Which keys under the prefix are queue entries; default {@link isDirectChild}. */
  readonly isQueued?: QueueMembership;
  readonly what: string;
  readonly signal?: AbortSignal;
}

/**
 * Creates the waiter's key under the session lease and reads what is ahead of it, in one
 * transaction. Safe to repeat (the create is guarded by "key absent"), so a lost reply is retried.
 */
export async function joinQueue(session: Session, options: JoinOptions): Promise<QueueTicket> {
  const { key, predecessorPrefix, what } = options;
  const isMember = membershipOf(predecessorPrefix, options.isQueued);
  // My key is the newest in the store right after the put, so "newest two" is me and the one before me.
  // Semaphores count the keys themselves, so that nested keys of other primitives are not counted.
  const ahead = options.countAhead
    ? ops.range(predecessorPrefix, { keysOnly: true })
    : ops.range(predecessorPrefix, { order: 'newest-first', limit: 2, keysOnly: true });
  const response = await idempotent(
    `${what}: join`,
    () =>
      session.client.kv.txn({
        compare: [ops.createRevisionIs(key, 0n)],
        // No read of my own key on success: its create revision is the transaction's revision.
        success: [ops.put(key, options.value, session.leaseId), ahead],
        failure: [ops.get(key)],
      }),
    options.signal,
    key,
  );
  const revision = toBigInt(response.header.revision);
  let mine: KeyValue;
  if (response.succeeded) {
    const value = Buffer.from(options.value);
    mine = {
      key,
      value,
      createRevision: revision,
      modRevision: revision,
      version: 1n,
      lease: session.leaseId,
    };
  } else {
    const mineRaw = response.responses[0]?.response_range?.kvs[0];
    if (!mineRaw)
      throw new CoordError(ErrorCodes.INTERNAL, `${what}: key ${key} vanished while joining`, { key });
    mine = toKeyValue(mineRaw);
  }
  if (mine.lease !== session.leaseId) {
    throw new CoordError(
      ErrorCodes.CONFLICT,
      `${what}: key ${key} belongs to another lease (${mine.lease ?? 'none'})`,
      {
        key,
      },
    );
  }
  if (response.succeeded) {
    const kvs = response.responses[1]?.response_range?.kvs ?? [];
    const found = lastBefore(kvs, key, mine.createRevision, isMember);
    if (options.countAhead || found.certain) {
      // The range's count is every key under the prefix (limit aside): just mine and the one ahead,
      // or just the one ahead when my key is outside the prefix (a reader queueing behind writers).
      const keysInRange = Number(response.responses[1]?.response_range?.count ?? -1);
      const soleAhead =
        !options.countAhead &&
        found.predecessor !== undefined &&
        keysInRange === (key.startsWith(predecessorPrefix) ? 2 : 1);
      return {
        key,
        createRevision: mine.createRevision,
        revision,
        value: mine.value,
        existed: false,
        predecessor: options.countAhead ? undefined : found.predecessor,
        // Every other queued key under the prefix was created before mine.
        ahead: options.countAhead
          ? kvs.filter((kv) => kv.key.toString() !== key && isMember(kv.key.toString())).length
          : 0,
        soleAhead,
      };
    }
    const state = await readQueueState(session, key, mine.createRevision, predecessorPrefix, options);
    return { ...state, key, createRevision: mine.createRevision, value: mine.value, existed: false };
  }
  const state = await readQueueState(session, key, mine.createRevision, predecessorPrefix, options);
  return { ...state, key, createRevision: mine.createRevision, value: mine.value, existed: true };
}

/**
 * Deletes a waiter's or holder's key only if it is still the same key (same create revision),
 * so a retried or late release can never delete a newer holder's key (F15). Idempotent.
 */
export async function leaveQueue(
  session: Session,
  key: string,
  createRevision: bigint,
  what: string,
): Promise<boolean> {
  const response = await idempotent(
    `${what}: release`,
    () =>
      session.client.kv.txn({
        compare: [ops.createRevisionIs(key, createRevision)],
        success: [ops.delete(key)],
        failure: [],
      }),
    undefined,
    key,
  );
  return response.succeeded;
}

export type { KeyValue, QueuedKey, QueueMembership };
export { isDirectChild, membershipOf };
