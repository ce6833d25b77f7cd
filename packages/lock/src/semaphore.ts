import { assertArgument, type Session, validateName, type WaitOptions, waitScope } from '@coordkit/core';
import { uniqueWaiterKey } from './internal/keys.js';
import { acquireTurn, type TurnRequest, tryTurn } from './internal/turn.js';
import type { LockHandle } from './lock-handle.js';

/** Options of {@link Semaphore}. */
export interface SemaphoreOptions {
  /** How many holders may hold a permit at once: an integer >= 1. Required; every user of one name must agree. */
  readonly permits: number;
}

/**
 * A fenced, fair distributed counting semaphore: at most `permits` holders at once, granted in FIFO
 * order by create revision. Each acquisition queues its own key `<name>/<lease id in hex>-<random>`
 * under the session lease, so one session may hold several permits; a waiter holds one prefix watch
 * and counts releases locally, so a release costs waiters no request.
 *
 * Loss and release behave as for {@link Mutex}: each permit is a {@link LockHandle}.
 */
export class Semaphore {
  /** The session whose lease holds this semaphore's keys. */
  readonly session: Session;
  /** The semaphore name: the key prefix `<name>/`. */
  readonly name: string;
  /** How many permits exist. */
  readonly permits: number;
  readonly #what: string;

  constructor(session: Session, name: string, options: SemaphoreOptions) {
    assertArgument(typeof session?.leaseIdHex === 'string', 'session', 'a Session from @coordkit/core');
    this.session = session;
    this.name = validateName(name, 'semaphore');
    const permits = options?.permits;
    assertArgument(Number.isSafeInteger(permits) && permits >= 1, 'permits', 'an integer >= 1');
    this.permits = permits;
    this.#what = `semaphore "${name}"`;
  }

  /**
   * Waits for a permit and resolves with its handle. A free permit costs one transaction.
   *
   * Cancellation: when `signal` aborts, `timeout` (ms, default none) passes, or the session is lost,
   * the waiter's key is deleted at once and the promise rejects with `signal.reason`, a `TIMEOUT`
   * CoordError, or the session's reason.
   */
  async acquire(options?: WaitOptions): Promise<LockHandle> {
    using scope = waitScope(options, `${this.#what}: acquire`, this.session.signal);
    // `return await`: the scope (timeout timer, signal listeners) must outlive the wait.
    return await acquireTurn(this.#request(), scope.signal);
  }

  /** Takes a permit if one is free right now, else resolves `undefined` (its key deleted again). Never waits. */
  tryAcquire(): Promise<LockHandle | undefined> {
    return tryTurn(this.#request());
  }

  #request(): TurnRequest {
    const prefix = `${this.name}/`;
    return {
      session: this.session,
      key: uniqueWaiterKey(prefix, this.session),
      rule: { kind: 'fewer-older-keys', prefix, limit: this.permits },
      what: this.#what,
    };
  }
}
