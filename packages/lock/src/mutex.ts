import { assertArgument, type Session, validateName, type WaitOptions, waitScope } from '@coordkit/core';
import { tryLocalTurn, waitLocalTurn } from './internal/local-turn.js';
import { acquireTurn, tryTurn } from './internal/turn.js';
import type { LockHandle } from './lock-handle.js';

/**
 * A fenced, fair, herd-free distributed mutex, compatible with `etcdctl lock <name>` and etcd's Go
 * `concurrency.Mutex`: the owner key is `<name>/<session lease id in hex>`, the holder is the key with
 * the smallest create revision under `<name>/`, and each waiter watches only the key just ahead of it.
 *
 * Ordering: FIFO by create revision across processes; acquirers on the same session queue in the
 * process first (they would otherwise share one etcd key), then in etcd.
 *
 * Not reentrant: a second `lock()` on the same session and name while the first handle is held waits
 * for that handle's release, so a holder that calls `lock()` again deadlocks itself (until a timeout
 * or signal ends the wait).
 *
 * Names: the lock owns every key under `<name>/`, so a name that is a `/`-prefix of another lock's
 * name (`a` and `a/b`) makes the two interfere.
 */
export class Mutex {
  /** The session whose lease holds this mutex's keys. */
  readonly session: Session;
  /** The lock name: the key prefix `<name>/`. */
  readonly name: string;
  /** The key this session queues and holds under: `<name>/<lease id in hex>`. */
  readonly key: string;
  readonly #what: string;

  constructor(session: Session, name: string) {
    assertArgument(typeof session?.leaseIdHex === 'string', 'session', 'a Session from @coordkit/core');
    this.session = session;
    this.name = validateName(name, 'mutex');
    this.key = `${name}/${session.leaseIdHex}`;
    this.#what = `mutex "${name}"`;
  }

  /**
   * Waits for the lock and resolves with its handle. A free lock costs one transaction.
   *
   * Cancellation: when `signal` aborts, `timeout` (ms, default none) passes, or the session is lost
   * while waiting, the waiter's key is deleted at once and the promise rejects with `signal.reason`,
   * a `TIMEOUT` CoordError, or the session's `SESSION_EXPIRED`/`SESSION_CLOSED`; it never resolves
   * with a lock whose lease is not provably alive.
   */
  async lock(options?: WaitOptions): Promise<LockHandle> {
    using scope = waitScope(options, `${this.#what}: lock`, this.session.signal);
    scope.signal.throwIfAborted();
    // Free in this process (the usual case): taken synchronously, no promise race to set up.
    const giveUpLocalTurn =
      tryLocalTurn(this.session, this.name) ?? (await waitLocalTurn(this.session, this.name, scope.signal));
    try {
      return await acquireTurn(this.#request(giveUpLocalTurn), scope.signal);
    } catch (err) {
      giveUpLocalTurn();
      throw err;
    }
  }

  /**
   * Takes the lock if it is free right now, else resolves `undefined` (after deleting the key it
   * queued). Never waits for another holder; rejects with the session's reason if it is lost.
   */
  async tryLock(): Promise<LockHandle | undefined> {
    this.session.signal.throwIfAborted();
    const giveUpLocalTurn = tryLocalTurn(this.session, this.name);
    if (!giveUpLocalTurn) return undefined;
    try {
      const handle = await tryTurn(this.#request(giveUpLocalTurn));
      if (!handle) giveUpLocalTurn();
      return handle;
    } catch (err) {
      giveUpLocalTurn();
      throw err;
    }
  }

  /**
   * Runs `fn` holding the lock and always releases it, whether `fn` resolves or throws. `fn` should
   * stop its work when `handle.signal` aborts (the lock was lost) and write through `handle.txn()`.
   * `options` apply to the wait, as in {@link Mutex.lock}.
   */
  async withLock<T>(fn: (handle: LockHandle) => T | Promise<T>, options?: WaitOptions): Promise<T> {
    const handle = await this.lock(options);
    try {
      return await fn(handle);
    } finally {
      await handle.release();
    }
  }

  #request(onReleased: () => void) {
    return {
      session: this.session,
      key: this.key,
      rule: { kind: 'no-older-key', prefix: `${this.name}/` },
      what: this.#what,
      onReleased,
    } as const;
  }
}
