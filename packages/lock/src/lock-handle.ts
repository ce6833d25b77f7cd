import { CoordError, ErrorCodes, leaveQueue, type Session, watchOwnKey } from '@coordkit/core';
import type { ComparatorBuilder } from 'etcd3';

/** What a {@link LockHandle} is built from; produced by the lock engine, not by users. */
export interface LockGrant {
  readonly session: Session;
  /** The owner key in etcd. */
  readonly key: string;
  /** The owner key's create revision. */
  readonly fencingToken: bigint;
  /** A revision at which the key was read back as still standing: the own-key watch starts after it. */
  readonly confirmedAt: bigint;
  /** Names the primitive in messages, e.g. `mutex "jobs"`. */
  readonly what: string;
  /** Runs once, after the key is released (frees the in-process queue of a Mutex). */
  readonly onReleased?: () => void;
}

/**
 * Proof of holding a Mutex, a Semaphore permit or an RWLock side: the owner key, its fencing token,
 * and a signal that aborts as soon as ownership is lost.
 *
 * Loss: `signal` aborts with the session's reason (`SESSION_EXPIRED` / `SESSION_CLOSED`) when the
 * session's lease is lost, or with `LOCK_LOST` when the owner key is deleted (an operator, a
 * `etcdctl del`); a deadline-based session loss is declared no later than the lease could have
 * expired on the server. Because a holder can always be paused past that point, protect the
 * resource itself: commit writes through {@link LockHandle.txn}, or hand {@link LockHandle.fencingToken}
 * to the resource.
 *
 * Release: {@link LockHandle.release} is idempotent and never throws; it also aborts `signal` (reason
 * `CLOSED`), so work tied to the handle stops.
 */
export class LockHandle implements AsyncDisposable {
  /** The owner key in etcd (the Go concurrency layout for a Mutex: `<name>/<lease id in hex>`). */
  readonly key: string;
  /**
   * The owner key's create revision: strictly increasing across grants of one lock name, so a
   * resource that remembers the highest token seen can refuse a stale holder.
   */
  readonly fencingToken: bigint;
  readonly #session: Session;
  readonly #what: string;
  /**
   * Created the first time anyone looks at {@link LockHandle.signal} (or `isHeld`/`txn`): until then
   * nobody can observe an abort, so a lock taken and released without looking costs its two
   * transactions and no controller, listener, watch or error object.
   */
  #controller: AbortController | undefined;
  /** Why the handle ended (released, or its session lost at release), if it ended before anyone looked. */
  #endedBecause: (() => unknown) | undefined;
  #stopOwnKeyWatch: (() => void) | undefined;
  readonly #confirmedAt: bigint;
  readonly #onSessionLost: () => void;
  readonly #onReleased: (() => void) | undefined;
  #releasing: Promise<void> | undefined;

  /** @internal Built by `Mutex`, `Semaphore` and `RWLock` once the grant is confirmed. */
  constructor(grant: LockGrant) {
    this.key = grant.key;
    this.fencingToken = grant.fencingToken;
    this.#session = grant.session;
    this.#what = grant.what;
    this.#onReleased = grant.onReleased;
    this.#confirmedAt = grant.confirmedAt;
    this.#onSessionLost = () => this.#end(() => this.#session.signal.reason);
  }

  /**
   * Aborted as soon as ownership is lost (reason: the session's `SESSION_EXPIRED`/`SESSION_CLOSED`,
   * or `LOCK_LOST` when the key was deleted), or once released (reason: `CLOSED`). Never un-aborts.
   */
  get signal(): AbortSignal {
    return this.#observed().signal;
  }

  /**
   * The controller behind `signal`, set up at the first look: it follows the session from now on, and
   * the owner key from just after the confirming read, so no delete of the key can be missed however
   * late the watch starts.
   */
  #observed(): AbortController {
    if (this.#controller) return this.#controller;
    const controller = new AbortController();
    this.#controller = controller;
    if (this.#endedBecause) {
      controller.abort(this.#endedBecause());
    } else if (this.#session.signal.aborted) {
      this.#end(() => this.#session.signal.reason);
    } else {
      this.#session.signal.addEventListener('abort', this.#onSessionLost, { once: true });
      this.#stopOwnKeyWatch = watchOwnKey(
        this.#session,
        this.key,
        this.#confirmedAt + 1n,
        (why) =>
          this.#end(
            () =>
              new CoordError(ErrorCodes.LOCK_LOST, `${this.#what}: lock lost (${why})`, { key: this.key }),
          ),
        this.fencingToken,
      );
    }
    return controller;
  }

  /**
   * Whether the lock is provably still held right now: not released, not lost, and the session's
   * lease certainly alive on the server (checked against its monotonic deadline, not only on timers).
   */
  isHeld(): boolean {
    // isAlive() first: a passed deadline aborts the session, and through it this handle, synchronously.
    const controller = this.#observed();
    return this.#session.isAlive() && !controller.signal.aborted;
  }

  /**
   * Starts an etcd3 transaction that already carries the ownership compare (the owner key still has
   * this create revision): a write committed through it cannot land once the lock is lost, even by a
   * holder that was paused and has not yet noticed. Add compares with `.and(...)`, then
   * `.then(...).else(...).commit()`; `succeeded: false` means the lock (or one of your compares) failed.
   * Once the handle is lost or released, `commit()` fails the compare even if the key still stands.
   */
  txn(): ComparatorBuilder {
    const builder = this.#session.client.if(this.key, 'Create', '==', this.fencingToken.toString());
    const commit = builder.commit.bind(builder);
    // The owner key can outlive the loss: a revoke sent while etcd had no quorum fails, and a leader
    // change gives every lease a full TTL again (F8). Checked at commit time, so a handle declared lost
    // by its local deadline never writes again: `Create == 0` contradicts the ownership compare.
    builder.commit = () => {
      if (!this.isHeld()) builder.and(this.key, 'Create', '==', '0');
      return commit();
    };
    return builder;
  }

  /**
   * Releases the lock: deletes the owner key only while it still has this handle's create revision,
   * so a late or repeated release can never delete a newer holder's key. Idempotent; never throws.
   * When the session is already lost, the delete is sent in the background (the lease takes the key
   * with it anyway) so that release does not wait on an unreachable etcd.
   */
  release(): Promise<void> {
    this.#releasing ??= this.#release();
    return this.#releasing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.release();
  }

  async #release(): Promise<void> {
    const sessionLost = this.#session.signal.aborted;
    this.#end(
      sessionLost
        ? () => this.#session.signal.reason
        : () => new CoordError(ErrorCodes.CLOSED, `${this.#what}: released`, { key: this.key }),
    );
    const deleting = leaveQueue(this.#session, this.key, this.fencingToken, this.#what).then(
      () => undefined,
      () => undefined, // Best effort by contract: the lease bounds how long a stranded key can block others.
    );
    if (sessionLost) {
      this.#onReleased?.();
      return;
    }
    await deleting;
    this.#onReleased?.();
  }

  /** Ends the handle once; the reason is only built if someone looks at `signal`. */
  #end(reason: () => unknown): void {
    if (this.#endedBecause) return;
    this.#endedBecause = reason;
    this.#stopOwnKeyWatch?.();
    this.#session.signal.removeEventListener('abort', this.#onSessionLost);
    if (this.#controller && !this.#controller.signal.aborted) this.#controller.abort(reason());
  }
}
