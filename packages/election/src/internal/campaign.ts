import {
  abandonQueue,
  idempotent,
  joinQueue,
  keyLostError,
  ops,
  type QueueTicket,
  removeStrandedKey,
  type Session,
  waitForPredecessors,
} from '@coordkit/core';

/** One campaign: a candidate key under a session, in an election's key prefix. */
export interface CampaignRequest {
  readonly session: Session;
  /** `<name>/<lease id in hex>`. */
  readonly key: string;
  /** `<name>/`: every key under it is a candidate, the oldest leads. */
  readonly prefix: string;
  readonly value: string;
  /** Names the election in messages. */
  readonly what: string;
}

/** A won campaign: the key's create revision and the revision it was confirmed leader at. */
export interface Elected {
  readonly fencingToken: bigint;
  readonly confirmedAt: bigint;
}

/**
 * Runs etcd's Go `Election.Campaign` on core's waiting engine: create the key under the lease and read
 * the candidate just ahead in one transaction; a key that already existed (a restarted process
 * resuming its lease) keeps its place in line and gets the new value proclaimed, so it reclaims
 * leadership instead of queueing behind itself; then wait, by push, until no older candidate is left.
 * On abort, timeout, session loss or any failure the key is deleted before the promise rejects (with
 * `signal.reason` when the signal aborted, else the error), so no candidate waits on a dead campaign.
 */
export async function runCampaign(request: CampaignRequest, signal: AbortSignal): Promise<Elected> {
  const { session, key, prefix, what } = request;
  signal.throwIfAborted();
  let ticket: QueueTicket;
  try {
    ticket = await joinQueue(session, { key, value: request.value, predecessorPrefix: prefix, what, signal });
  } catch (err) {
    // A create whose reply was lost may still have landed: remove it, or it would block everyone behind it.
    await removeStrandedKey(session, key, what);
    throw signal.aborted ? signal.reason : err;
  }
  try {
    if (ticket.existed && ticket.value.toString('utf8') !== request.value) {
      await proclaimExisting(session, ticket, request.value, what, signal);
    }
    if (!ticket.predecessor) {
      assertStillAlive(session, signal);
      return { fencingToken: ticket.createRevision, confirmedAt: ticket.revision };
    }
    // The wait ends with a read that found my key in place and nothing ahead: the own-key watch of the
    // leadership starts right after it, so it never needs history from the whole wait.
    const confirmedAt = await waitForPredecessors(session, ticket, {
      predecessorPrefix: prefix,
      what,
      signal,
    });
    assertStillAlive(session, signal);
    return { fencingToken: ticket.createRevision, confirmedAt };
  } catch (err) {
    await abandonQueue(session, ticket, what);
    throw signal.aborted ? signal.reason : err;
  }
}

/**
 * A reply can arrive after the lease's deadline passed while this process was paused: checking the
 * monotonic deadline means leadership is never handed out on a lease not provably alive (F14).
 */
function assertStillAlive(session: Session, signal: AbortSignal): void {
  if (!session.isAlive()) throw session.signal.reason;
  signal.throwIfAborted();
}

/** Puts the new value on a resumed key, guarded by its create revision (safe to repeat). */
async function proclaimExisting(
  session: Session,
  ticket: QueueTicket,
  value: string,
  what: string,
  signal: AbortSignal,
): Promise<void> {
  const response = await idempotent(
    `${what}: proclaim on resume`,
    () =>
      session.client.kv.txn({
        compare: [ops.createRevisionIs(ticket.key, ticket.createRevision)],
        success: [ops.put(ticket.key, value, session.leaseId)],
        failure: [],
      }),
    signal,
    ticket.key,
  );
  if (!response.succeeded) throw keyLostError(session, ticket.key, what);
}
