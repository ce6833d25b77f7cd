import { raceSignal, type Session } from '@coordkit/core';
import { Mutex as LocalMutex } from 'async-mutex';

/**
 * In-process queue per (session, mutex name). All acquirers of one name on one session would share
 * one etcd key (`<name>/<lease id>`), and a second acquirer would find that key already standing and
 * take it for its own; so they queue here first, and only the head of this queue touches etcd.
 */
const queuesBySession = new WeakMap<Session, Map<string, LocalMutex>>();

function queueOf(session: Session, name: string): LocalMutex {
  let queues = queuesBySession.get(session);
  if (!queues) queuesBySession.set(session, (queues = new Map()));
  let queue = queues.get(name);
  if (!queue) queues.set(name, (queue = new LocalMutex()));
  return queue;
}

/** A function that gives the local turn up; calling it again does nothing. */
export type GiveUpTurn = () => void;

function giveUpOnce(session: Session, name: string, queue: LocalMutex): GiveUpTurn {
  let given = false;
  return () => {
    if (given) return;
    given = true;
    // async-mutex hands the turn to the next waiter synchronously, so "unlocked" means nobody waits.
    queue.release();
    const queues = queuesBySession.get(session);
    if (!queue.isLocked() && queues?.get(name) === queue) queues.delete(name);
  };
}

/** Waits for this process's turn at (session, name); rejects with `signal.reason` when it aborts first. */
export async function waitLocalTurn(
  session: Session,
  name: string,
  signal: AbortSignal,
): Promise<GiveUpTurn> {
  const queue = queueOf(session, name);
  const turn = queue.acquire().then(() => giveUpOnce(session, name, queue));
  try {
    return await raceSignal(turn, signal);
  } catch (err) {
    // The queued acquire cannot be withdrawn: pass the turn on as soon as it comes.
    void turn.then((giveUp) => giveUp());
    throw err;
  }
}

/** Takes this process's turn at (session, name) if nobody in the process holds or awaits it. */
export function tryLocalTurn(session: Session, name: string): GiveUpTurn | undefined {
  const queue = queueOf(session, name);
  if (queue.isLocked()) return undefined;
  // Granted synchronously when free; the releaser from the promise is not needed (see giveUpOnce).
  void queue.acquire();
  return giveUpOnce(session, name, queue);
}
