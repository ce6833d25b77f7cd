import {
  backoffDelay,
  CoordError,
  ErrorCodes,
  type EtcdClient,
  idempotent,
  idempotentWrite,
  ops,
  Session,
  sleep,
  toBigInt,
} from '@coordkit/core';
import { ownKeyLost } from './internal/own-key.js';
import { encodeRegistration, type RegistrationValue, validMetadata } from './service-instance.js';

/** What a {@link Registration} needs to (re-)write its key. */
export interface RegistrationSpec {
  readonly service: string;
  readonly key: string;
  readonly value: RegistrationValue;
  readonly keepRegistered: boolean;
}

/**
 * One registered instance: the key `<prefix>/<service>/<id>` attached to a session lease, so it
 * disappears when the owner dies (after the TTL) or deregisters (at once).
 *
 * Loss: without `keepRegistered`, `signal` aborts when the lease is lost or the key is deleted by
 * someone else; with it, the key is written again through a fresh session (same client and TTL),
 * with backoff, until {@link Registration.deregister}. A registration of the same id by someone else
 * (last writer wins) ends this one for good, with a `CONFLICT` reason, even with `keepRegistered`.
 * Writes are serialized and guarded by the key's mod revision, so a stale handle never overwrites
 * or deletes a newer registration.
 */
export class Registration implements AsyncDisposable {
  readonly service: string;
  readonly id: string;
  readonly key: string;
  readonly #what: string;
  readonly #client: EtcdClient;
  readonly #keepRegistered: boolean;
  readonly #ttl: number;
  readonly #controller = new AbortController();
  /** Stops everything the registration runs in the background (its own-key watch, re-registration). */
  readonly #stopped = new AbortController();
  #session: Session;
  /** A session this registration created itself (re-registration), closed with it. */
  #ownSession: Session | undefined;
  #value: RegistrationValue;
  #modRevision = 0n;
  #queue: Promise<unknown> = Promise.resolve();
  #deregistering: Promise<void> | undefined;

  /** @internal Use `ServiceRegistry.register`. */
  constructor(session: Session, spec: RegistrationSpec) {
    this.service = spec.service;
    this.id = spec.value.id;
    this.key = spec.key;
    this.#what = `service "${spec.service}" instance "${spec.value.id}"`;
    this.#client = session.client;
    this.#session = session;
    this.#ttl = session.ttl;
    this.#value = spec.value;
    this.#keepRegistered = spec.keepRegistered;
  }

  /** Aborted (reason: a `CoordError`) when the registration is gone for good: lost without `keepRegistered`, taken over, or deregistered. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The current registration value. */
  get value(): RegistrationValue {
    return this.#value;
  }

  /** The lease the key is attached to now (changes when `keepRegistered` re-registers). */
  get leaseId(): string {
    return this.#session.leaseId;
  }

  /** Whether the key is believed to be in etcd right now under this registration. */
  isRegistered(): boolean {
    return this.#modRevision > 0n && this.#session.isAlive() && !this.#controller.signal.aborted;
  }

  /** @internal Writes the key for the first time and starts watching over it. */
  async start(): Promise<void> {
    await this.#write(this.#value);
    this.#watchOver();
  }

  /**
   * Replaces the metadata (one guarded write). Rejects `SESSION_EXPIRED`/`CONFLICT` if the
   * registration is lost; with `keepRegistered` and a re-registration pending, the new metadata is
   * kept and written by it.
   */
  update(metadata: Readonly<Record<string, unknown>>): Promise<void> {
    const checked = validMetadata(metadata);
    return this.#change({ ...this.#value, metadata: checked });
  }

  /** Marks the instance `draining`: watchers take it out of rotation (a `down` change) before it deregisters. */
  drain(): Promise<void> {
    return this.#change({ ...this.#value, draining: true });
  }

  /** Deletes the key (only if it is still this registration's) and stops re-registering. Idempotent; never throws. */
  deregister(): Promise<void> {
    this.#deregistering ??= this.#shutdown();
    return this.#deregistering;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.deregister();
  }

  #serialized<T>(step: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(step, step);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #change(next: RegistrationValue): Promise<void> {
    return this.#serialized(async () => {
      if (this.#stopped.signal.aborted) {
        throw new CoordError(ErrorCodes.CLOSED, `${this.#what}: deregistered`);
      }
      this.#value = next;
      // A re-registration in progress writes the newest value itself.
      if (this.#keepRegistered && !this.#session.isAlive()) return;
      await this.#write(next);
    });
  }

  /** Puts the key under the current session, guarded by the mod revision this handle last wrote. */
  async #write(value: RegistrationValue): Promise<void> {
    const what = `${this.#what}: register`;
    const session = this.#session;
    const expected = this.#modRevision;
    const encoded = Buffer.from(encodeRegistration(value));
    const response = await idempotentWrite(what, () =>
      this.#client.kv.txn({
        compare: expected === 0n ? [] : [ops.modRevisionIs(this.key, expected)],
        // The put's mod revision is the transaction's revision: nothing to read back on success.
        success: [ops.put(this.key, encoded, session.leaseId)],
        failure: [ops.get(this.key)],
      }),
    );
    if (response.succeeded) {
      this.#modRevision = toBigInt(response.header.revision);
      return;
    }
    const current = response.responses[0]?.response_range?.kvs[0];
    // A retry whose first attempt applied finds its own write: same lease, same bytes. Not a conflict.
    if (current && String(current.lease) === session.leaseId && current.value.equals(encoded)) {
      this.#modRevision = toBigInt(current.mod_revision);
      return;
    }
    throw current === undefined && !session.isAlive()
      ? new CoordError(ErrorCodes.SESSION_EXPIRED, `${what}: the session lease was lost`, { key: this.key })
      : new CoordError(ErrorCodes.CONFLICT, `${what}: the key was changed or removed by someone else`, {
          key: this.key,
          current: current === undefined ? undefined : toBigInt(current.mod_revision),
        });
  }

  /** Watches the own key and the session, to re-register or to signal loss. */
  #watchOver(): void {
    void ownKeyLost(this.#session, this.key, this.#modRevision + 1n, this.#what, this.#stopped.signal).then(
      async (why) => {
        if (why === undefined || this.#stopped.signal.aborted) return;
        // Taken over, or the owner closed the session: not a loss to repair.
        const final = why.code === ErrorCodes.CONFLICT || why.code === ErrorCodes.SESSION_CLOSED;
        if (!this.#keepRegistered || final) this.#lose(why);
        else await this.#reregister();
      },
    );
  }

  async #reregister(): Promise<void> {
    for (let attempt = 0; !this.#stopped.signal.aborted; attempt++) {
      try {
        await this.#serialized(async () => {
          if (!this.#session.isAlive()) {
            const fresh = await Session.create(this.#client, {
              ttl: this.#ttl,
              signal: this.#stopped.signal,
            });
            const previous = this.#ownSession;
            this.#session = this.#ownSession = fresh;
            void previous?.close();
          }
          // The old key is gone (lease lost or deleted): write it afresh.
          this.#modRevision = 0n;
          await this.#write(this.#value);
        });
        if (this.#stopped.signal.aborted) return;
        this.#watchOver();
        return;
      } catch (err) {
        if (CoordError.is(err, ErrorCodes.CLOSED)) return this.#lose(err);
        // Stopping ends the wait early; the loop then sees the signal.
        await sleep(backoffDelay(attempt, 100, 5_000), this.#stopped.signal).catch(() => undefined);
      }
    }
  }

  #lose(reason: CoordError): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  async #shutdown(): Promise<void> {
    this.#stopped.abort();
    // After any write in flight, so that the delete sees the final mod revision.
    await this.#queue;
    if (this.#modRevision > 0n) {
      const modRevision = this.#modRevision;
      try {
        // Guarded: a registration of the same id by someone else since then is left alone.
        await idempotent(`${this.#what}: deregister`, () =>
          this.#client.kv.txn({
            compare: [ops.modRevisionIs(this.key, modRevision)],
            success: [ops.delete(this.key)],
            failure: [],
          }),
        );
      } catch {
        // Best effort by contract: the lease removes the key when it expires.
      }
    }
    this.#lose(new CoordError(ErrorCodes.CLOSED, `${this.#what}: deregistered`));
    await this.#ownSession?.close();
  }
}
