import { CoordError, ErrorCodes, type Session } from '@coordkit/core';

/**
 * The elections each session is campaigning in or leading, in this process. One session has one
 * candidate key per election (`<name>/<lease id in hex>`), so two concurrent campaigns on it would
 * share that key: both would "win", and one's resign would depose the other. The second is refused.
 */
const active = new WeakMap<Session, Set<string>>();

/** Claims the session's candidacy in `name`; returns the function that gives it back (idempotent). */
export function claimCandidacy(session: Session, name: string, what: string): () => void {
  let names = active.get(session);
  if (!names) {
    names = new Set();
    active.set(session, names);
  }
  if (names.has(name)) {
    throw new CoordError(
      ErrorCodes.CONFLICT,
      `${what}: this session is already campaigning or leading (one candidate key per session and election)`,
      { key: `${name}/${session.leaseIdHex}` },
    );
  }
  names.add(name);
  let released = false;
  const owned = names;
  return () => {
    if (released) return;
    released = true;
    owned.delete(name);
  };
}
