import { assertArgument, type Session, validateName, type WaitOptions, waitScope } from '@coordkit/core';
import { uniqueWaiterKey } from './internal/keys.js';
import { acquireTurn, type TurnRequest, tryTurn } from './internal/turn.js';
import type { LockHandle } from './lock-handle.js';

/**
 * A fenced, fair distributed readers-writer lock. Readers queue under `<name>/read/`, writers under
 * `<name>/write/`, each acquisition with its own key `<lease id in hex>-<random>` under the session lease.
 *
 * Ordering: one FIFO line by create revision. A reader waits only for writers queued before it (so
 * readers share, and a queued writer is not starved by later readers); a writer waits for every key
 * queued before it, readers and writers, so two writers never hold at once.
 *
 * Loss and release behave as for {@link Mutex}: each grant is a {@link LockHandle}.
 */
export class RWLock {
  /** The session whose lease holds this lock's keys. */
  readonly session: Session;
  /** The lock name: the key prefix `<name>/`. */
  readonly name: string;
  readonly #what: string;

  constructor(session: Session, name: string) {
    assertArgument(typeof session?.leaseIdHex === 'string', 'session', 'a Session from @coordkit/core');
    this.session = session;
    this.name = validateName(name, 'rwlock');
    this.#what = `rwlock "${name}"`;
  }

  /**
   * Waits for shared (read) access. Cancellation: on `signal`, `timeout` (ms, default none) or
   * session loss, the waiter's key is deleted at once and the promise rejects with `signal.reason`,
   * a `TIMEOUT` CoordError, or the session's reason.
   */
  async readLock(options?: WaitOptions): Promise<LockHandle> {
    using scope = waitScope(options, `${this.#what}: read lock`, this.session.signal);
    // `return await`: the scope (timeout timer, signal listeners) must outlive the wait.
    return await acquireTurn(this.#readRequest(), scope.signal);
  }

  /** Waits for exclusive (write) access; cancellation as for {@link RWLock.readLock}. */
  async writeLock(options?: WaitOptions): Promise<LockHandle> {
    using scope = waitScope(options, `${this.#what}: write lock`, this.session.signal);
    // `return await`: the scope (timeout timer, signal listeners) must outlive the wait.
    return await acquireTurn(this.#writeRequest(), scope.signal);
  }

  /** Takes shared access if no writer holds or waits ahead right now, else resolves `undefined`. Never waits. */
  tryReadLock(): Promise<LockHandle | undefined> {
    return tryTurn(this.#readRequest());
  }

  /** Takes exclusive access if nobody holds or waits right now, else resolves `undefined`. Never waits. */
  tryWriteLock(): Promise<LockHandle | undefined> {
    return tryTurn(this.#writeRequest());
  }

  #readRequest(): TurnRequest {
    return {
      session: this.session,
      key: uniqueWaiterKey(`${this.name}/read/`, this.session),
      rule: { kind: 'no-older-key', prefix: `${this.name}/write/` },
      what: `${this.#what} (read)`,
    };
  }

  #writeRequest(): TurnRequest {
    return {
      session: this.session,
      key: uniqueWaiterKey(`${this.name}/write/`, this.session),
      // A writer queues behind every reader and writer: keys one level down, under read/ and write/.
      rule: { kind: 'no-older-key', prefix: `${this.name}/`, isQueued: isReaderOrWriterKey },
      what: `${this.#what} (write)`,
    };
  }
}

/** The writer's membership rule: `read/<key>` and `write/<key>` under the lock's prefix, nothing deeper. */
const isReaderOrWriterKey = (relativeKey: string): boolean => /^(read|write)\/[^/]+$/.test(relativeKey);
