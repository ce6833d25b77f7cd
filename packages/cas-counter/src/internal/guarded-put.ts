import { CoordError, ErrorCodes, ops, toBigInt, writeOnce } from '@coordkit/core';
import type { Etcd3, IRequestOp, IResponseOp } from 'etcd3';
import type { KnownState } from '../update.js';
import { guardOf, stateFrom } from './known-state.js';
import { resolveLostPut } from './resolve-lost-put.js';

/** How a lost reply is resolved: by finding the write's op id in what the key holds or held. */
export interface OpIdCheck {
  /** The op id a stored value carries, if any. */
  readonly opIdOf: (stored: Buffer) => string | undefined;
  /** Bytes that stand for an absent key, put to fence a lost create; `undefined`: none do. */
  readonly absentAs: Buffer | undefined;
}

/** One optimistic put: `If(key still as in base).Then(put(key, value), successReads).Else(get(key), failureReads)`. */
export interface GuardedPut {
  readonly client: Etcd3;
  /** Names the operation in errors, e.g. `counter "hits": add`. */
  readonly what: string;
  readonly key: string;
  /** The state `value` was computed from: the put applies only if the key is still in it. */
  readonly base: KnownState;
  /** The bytes to store; they carry `opId` (see `check`). */
  readonly value: Buffer;
  /** Unique to this put, so that it can be recognised in the key's value or history. */
  readonly opId: string;
  /** Read in the same transaction after the put when it applies. */
  readonly successReads: readonly IRequestOp[];
  /** Read in the same transaction after `get(key)` when the compare is refused (and by a lost reply's resolution). */
  readonly failureReads: readonly IRequestOp[];
  /** Without it, a lost reply is thrown as UNKNOWN_OUTCOME. */
  readonly check: OpIdCheck | undefined;
  readonly signal: AbortSignal;
}

/** How a {@link GuardedPut} ended. `current` is the key's state as last seen; `reads` answer `successReads` or `failureReads`. */
export interface PutOutcome {
  readonly applied: boolean;
  /** Applied: the revision it committed at (or, after a lost reply, one at which the key held it). Else the last revision seen. */
  readonly revision: bigint;
  readonly current: KnownState;
  readonly reads: readonly IResponseOp[];
  /** The reply was lost and the outcome was found out afterwards. */
  readonly lostReply: boolean;
}

/**
 * Sends the put once (core's `writeOnce` never re-sends a write whose outcome is unknown). The
 * uncontended put is one round trip, and a refused one returns the fresh state for the next try.
 * A lost reply is resolved through the op id (see `resolveLostPut`), or thrown as UNKNOWN_OUTCOME.
 */
export async function guardedPut(put: GuardedPut): Promise<PutOutcome> {
  const { key } = put;
  let response: Awaited<ReturnType<Etcd3['kv']['txn']>>;
  try {
    response = await writeOnce(
      put.what,
      () =>
        put.client.kv.txn({
          compare: [guardOf(key, put.base)],
          success: [ops.put(key, put.value), ...put.successReads],
          failure: [ops.get(key), ...put.failureReads],
        }),
      put.signal,
      key,
    );
  } catch (err) {
    if (put.check && CoordError.is(err, ErrorCodes.UNKNOWN_OUTCOME))
      return resolveLostPut(put, put.check, err);
    throw err;
  }
  const revision = toBigInt(response.header.revision);
  const reads = response.responses.slice(1);
  if (response.succeeded) {
    const current = { value: put.value, modRevision: revision, revision };
    return { applied: true, revision, current, reads, lostReply: false };
  }
  return {
    applied: false,
    revision,
    current: stateFrom(response.responses[0], revision),
    reads,
    lostReply: false,
  };
}
