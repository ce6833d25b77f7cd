import { type Session, watchOwnKey } from '@coordkit/core';

/**
 * Tells a delivery when its claim key is gone: calls `onLost` once if the key created at
 * `claimRevision` is deleted or rewritten after it. Returns the function that stops watching.
 */
export type ClaimWatch = (
  claimKey: string,
  claimRevision: bigint,
  onLost: (why: string) => void,
) => () => void;

/**
 * A claim watch of its own (one etcd watch per delivery), for deliveries made while the queue
 * handle runs no inflight monitor (`tryDequeue` before any `dequeue`), and for deliveries the
 * monitor hands over when it stops. `verifiedUntil` is the revision up to which the claim is known
 * to be intact; history after it is replayed, so a loss in between is still reported.
 */
export function watchClaimAlone(session: Session, verifiedUntil?: bigint): ClaimWatch {
  return (claimKey, claimRevision, onLost) => {
    const from = verifiedUntil !== undefined && verifiedUntil > claimRevision ? verifiedUntil : claimRevision;
    return watchOwnKey(session, claimKey, from + 1n, (why) => onLost(why), claimRevision);
  };
}
