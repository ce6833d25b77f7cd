import { randomBytes } from 'node:crypto';
import { CoordError, ErrorCodes, idempotent, ops, type Session, toBigInt, writeOnce } from '@coordkit/core';
import type { Etcd3, ICompare, IRequestOp, IResponseOp } from 'etcd3';
import type { MarkerOptions } from '../update.js';

/** Marker value of a write that applied: this prefix, then the record the write asked to keep. */
const APPLIED = Buffer.from('applied:');
/** Marker value put by the resolution of a lost reply, so that the lost write can never apply later. */
const FENCED = Buffer.from('fenced');

/** Where a write's idempotence marker goes, and the lease it lives under. */
interface MarkerPlace {
  /** Marker keys are `<prefix><opId>`. */
  readonly prefix: string;
  /** The session whose lease carries the markers. */
  readonly session: Session;
}

/** One conditional write: `If(compare).Then(writes, successReads).Else(failureReads)`. */
export interface GuardedWrite {
  readonly client: Etcd3;
  /** Names the operation in errors, e.g. `counter "hits": add`. */
  readonly what: string;
  /** The key the write is about, for errors. */
  readonly key: string;
  readonly compare: readonly ICompare[];
  readonly writes: readonly IRequestOp[];
  readonly successReads: readonly IRequestOp[];
  readonly failureReads: readonly IRequestOp[];
  /** What the marker records about the write (e.g. the value written). */
  readonly record: Buffer;
  /** Without markers, a lost reply is thrown as UNKNOWN_OUTCOME. */
  readonly markers: MarkerOptions | undefined;
  readonly signal: AbortSignal;
}

/** How a {@link GuardedWrite} ended. Reads are responses to `successReads` or `failureReads`. */
export type GuardedOutcome =
  | { readonly kind: 'applied'; readonly revision: bigint; readonly reads: readonly IResponseOp[] }
  | { readonly kind: 'refused'; readonly revision: bigint; readonly reads: readonly IResponseOp[] }
  /** The reply was lost but the marker proves the write applied, at `revision`. */
  | {
      readonly kind: 'applied-before';
      readonly revision: bigint;
      readonly record: Buffer;
      readonly reads: readonly IResponseOp[];
    }
  /** The reply was lost, the write had not applied, and the fence guarantees it never will. */
  | { readonly kind: 'fenced'; readonly revision: bigint; readonly reads: readonly IResponseOp[] }
  /** The marker lease was gone, so etcd refused the whole transaction; a new session is used next time. */
  | { readonly kind: 'lease-lost' };

/**
 * Sends one conditional write exactly once (core's `writeOnce`: never re-sent while its outcome is
 * unknown). With a marker place, the transaction also requires the fresh marker key
 * `<prefix><opId>` to be absent and puts it (under the session's lease) with the write, so that a
 * lost reply can be resolved without guessing: one guarded transaction then either finds the
 * marker (the write applied) or puts a "fenced" marker in its place, which makes the lost request
 * fail its compare should etcd still apply it later (a request can outlive its client deadline).
 * Either way the uncontended path stays one round trip.
 */
export async function guardedWrite(write: GuardedWrite): Promise<GuardedOutcome> {
  const marker = await markerPlace(write.markers);
  const markerKey = marker ? `${marker.prefix}${randomBytes(12).toString('base64url')}` : undefined;
  const compare = [...write.compare];
  const success = [...write.writes];
  if (marker && markerKey) {
    compare.push(ops.createRevisionIs(markerKey, 0n));
    success.push(ops.put(markerKey, Buffer.concat([APPLIED, write.record]), marker.session.leaseId));
  }
  success.push(...write.successReads);
  let response: Awaited<ReturnType<Etcd3['kv']['txn']>>;
  try {
    response = await writeOnce(
      write.what,
      () => write.client.kv.txn({ compare, success, failure: [...write.failureReads] }),
      write.signal,
      write.key,
    );
  } catch (err) {
    if (marker && markerKey && CoordError.is(err, ErrorCodes.UNKNOWN_OUTCOME)) {
      return resolveLostReply(write, marker, markerKey, err);
    }
    // etcd refuses a transaction putting a key under a lease that no longer exists as a whole, so
    // nothing applied. A session handed out by a function is replaced: close the dead one.
    if (
      marker &&
      CoordError.is(err, ErrorCodes.SESSION_EXPIRED) &&
      typeof write.markers?.session === 'function'
    ) {
      void marker.session.close();
      return { kind: 'lease-lost' };
    }
    throw err;
  }
  const revision = toBigInt(response.header.revision);
  const reads = response.responses.slice(response.succeeded ? write.writes.length + (marker ? 1 : 0) : 0);
  return { kind: response.succeeded ? 'applied' : 'refused', revision, reads };
}

async function markerPlace(markers: MarkerOptions | undefined): Promise<MarkerPlace | undefined> {
  if (!markers) return undefined;
  const session = typeof markers.session === 'function' ? await markers.session() : markers.session;
  return { prefix: markers.prefix, session };
}

/**
 * Finds out whether a write whose reply was lost applied. The fence put uses the write's own lease:
 * if that lease is gone, the marker may have been deleted with it and nothing can be proven, so the
 * lost reply stays UNKNOWN_OUTCOME; if the put succeeds, the lease was alive, so an absent marker
 * really means "not applied". Repeating this transaction is harmless (it then finds its own fence).
 */
async function resolveLostReply(
  write: GuardedWrite,
  marker: MarkerPlace,
  markerKey: string,
  lost: CoordError,
): Promise<GuardedOutcome> {
  let response: Awaited<ReturnType<Etcd3['kv']['txn']>>;
  try {
    // No caller signal: a timeout must not leave the outcome unresolved when etcd can still tell.
    response = await idempotent(
      `${write.what}: resolve lost reply`,
      () =>
        write.client.kv.txn({
          compare: [ops.createRevisionIs(markerKey, 0n)],
          success: [ops.put(markerKey, FENCED, marker.session.leaseId), ...write.failureReads],
          failure: [ops.get(markerKey), ...write.failureReads],
        }),
      undefined,
      markerKey,
    );
  } catch (err) {
    throw new CoordError(
      ErrorCodes.UNKNOWN_OUTCOME,
      `${write.what}: reply lost and its marker ${markerKey} could not be checked (the write may or may not have been applied)`,
      { cause: err, key: write.key, current: lost },
    );
  }
  const revision = toBigInt(response.header.revision);
  const reads = response.responses.slice(1);
  if (response.succeeded) return { kind: 'fenced', revision, reads };
  const found = response.responses[0]?.response_range?.kvs[0];
  if (found?.value.subarray(0, APPLIED.length).equals(APPLIED)) {
    return {
      kind: 'applied-before',
      revision: toBigInt(found.mod_revision),
      record: found.value.subarray(APPLIED.length),
      reads,
    };
  }
  // Our own fence, put by an earlier try of this resolution whose reply was lost.
  return { kind: 'fenced', revision, reads };
}
