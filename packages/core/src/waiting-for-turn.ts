import { CoordError, ErrorCodes } from './errors.js';
import { membershipOf, type QueueMembership, readQueueState } from './queue-state.js';
import type { Session } from './session.js';
import { raceSignal } from './wait-options.js';
import type { QueueTicket } from './waiting.js';
import { keyLostError } from './waiting-cleanup.js';
import { watch } from './watch.js';

/**
 * Waits until no key under the predecessor prefix is older than the ticket's key. Each round
 * watches the key just ahead "from now" (a synced watch: no catch-up delay), then confirms with a
 * read that it still stands, so a delete between the read and the watch cannot be missed and a
 * re-created key with the same name is not mistaken for it. Wakes by push only.
 * When the key ahead was the only older key (known from the join or a confirming read), its delete
 * ends the wait with no read at all: keys created later are newer, so nothing can be ahead again.
 * That is the common handoff (a leader resigning to the next candidate), and it saves a round trip.
 * Resolves with the revision of the last read that found the waiter's key in place (the point from
 * which a holder watches its own key, so a delete of it after that read is still noticed).
 * Rejects with the signal's reason when `signal` aborts, and `SESSION_EXPIRED` if a read finds the
 * waiter's own key gone.
 */
export async function waitForPredecessors(
  session: Session,
  ticket: QueueTicket,
  options: {
    readonly predecessorPrefix: string;
    readonly what: string;
    readonly signal: AbortSignal;
    /** Same rule as given to {@link joinQueue}; default {@link isDirectChild}. */
    readonly isQueued?: QueueMembership;
  },
): Promise<bigint> {
  let ahead = ticket.predecessor;
  let soleAhead = ticket.soleAhead;
  let confirmedAt = ticket.revision;
  while (ahead) {
    const pending = watch(session.client, { key: ahead.key }, { signal: options.signal });
    try {
      await raceSignal(pending.created(), options.signal);
      const state = await readQueueState(
        session,
        ticket.key,
        ticket.createRevision,
        options.predecessorPrefix,
        options,
      );
      confirmedAt = state.revision;
      if (!state.predecessor) return confirmedAt;
      if (state.predecessor.key !== ahead.key || state.predecessor.createRevision !== ahead.createRevision) {
        ahead = state.predecessor;
        soleAhead = state.soleAhead;
        continue;
      }
      // Once alone ahead, always alone ahead: older keys only ever go away.
      soleAhead ||= state.soleAhead;
      await raceSignal(waitForDelete(pending), options.signal);
      if (soleAhead) return confirmedAt;
      const after = await readQueueState(
        session,
        ticket.key,
        ticket.createRevision,
        options.predecessorPrefix,
        options,
      );
      confirmedAt = after.revision;
      ahead = after.predecessor;
      soleAhead = after.soleAhead;
    } finally {
      pending.close();
    }
  }
  return confirmedAt;
}

async function waitForDelete(pending: AsyncIterable<{ events: readonly { type: string }[] }>): Promise<void> {
  for await (const batch of pending) {
    if (batch.events.some((event) => event.type === 'delete')) return;
  }
  throw new CoordError(ErrorCodes.CLOSED, 'watch ended before the key ahead was deleted');
}

/**
 * Waits until fewer than `limit` keys under `prefix` are older than the ticket's key (semaphore).
 * One prefix watch "from now" with previous values, then one count read: each later delete of an
 * older key lowers the count locally, so a release costs waiters no request at all. Resolves with
 * the revision at which the count fell below the limit.
 */
export async function waitForFewerAhead(
  session: Session,
  ticket: QueueTicket,
  options: {
    readonly prefix: string;
    readonly limit: number;
    readonly what: string;
    readonly signal: AbortSignal;
    /** Same rule as given to {@link joinQueue}; default {@link isDirectChild}. */
    readonly isQueued?: QueueMembership;
  },
): Promise<bigint> {
  if (ticket.ahead < options.limit) return ticket.revision;
  const isMember = membershipOf(options.prefix, options.isQueued);
  const pending = watch(session.client, { prefix: options.prefix }, { signal: options.signal, prevKv: true });
  try {
    await raceSignal(pending.created(), options.signal);
    const state = await readQueueState(session, ticket.key, ticket.createRevision, options.prefix, {
      ...options,
      countAhead: true,
    });
    let ahead = state.ahead;
    if (ahead < options.limit) return state.revision;
    // Every event after the count read is applied to the count; my key's own delete means it is lost.
    const done = (async (): Promise<bigint> => {
      for await (const batch of pending) {
        if (batch.revision <= state.revision) continue;
        for (const event of batch.events) {
          if (event.type !== 'delete') continue;
          if (event.key === ticket.key) throw keyLostError(session, options.what, ticket.key);
          if (isMember(event.key) && event.prev && event.prev.createRevision < ticket.createRevision) ahead--;
        }
        if (ahead < options.limit) return batch.revision;
      }
      throw new CoordError(ErrorCodes.CLOSED, `${options.what}: watch ended while waiting for a permit`);
    })();
    return await raceSignal(done, options.signal);
  } finally {
    pending.close();
  }
}
