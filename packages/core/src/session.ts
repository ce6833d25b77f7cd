import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import { assertArgument, CoordError, ErrorCodes } from './errors.js';
import { backoffDelay, monotonicNow, sleep } from './internal/clock.js';
import { toCoordError } from './internal/etcd-errors.js';
import { noteRevision, onRollback } from './internal/regression.js';
import { idempotent } from './internal/rpc.js';
import { endStream } from './internal/streams.js';
import { leaseIdToHex, toBigInt } from './revision.js';
import { raceSignal } from './wait-options.js';

/** Options of {@link Session.create}. */
export interface SessionOptions {
  /** Lease time to live in seconds (etcd's unit). Default 10. */
  readonly ttl?: number;
  /** Aborting it cancels creation, or closes the session once created (the lease is revoked). */
  readonly signal?: AbortSignal;
  /** Resume this existing lease (decimal id) instead of granting a new one, e.g. after a restart. */
  readonly leaseId?: string;
  /** Milliseconds between keepalives. Default: a third of the TTL, as etcd's Go client does. */
  readonly keepAliveInterval?: number;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

/**
 * One etcd lease, kept alive in the background on one stream, shared by every lock, election,
 * claim and registration a process makes.
 *
 * Loss: `signal` aborts (reason: `CoordError` `SESSION_EXPIRED`) as soon as the lease cannot be
 * proven alive: when etcd answers a keepalive with TTL 0 (expired or revoked), or when the
 * monotonic deadline {@link Session.safeUntil} passes without a newer acknowledgement. That
 * deadline is the send time of the last acknowledged keepalive plus the TTL etcd granted, the
 * earliest instant the server could have let the lease expire (etcd3 reports loss after 2 x TTL).
 * Loss is final and emitted once; on loss the lease is revoked best-effort so that waiters elsewhere
 * do not wait out the TTL. `close()` revokes the lease and aborts with `SESSION_CLOSED`.
 */
export class Session implements AsyncDisposable {
  /** The client every primitive built on this session uses. */
  readonly client: Etcd3;
  /** The lease id, decimal (as etcd3 gives it). */
  readonly leaseId: string;
  /** The lease id in lowercase hex, as etcd's Go concurrency package puts it in keys. */
  readonly leaseIdHex: string;
  /** Lease TTL in seconds, as granted by etcd. */
  readonly ttl: number;
  readonly #controller = new AbortController();
  readonly #interval: number;
  #safeUntil: number;
  #stream: KeepAliveStream | undefined;
  #sentAt: number[] = [];
  #sendTimer: NodeJS.Timeout | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;
  #reconnectAttempt = 0;
  #closing: Promise<void> | undefined;
  #stopRollbackWatch: (() => void) | undefined;

  private constructor(client: Etcd3, leaseId: string, ttl: number, safeUntil: number, interval: number) {
    this.client = client;
    this.leaseId = leaseId;
    this.leaseIdHex = leaseIdToHex(leaseId);
    this.ttl = ttl;
    this.#safeUntil = safeUntil;
    this.#interval = interval;
  }

  /** Grants (or resumes) a lease and starts keeping it alive. Rejects `SESSION_EXPIRED` if a resumed lease is gone. */
  static async create(client: Etcd3, options: SessionOptions = {}): Promise<Session> {
    const ttl = options.ttl ?? 10;
    assertArgument(Number.isInteger(ttl) && ttl >= 1, 'ttl', 'a whole number of seconds >= 1');
    assertArgument(
      options.leaseId === undefined || /^[1-9][0-9]*$/.test(options.leaseId),
      'leaseId',
      'a positive decimal lease id',
    );
    const signal = options.signal ?? new AbortController().signal;
    const sentAt = monotonicNow();
    let leaseId: string;
    let grantedTtl: number;
    if (options.leaseId === undefined) {
      const granted = await raceSignal(
        idempotent('session: grant lease', () => client.leaseClient.leaseGrant({ TTL: ttl, ID: 0 }), signal),
        signal,
      );
      leaseId = String(granted.ID);
      grantedTtl = Number(granted.TTL);
    } else {
      leaseId = options.leaseId;
      const lived = await raceSignal(
        idempotent('session: resume lease', () => client.leaseClient.leaseTimeToLive({ ID: leaseId })),
        signal,
      );
      grantedTtl = Number(lived.grantedTTL);
      if (Number(lived.TTL) <= 0) {
        throw new CoordError(ErrorCodes.SESSION_EXPIRED, `session: lease ${leaseId} no longer exists`);
      }
    }
    // Until the first keepalive is acknowledged, only the remaining TTL reported is safe to count on.
    const interval = options.keepAliveInterval ?? Math.max(100, Math.floor((grantedTtl * 1000) / 3));
    const session = new Session(client, leaseId, grantedTtl, sentAt + grantedTtl * 1000, interval);
    session.#start();
    if (options.signal) {
      options.signal.addEventListener('abort', () => void session.close(), { once: true });
    }
    return session;
  }

  /**
   * Aborted once the lease is lost or closed, with a `CoordError` reason: `SESSION_EXPIRED`,
   * `SESSION_CLOSED`, or `REVISION_REGRESSED` when etcd was restored from older data (F21).
   */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Monotonic time (`performance.now()` ms) until which the lease is certainly alive on the server. */
  get safeUntil(): number {
    return this.#safeUntil;
  }

  /** Whether the lease is provably alive now. Once false, it stays false. */
  isAlive(): boolean {
    this.#checkDeadline();
    return !this.#controller.signal.aborted;
  }

  /** Revokes the lease (deleting every key held under it) and stops keepalive. Idempotent; never throws. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown(
      new CoordError(ErrorCodes.SESSION_CLOSED, `session ${this.leaseId}: closed`),
      true,
    );
    return this.#closing;
  }

  /** Stops keepalive without revoking: the lease lives out its TTL (e.g. to hand it to a new process). */
  orphan(): void {
    this.#closing ??= this.#shutdown(
      new CoordError(ErrorCodes.SESSION_CLOSED, `session ${this.leaseId}: orphaned`),
      false,
    );
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #start(): void {
    this.#armExpiry();
    // Everything held under this lease was granted in a history that a rollback erased (F21).
    this.#stopRollbackWatch = onRollback(this.client, (seen) => {
      void this.#shutdown(
        new CoordError(
          ErrorCodes.REVISION_REGRESSED,
          `session ${this.leaseId}: etcd's revision went back below ${seen} (restored from older data); every lock and leadership of this session is void`,
        ),
        true,
      );
    });
    this.#sendTimer = setInterval(() => this.#sendKeepAlive(), this.#interval);
    this.#sendTimer.unref();
    void this.#connect();
  }

  async #connect(): Promise<void> {
    if (this.#controller.signal.aborted) return;
    let stream: KeepAliveStream;
    try {
      stream = await this.client.leaseClient.leaseKeepAlive();
    } catch {
      this.#scheduleReconnect();
      return;
    }
    if (this.#controller.signal.aborted) {
      endStream(stream);
      return;
    }
    this.#stream = stream;
    this.#sentAt = [];
    stream.on('data', (response) => this.#onResponse(stream, response));
    stream.on('error', () => this.#onBroken(stream));
    stream.on('end', () => this.#onBroken(stream));
    this.#sendKeepAlive();
  }

  #onBroken(stream: KeepAliveStream): void {
    if (stream !== this.#stream) return;
    this.#stream = undefined;
    this.#sentAt = [];
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#controller.signal.aborted) return;
    const delay = backoffDelay(this.#reconnectAttempt++, 25, Math.max(100, this.#interval / 2));
    // Ref'd like the keepalive stream it replaces: a live session keeps the process alive.
    setTimeout(() => void this.#connect(), delay);
  }

  #sendKeepAlive(): void {
    const stream = this.#stream;
    if (!stream || this.#controller.signal.aborted) return;
    this.#checkDeadline();
    // A member that is paused (not dead) keeps the connection open and answers nothing; gRPC keepalive
    // would notice only after 15 s, longer than most TTLs. An answer overdue by a whole interval means
    // the stream is stuck: start a new one, which may land on another member (F7).
    const oldest = this.#sentAt[0];
    if (oldest !== undefined && monotonicNow() - oldest > Math.max(this.#interval, 1000)) {
      endStream(stream);
      this.#onBroken(stream);
      return;
    }
    try {
      this.#sentAt.push(monotonicNow());
      stream.write({ ID: this.leaseId });
    } catch {
      this.#onBroken(stream);
    }
  }

  #onResponse(stream: KeepAliveStream, response: ILeaseKeepAliveResponse): void {
    if (stream !== this.#stream) return;
    const sentAt = this.#sentAt.shift();
    // A reply that comes after the deadline cannot undo a loss the timer would already have declared
    // had the event loop not been starved (F20).
    this.#checkDeadline();
    if (this.#controller.signal.aborted) return;
    this.#reconnectAttempt = 0;
    const ttl = Number(response.TTL);
    if (ttl <= 0) {
      this.#expire(`lease ${this.leaseId} expired or was revoked`);
      return;
    }
    if (sentAt !== undefined) {
      this.#safeUntil = Math.max(this.#safeUntil, sentAt + ttl * 1000);
      this.#armExpiry();
    }
    noteRevision(this.client, toBigInt(response.header?.revision));
  }

  #armExpiry(): void {
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    // Node rounds timer delays to whole milliseconds on a cached loop clock, so a timer can fire a
    // fraction of a millisecond early: re-arm until the deadline has truly passed.
    this.#expiryTimer = setTimeout(
      () => {
        this.#checkDeadline();
        if (!this.#controller.signal.aborted) this.#armExpiry();
      },
      Math.max(0, Math.ceil(this.#safeUntil - monotonicNow())),
    );
    this.#expiryTimer.unref();
  }

  #checkDeadline(): void {
    if (this.#controller.signal.aborted) return;
    if (monotonicNow() >= this.#safeUntil) {
      this.#expire(`lease ${this.leaseId} could not be kept alive within its ${this.ttl} s TTL`);
    }
  }

  #expire(why: string): void {
    // Revoke anyway: if the lease is in fact still alive, its keys would block others for a full TTL.
    void this.#shutdown(new CoordError(ErrorCodes.SESSION_EXPIRED, `session: ${why}`), true);
  }

  async #shutdown(reason: CoordError, revoke: boolean): Promise<void> {
    this.#stopRollbackWatch?.();
    if (this.#sendTimer !== undefined) clearInterval(this.#sendTimer);
    if (this.#expiryTimer !== undefined) clearTimeout(this.#expiryTimer);
    const stream = this.#stream;
    this.#stream = undefined;
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
    if (stream) endStream(stream);
    if (!revoke) return;
    // Keep trying for a while: after a loss without quorum the first revoke fails, and etcd then gives
    // the lease a full TTL again on the next leader change, so the keys would block others that long.
    const giveUpAt = monotonicNow() + this.ttl * 2000;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.leaseClient.leaseRevoke({ ID: this.leaseId });
        return;
      } catch (err) {
        // A lease already gone is revoked enough; anything else is retried until the deadline.
        const code = toCoordError(err, 'revoke', true).code;
        if (code === ErrorCodes.SESSION_EXPIRED || code === ErrorCodes.CLOSED) return;
        if (monotonicNow() > giveUpAt || reason.code === ErrorCodes.SESSION_CLOSED) return;
      }
      await sleep(backoffDelay(attempt, 50, 1000));
    }
  }
}
