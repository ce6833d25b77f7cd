import { requestTimeoutOf } from './client.js';
import { CoordError, ErrorCodes } from './errors.js';
import { idempotent } from './internal/rpc.js';
import { toBigInt } from './revision.js';
import type { Session } from './session.js';
import { leaveQueue, type QueueTicket } from './waiting.js';

/**
 * The error a waiter or holder gets when its own key is gone: the session's own loss reason when
 * the session is the cause, else `SESSION_EXPIRED` naming the key.
 */
export function keyLostError(session: Session, what: string, key: string): CoordError {
  const reason = session.signal.reason;
  if (reason instanceof CoordError) return reason;
  return new CoordError(
    ErrorCodes.SESSION_EXPIRED,
    `${what}: my key ${key} is gone (session expired or revoked)`,
    {
      key,
    },
  );
}

/**
 * Deletes a waiter's key after a cancelled or failed wait, so the next waiter is not left waiting
 * on it (F13). Best effort and never throws: when the session is already lost its lease removes the
 * key, so this does not wait for etcd.
 */
export async function abandonQueue(session: Session, ticket: QueueTicket, what: string): Promise<void> {
  const leaving = leaveQueue(session, ticket.key, ticket.createRevision, what).then(
    () => undefined,
    () => undefined,
  );
  if (!session.signal.aborted) await leaving;
}

/**
 * After a join whose reply was lost, the key may exist anyway: removes it if it is this session's,
 * or it would block everyone queued behind it until the lease ends. Best effort; never throws.
 */
export async function removeStrandedKey(session: Session, key: string, what: string): Promise<void> {
  if (session.signal.aborted) return;
  try {
    const response = await idempotent(
      `${what}: clean up`,
      () => session.client.kv.range({ key: Buffer.from(key) }),
      AbortSignal.timeout(requestTimeoutOf(session.client)),
      key,
    );
    const stranded = response.kvs[0];
    if (stranded && String(stranded.lease) === session.leaseId) {
      await leaveQueue(session, key, toBigInt(stranded.create_revision), what);
    }
  } catch {
    // Best effort: the lease bounds how long a stranded key can block others.
  }
}
