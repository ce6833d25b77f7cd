import {
  abandonQueue,
  joinQueue,
  type QueueMembership,
  type QueueTicket,
  removeStrandedKey,
  type Session,
  waitForFewerAhead,
  waitForPredecessors,
} from '@coordkit/core';
import { LockHandle } from '../lock-handle.js';

/**
 * The one lock engine behind Mutex, Semaphore and RWLock (Curator's LockInternals): queue a key under
 * the session lease, wait for its turn by the given rule, confirm, and hand out a {@link LockHandle}.
 */

/** When a queued key's turn comes. */
export type TurnRule =
  /** No key under `prefix` is older than mine (mutex, writer; a reader uses the writers' prefix). */
  | { readonly kind: 'no-older-key'; readonly prefix: string; readonly isQueued?: QueueMembership }
  /** Fewer than `limit` keys under `prefix` are older than mine (semaphore). */
  | { readonly kind: 'fewer-older-keys'; readonly prefix: string; readonly limit: number };

/** One acquisition attempt. */
export interface TurnRequest {
  readonly session: Session;
  /** The key to queue: unique to this attempt (or, for a Mutex, to this session while its local turn is held). */
  readonly key: string;
  readonly rule: TurnRule;
  /** Names the primitive in messages, e.g. `mutex "jobs"`. */
  readonly what: string;
  /** Runs once the granted lock is released. */
  readonly onReleased?: () => void;
}

/**
 * Queues the key and waits for its turn. On abort, timeout, session loss or any failure the key is
 * deleted before the promise rejects (with `signal.reason` when the signal aborted, else the error),
 * so the next waiter is never left waiting on it (F13).
 */
export async function acquireTurn(request: TurnRequest, signal: AbortSignal): Promise<LockHandle> {
  const { session, rule, what } = request;
  signal.throwIfAborted();
  const ticket = await join(request, signal);
  try {
    // Both waits end with my key confirmed in place at the returned revision: the own-key watch of
    // the handle starts right after it, so it never needs history from the whole wait.
    let confirmedAt = ticket.revision;
    if (!isMyTurn(ticket, rule)) {
      confirmedAt =
        rule.kind === 'no-older-key'
          ? await waitForPredecessors(session, ticket, {
              predecessorPrefix: rule.prefix,
              what,
              signal,
              ...(rule.isQueued ? { isQueued: rule.isQueued } : {}),
            })
          : await waitForFewerAhead(session, ticket, {
              prefix: rule.prefix,
              limit: rule.limit,
              what,
              signal,
            });
    }
    return grant(request, ticket, confirmedAt, signal);
  } catch (err) {
    await abandonQueue(session, ticket, what);
    throw signal.aborted ? signal.reason : err;
  }
}

/** Queues the key and, unless its turn is immediate, deletes it again and resolves `undefined`. Never waits. */
export async function tryTurn(request: TurnRequest): Promise<LockHandle | undefined> {
  const { session, rule, what } = request;
  session.signal.throwIfAborted();
  const ticket = await join(request, undefined);
  if (!isMyTurn(ticket, rule)) {
    await abandonQueue(session, ticket, what);
    return undefined;
  }
  try {
    return grant(request, ticket, ticket.revision, undefined);
  } catch (err) {
    await abandonQueue(session, ticket, what);
    throw err;
  }
}

function isMyTurn(ticket: QueueTicket, rule: TurnRule): boolean {
  return rule.kind === 'no-older-key' ? ticket.predecessor === undefined : ticket.ahead < rule.limit;
}

function grant(
  request: TurnRequest,
  ticket: QueueTicket,
  confirmedAt: bigint,
  signal: AbortSignal | undefined,
): LockHandle {
  const { session } = request;
  // A reply can arrive after the lease's deadline passed while this process was paused: checking the
  // monotonic deadline here means a lock is never handed out on a lease not provably alive (F14).
  if (!session.isAlive()) throw session.signal.reason;
  signal?.throwIfAborted();
  return new LockHandle({
    session,
    key: ticket.key,
    fencingToken: ticket.createRevision,
    confirmedAt,
    what: request.what,
    ...(request.onReleased ? { onReleased: request.onReleased } : {}),
  });
}

async function join(request: TurnRequest, signal: AbortSignal | undefined): Promise<QueueTicket> {
  const { session, key, rule, what } = request;
  try {
    return await joinQueue(session, {
      key,
      value: '',
      predecessorPrefix: rule.prefix,
      countAhead: rule.kind === 'fewer-older-keys',
      ...(rule.kind === 'no-older-key' && rule.isQueued ? { isQueued: rule.isQueued } : {}),
      what,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    // A create whose reply was lost may still have landed: remove it, or it would block everyone behind it.
    await removeStrandedKey(session, key, what);
    throw signal?.aborted ? signal.reason : err;
  }
}
