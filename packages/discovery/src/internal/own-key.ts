import { CoordError, ErrorCodes, type Session, watchOwnKey } from '@coordkit/core';

/**
 * Resolves with why a registration's key stopped being this registration's, from core's own-key
 * watch: deleted (`SESSION_EXPIRED`: the lease ended, or someone removed it), written under another
 * lease (`CONFLICT`: taken over), the session's own loss reason, or the watch's error. Resolves
 * `undefined` when `stop` aborts first.
 */
export function ownKeyLost(
  session: Session,
  key: string,
  fromRevision: bigint,
  what: string,
  stop: AbortSignal,
): Promise<CoordError | undefined> {
  return new Promise((resolve) => {
    let stopWatching: () => void = () => undefined;
    const finish = (why: CoordError | undefined) => {
      stopWatching();
      session.signal.removeEventListener('abort', onSessionLost);
      stop.removeEventListener('abort', onStop);
      resolve(stop.aborted ? undefined : why);
    };
    // A lost session may leave the key in place for a while (its lease not yet expired on the server).
    const onSessionLost = () => finish(session.signal.reason as CoordError);
    const onStop = () => finish(undefined);
    if (stop.aborted) return finish(undefined);
    if (session.signal.aborted) return onSessionLost();
    session.signal.addEventListener('abort', onSessionLost, { once: true });
    stop.addEventListener('abort', onStop, { once: true });
    stopWatching = watchOwnKey(session, key, fromRevision, (why, cause, error) => {
      if (cause === 'deleted')
        finish(new CoordError(ErrorCodes.SESSION_EXPIRED, `${what}: key deleted`, { key }));
      else if (cause === 'replaced')
        finish(new CoordError(ErrorCodes.CONFLICT, `${what}: registered again by someone else`, { key }));
      else
        finish(
          error instanceof CoordError
            ? error
            : new CoordError(ErrorCodes.INTERNAL, `${what}: ${why}`, { cause: error, key }),
        );
    });
  });
}
