import { CoordError, ErrorCodes, idempotent, ops, type Session, toBigInt, watchOwnKey } from '@coordkit/core';
import type { ComparatorBuilder } from 'etcd3';

/** What a {@link Leadership} is built from; produced by `Election.campaign`, not by users. */
export interface LeadershipGrant {
  readonly session: Session;
  /** The candidate key, `<name>/<lease id in hex>`. */
  readonly key: string;
  /** The value the key holds. */
  readonly value: string;
  /** The key's create revision. */
  readonly fencingToken: bigint;
  /** A revision at which the key was read back as leader: the own-key watch starts after it. */
  readonly confirmedAt: bigint;
  /** Names the election in messages, e.g. `election "scheduler"`. */
  readonly what: string;
  /** Called once when the leadership ends for good (lost, or resigned with its key deleted). */
  readonly onFinished: () => void;
  /** Called once when `signal` aborts, with the reason (diagnostics). */
  readonly onDeposed: (reason: unknown) => void;
}

/** Options of {@link Leadership.resign}. */
export interface ResignOptions {
  /**
   * How long to keep retrying the delete through transient failures (member down, no leader), in ms,
   * before rejecting with `UNAVAILABLE` (the key is then kept, and `resign()` may be called again).
   * A request already sent still runs to the client's request timeout. Default: core's retry budget
   * for idempotent requests (10 s).
   */
  readonly timeout?: number;
}

/**
 * Proof of leading an election: the candidate key, its fencing token, and a signal that aborts as
 * soon as leadership is lost.
 *
 * Loss: `signal` aborts with the session's reason (`SESSION_EXPIRED` / `SESSION_CLOSED`) when the
 * lease is lost (declared no later than it could have expired on the server), or with `NOT_LEADER`
 * when the key is deleted (resign, operator). A leader can always be paused past that point (F1,
 * F16), so fence the work itself: commit writes through {@link Leadership.txn}, or hand
 * {@link Leadership.fencingToken} to the resource. `proclaim` is fenced the same way.
 *
 * Resign: {@link Leadership.resign} deletes the key guarded by its create revision, so it can never
 * depose a newer leader; it is idempotent, and when etcd cannot be reached it rejects with
 * `UNAVAILABLE` and keeps its state, so calling it again works (etcd's Go client forgot it).
 */
export class Leadership implements AsyncDisposable {
  /** The candidate key in etcd, `<name>/<lease id in hex>` (what `etcdctl elect` uses). */
  readonly key: string;
  /** The key's create revision: strictly increasing from one leader to the next of this election. */
  readonly fencingToken: bigint;
  readonly #session: Session;
  readonly #what: string;
  readonly #controller = new AbortController();
  readonly #stopOwnKeyWatch: () => void;
  readonly #onSessionLost: () => void;
  readonly #grant: LeadershipGrant;
  #value: string;
  #resigned = false;
  #resigning: Promise<void> | undefined;
  #proclaiming: Promise<unknown> = Promise.resolve();

  /** @internal Built by `Election.campaign` once elected. */
  constructor(grant: LeadershipGrant) {
    this.key = grant.key;
    this.fencingToken = grant.fencingToken;
    this.#value = grant.value;
    this.#session = grant.session;
    this.#what = grant.what;
    this.#grant = grant;
    this.#onSessionLost = () => this.#lose(this.#session.signal.reason, true);
    this.#session.signal.addEventListener('abort', this.#onSessionLost, { once: true });
    // Watching from just after the confirming read: no delete of the key can fall in between.
    this.#stopOwnKeyWatch = watchOwnKey(grant.session, grant.key, grant.confirmedAt + 1n, (why) =>
      this.#lose(this.#notLeader(why), true),
    );
    if (this.#session.signal.aborted) this.#onSessionLost();
  }

  /** The value last proclaimed (initially the campaign's value). */
  get value(): string {
    return this.#value;
  }

  /**
   * Aborted as soon as leadership is lost or given up (reason: the session's `SESSION_EXPIRED` /
   * `SESSION_CLOSED`, or `NOT_LEADER` when the key was deleted or `resign()` was called). Never un-aborts.
   */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Whether this is provably still the leader right now: not resigned, key not seen deleted, and the
   * session's lease certainly alive on the server (checked against its monotonic deadline).
   */
  isLeader(): boolean {
    // isAlive() first: a passed deadline aborts the session, and through it this handle, synchronously.
    return this.#session.isAlive() && !this.#controller.signal.aborted;
  }

  /**
   * Replaces the leader's value, in a transaction guarded by the key's create revision, so it cannot
   * land once this candidate is deposed (F16). Rejects with `NOT_LEADER` when leadership is lost (then
   * `signal` is aborted too). Calls are applied in call order.
   */
  proclaim(value: string): Promise<void> {
    if (typeof value !== 'string') {
      return Promise.reject(new CoordError(ErrorCodes.INVALID_ARGUMENT, 'invalid value: a string'));
    }
    const run = this.#proclaiming.then(() => this.#proclaim(value));
    this.#proclaiming = run.catch(() => undefined);
    return run;
  }

  /**
   * Starts an etcd3 transaction that already carries the leadership compare (the key still has this
   * create revision): a write committed through it cannot land once this candidate is deposed, even
   * by a leader that was paused and has not yet noticed. Add compares with `.and(...)`, then
   * `.then(...).else(...).commit()`; `succeeded: false` means leadership (or one of your compares) failed.
   */
  txn(): ComparatorBuilder {
    const builder = this.#session.client.if(this.key, 'Create', '==', this.fencingToken.toString());
    const commit = builder.commit.bind(builder);
    // The candidate key can outlive the loss: a revoke sent while etcd had no quorum fails, and a leader
    // change gives every lease a full TTL again (F8). Checked at commit time, so a leadership declared
    // lost by its local deadline never writes again: `Create == 0` contradicts the ownership compare.
    builder.commit = () => {
      if (!this.isLeader()) builder.and(this.key, 'Create', '==', '0');
      return commit();
    };
    return builder;
  }

  /**
   * Gives up leadership: aborts `signal` (reason `NOT_LEADER`), then deletes the key only while it
   * still has this create revision, so the next candidate takes over at once and a late or repeated
   * resign never deposes a newer leader. Idempotent. When etcd cannot be reached within `timeout`, it
   * rejects with `UNAVAILABLE` and keeps the key's identity, so a later call retries the delete.
   * When the session is already lost, it resolves without waiting (the lease takes the key with it).
   */
  resign(options: ResignOptions = {}): Promise<void> {
    if (this.#resigned) return Promise.resolve();
    this.#resigning ??= this.#resign(options).finally(() => {
      this.#resigning = undefined;
    });
    return this.#resigning;
  }

  /** Resigns; never throws (a failed delete leaves the key to the lease, or to a later `resign()`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.resign().catch(() => undefined);
  }

  async #proclaim(value: string): Promise<void> {
    if (!this.isLeader())
      throw this.#notLeader('leadership was already lost', this.#controller.signal.reason);
    const response = await idempotent(
      `${this.#what}: proclaim`,
      () =>
        this.#session.client.kv.txn({
          compare: [ops.createRevisionIs(this.key, this.fencingToken)],
          success: [ops.put(this.key, value, this.#session.leaseId)],
          failure: [],
        }),
      undefined,
      this.key,
    );
    if (!response.succeeded) {
      const error = this.#notLeader(
        `key ${this.key} is gone at revision ${toBigInt(response.header.revision)}`,
      );
      this.#lose(error, true);
      throw error;
    }
    this.#value = value;
  }

  async #resign(options: ResignOptions): Promise<void> {
    const timeout = options.timeout;
    if (timeout !== undefined && !(Number.isFinite(timeout) && timeout > 0)) {
      throw new CoordError(
        ErrorCodes.INVALID_ARGUMENT,
        'invalid timeout for resign: a positive number of ms',
      );
    }
    // Stop the leader's work before the next candidate can start: abort first, delete second. The
    // own-key watch is stopped only once the delete is on its way (its cancel would delay the send);
    // seeing our own delete meanwhile is harmless.
    const reason = this.#notLeader('resigned');
    this.#abort(reason);
    const deleting = idempotent(
      `${this.#what}: resign`,
      () =>
        this.#session.client.kv.txn({
          compare: [ops.createRevisionIs(this.key, this.fencingToken)],
          success: [ops.delete(this.key)],
          failure: [],
        }),
      timeout === undefined ? undefined : AbortSignal.timeout(timeout),
      this.key,
    );
    if (this.#session.signal.aborted) {
      // The lease is revoked or expiring and takes the key with it: do not wait on an unreachable etcd.
      deleting.catch(() => undefined);
      this.#lose(reason, false);
      this.#finish();
      return;
    }
    try {
      await deleting;
    } catch (err) {
      this.#lose(reason, false);
      throw new CoordError(
        ErrorCodes.UNAVAILABLE,
        `${this.#what}: could not delete ${this.key} to resign; call resign() again`,
        { cause: err, key: this.key },
      );
    }
    this.#lose(reason, false);
    this.#finish();
  }

  #finish(): void {
    this.#resigned = true;
    this.#grant.onFinished();
  }

  #notLeader(why: string, cause?: unknown): CoordError {
    return new CoordError(ErrorCodes.NOT_LEADER, `${this.#what}: not leader (${why})`, {
      key: this.key,
      ...(cause === undefined ? {} : { cause }),
    });
  }

  /** Aborts the signal once; `finished` when the key is gone for good (nothing left to resign). */
  #lose(reason: unknown, finished: boolean): void {
    this.#stopOwnKeyWatch?.();
    this.#session.signal.removeEventListener('abort', this.#onSessionLost);
    this.#abort(reason);
    if (finished && !this.#resigning) this.#grant.onFinished();
  }

  /** Aborts the signal and reports the deposition, once. */
  #abort(reason: unknown): void {
    if (!this.#controller.signal.aborted) {
      this.#controller.abort(reason);
      this.#grant.onDeposed(reason);
    }
  }
}
