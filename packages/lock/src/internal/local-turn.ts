import type { Session } from '@coordkit/core';

/**
 * In-process FIFO per (session, mutex name). All acquirers of one name on one session would share
 * one etcd key (`<name>/<lease id>`), and a second acquirer would find that key already standing and
 * take it for its own; so they queue here first, and only the head of this queue touches etcd.
 *
 * Hand-rolled rather than async-mutex: a free turn must be taken synchronously with no promise at
 * all (async-mutex's generator-based acquire cost ~12 µs per uncontended lock, 1.5 % of the whole
 * two-transaction cycle), and a waiter must be removable from the line when it gives up.
 */
interface Waiter {
  readonly grant: (giveUp: GiveUpTurn) => void;
}

/** Per session: the names whose turn is held, each with its line of waiters (FIFO). */
const linesBySession = new WeakMap<Session, Map<string, Waiter[]>>();

function linesOf(session: Session): Map<string, Waiter[]> {
  let lines = linesBySession.get(session);
  if (!lines) linesBySession.set(session, (lines = new Map()));
  return lines;
}

/** A function that gives the local turn up; calling it again does nothing. */
export type GiveUpTurn = () => void;

function giveUpOnce(lines: Map<string, Waiter[]>, name: string): GiveUpTurn {
  let given = false;
  return () => {
    if (given) return;
    given = true;
    const line = lines.get(name);
    const next = line?.shift();
    // Handed to the next waiter synchronously, so nobody can slip in between; the name is free only
    // when nobody waits.
    if (next) next.grant(giveUpOnce(lines, name));
    else lines.delete(name);
  };
}

/** Takes this process's turn at (session, name) if nobody in the process holds or awaits it. */
export function tryLocalTurn(session: Session, name: string): GiveUpTurn | undefined {
  const lines = linesOf(session);
  if (lines.has(name)) return undefined;
  lines.set(name, []);
  return giveUpOnce(lines, name);
}

/** Waits for this process's turn at (session, name); rejects with `signal.reason` when it aborts first. */
export function waitLocalTurn(session: Session, name: string, signal: AbortSignal): Promise<GiveUpTurn> {
  const taken = tryLocalTurn(session, name);
  if (taken) return Promise.resolve(taken);
  if (signal.aborted) return Promise.reject(signal.reason);
  const lines = linesOf(session);
  const line = lines.get(name)!;
  return new Promise<GiveUpTurn>((resolve, reject) => {
    const waiter: Waiter = {
      grant: (giveUp) => {
        signal.removeEventListener('abort', onAbort);
        resolve(giveUp);
      },
    };
    const onAbort = () => {
      // Still in line (a granted waiter has already removed this listener): leave the line.
      const index = line.indexOf(waiter);
      if (index >= 0) line.splice(index, 1);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    line.push(waiter);
  });
}
