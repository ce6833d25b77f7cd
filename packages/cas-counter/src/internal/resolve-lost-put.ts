import { CoordError, ErrorCodes, idempotentWrite, ops, toBigInt, watch } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';
import type { GuardedPut, OpIdCheck, PutOutcome } from './guarded-put.js';
import { guardOf, stateFrom } from './known-state.js';

/** How long reading the key's history may take before the outcome is declared unknown, ms. */
const HISTORY_BUDGET_MS = 10_000;

/**
 * Finds out whether a put whose reply was lost applied, without re-sending it.
 *
 * 1. Fence: the same compare, putting back the bytes the put was computed from (or `absentAs` for a
 *    missing key). Success proves the put had not applied, and since the key's mod revision moved on,
 *    it never can, even if etcd still applies the request later (a request can outlive its deadline).
 *    Repeating the fence is harmless, so it is retried through lost replies of its own.
 * 2. Refused: the key changed after the base state. If the key now holds the put's op id, the put
 *    applied (op ids are unique: a value carrying one is the put's own or a fence's copy of it).
 * 3. Otherwise the key's history says: the put's compare required the base state, so if it applied
 *    it is the first change after the base revision (for a missing key: a creation after the
 *    revision it was seen missing at). A compacted history leaves the outcome UNKNOWN_OUTCOME.
 *
 * Runs without the caller's signal: a timeout must not leave a write unresolved that etcd can resolve.
 */
export async function resolveLostPut(
  put: GuardedPut,
  check: OpIdCheck,
  lost: CoordError,
): Promise<PutOutcome> {
  const { client, key, base, what } = put;
  const fence = base.modRevision === 0n ? check.absentAs : base.value;
  let response: Awaited<ReturnType<Etcd3['kv']['txn']>>;
  try {
    response = await idempotentWrite(
      `${what}: resolve lost reply`,
      () =>
        client.kv.txn({
          compare: [guardOf(key, base)],
          success: [fence ? ops.put(key, fence) : ops.get(key), ...put.failureReads],
          failure: [ops.get(key), ...put.failureReads],
        }),
      undefined,
      key,
    );
  } catch (err) {
    throw unknownOutcome(put, lost, err, 'the key could not be checked');
  }
  const revision = toBigInt(response.header.revision);
  const reads = response.responses.slice(1);
  if (response.succeeded) {
    if (!fence)
      throw unknownOutcome(put, lost, undefined, 'the key is still missing and may yet be created by it');
    const current = { value: fence, modRevision: revision, revision };
    return { applied: false, revision, current, reads, lostReply: true };
  }
  const current = stateFrom(response.responses[0], revision);
  if (current.value && check.opIdOf(current.value) === put.opId) {
    return { applied: true, revision: current.modRevision, current, reads, lostReply: true };
  }
  const appliedAt = await findInHistory(put, check, current.modRevision, lost);
  return appliedAt === undefined
    ? { applied: false, revision, current, reads, lostReply: true }
    : { applied: true, revision: appliedAt, current, reads, lostReply: true };
}

/**
 * The revision at which the put applied, from the key's history, or `undefined` if it did not.
 * Guarded by a mod revision, it can only be the first change after it. Guarded by absence, it is a
 * creation after the revision the key was seen missing at (from revision 1 when it was only
 * guessed missing), so every change up to the current one (`until`) is looked at.
 */
async function findInHistory(
  put: GuardedPut,
  check: OpIdCheck,
  until: bigint,
  lost: CoordError,
): Promise<bigint | undefined> {
  const { base } = put;
  const firstOnly = base.modRevision !== 0n;
  const from = (firstOnly ? base.modRevision : (base.revision ?? 0n)) + 1n;
  const history = watch(
    put.client,
    { key: put.key },
    { fromRevision: from, signal: AbortSignal.timeout(HISTORY_BUDGET_MS) },
  );
  try {
    for await (const batch of history) {
      for (const event of batch.events) {
        if (event.type === 'put' && event.value && check.opIdOf(event.value) === put.opId)
          return event.revision;
        if (firstOnly || event.revision >= until) return undefined;
      }
    }
  } catch (err) {
    throw unknownOutcome(put, lost, err, `its history from revision ${from} could not be read`);
  } finally {
    history.close();
  }
  throw unknownOutcome(
    put,
    lost,
    undefined,
    `its history from revision ${from} took over ${HISTORY_BUDGET_MS} ms`,
  );
}

/** UNKNOWN_OUTCOME naming why; `cause` is what failed (a COMPACTED watch passes its compact revision on), else the lost reply. */
function unknownOutcome(put: GuardedPut, lost: CoordError, cause: unknown, why: string): CoordError {
  const compactRevision = CoordError.is(cause, ErrorCodes.COMPACTED) ? cause.compactRevision : undefined;
  return new CoordError(
    ErrorCodes.UNKNOWN_OUTCOME,
    `${put.what}: reply lost and ${why} (the write may or may not have been applied; it is never re-sent)`,
    { cause: cause ?? lost, key: put.key, ...(compactRevision === undefined ? {} : { compactRevision }) },
  );
}
