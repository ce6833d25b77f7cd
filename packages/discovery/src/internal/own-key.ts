import { CoordError, ErrorCodes, type Session, watch } from '@coordkit/core';

/**
 * Watches a registration's own key from `fromRevision` and resolves with why it stopped being this
 * registration's: deleted (`SESSION_EXPIRED`: the lease ended, or someone removed it), written under another
 * lease (`CONFLICT`: taken over), the session's own loss reason, or the watch's error. Resolves
 * `undefined` when `stop` aborts first.
 */
export async function ownKeyLost(
  session: Session,
  key: string,
  fromRevision: bigint,
  what: string,
  stop: AbortSignal,
): Promise<CoordError | undefined> {
  const ownKey = watch(session.client, { key }, { fromRevision, signal: stop });
  // A lost session may leave the key in place for a while (its lease not yet expired on the server).
  const onSessionLost = () => ownKey.close();
  session.signal.addEventListener('abort', onSessionLost, { once: true });
  let why: CoordError | undefined;
  try {
    for await (const batch of ownKey) {
      for (const event of batch.events) {
        if (event.type === 'delete')
          why = new CoordError(ErrorCodes.SESSION_EXPIRED, `${what}: key deleted`, { key });
        else if (event.lease !== session.leaseId) {
          why = new CoordError(ErrorCodes.CONFLICT, `${what}: registered again by someone else`, { key });
        }
      }
      if (why) break;
    }
  } catch (err) {
    why =
      err instanceof CoordError
        ? err
        : new CoordError(ErrorCodes.INTERNAL, `${what}: ${String(err)}`, { cause: err });
  } finally {
    session.signal.removeEventListener('abort', onSessionLost);
    ownKey.close();
  }
  if (stop.aborted) return undefined;
  if (!why && session.signal.aborted) why = session.signal.reason as CoordError;
  return why ?? new CoordError(ErrorCodes.INTERNAL, `${what}: watch of the own key ended`, { key });
}
