import { CoordError, ErrorCodes, type EtcdClient, idempotent, ops, toBigInt } from '@coordkit/core';

/** When a group's acknowledged position is written to etcd. */
export interface CommitPolicy {
  readonly intervalMs: number;
  readonly everyMessages: number;
}

/**
 * A durable group's position (`<topic>/groups/<group>` = last acknowledged revision), committed in
 * batches: after `everyMessages` acknowledgements or `intervalMs`, whichever comes first, and on
 * {@link GroupCursor.flush}. One commit is in flight at a time, so positions are written in order.
 * A failed commit is not fatal: the next one (or a restart's redelivery) covers it: at-least-once.
 */
export class GroupCursor {
  #acked = 0n;
  #committed = 0n;
  #pending = 0;
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = false;
  #denied: CoordError | undefined;

  constructor(
    private readonly client: EtcdClient,
    readonly key: string,
    private readonly policy: CommitPolicy,
    private readonly what: string,
  ) {}

  /** Reads the stored position; `undefined` for a group that never committed. */
  async load(): Promise<bigint | undefined> {
    const response = await idempotent(`${this.what}: read group position`, () =>
      this.client.kv.range({ key: Buffer.from(this.key) }),
    );
    const stored = response.kvs[0];
    if (!stored) return undefined;
    const position = toBigInt(stored.value.toString());
    this.#acked = this.#committed = position;
    return position;
  }

  /**
   * Stores the position of a group that had none (an absolute put, safe to re-send). Throws
   * `PERMISSION_DENIED` when etcd refuses that write, so a subscriber that can never store its position
   * (e.g. a read-only user) is refused at the start instead of silently running without durability; a
   * transient failure is kept in memory for the next commit, as before.
   */
  async commitStart(position: bigint): Promise<void> {
    this.#acked = position;
    await this.#commit();
    if (this.#denied) throw this.#denied;
  }

  /**
   * Records that every message up to and including `revision` was processed. Throws the
   * `PERMISSION_DENIED` of an earlier commit: retrying cannot help, and going on would deliver
   * messages whose position is never stored.
   */
  ack(revision: bigint, messages: number): void {
    if (this.#denied) throw this.#denied;
    if (revision <= this.#acked) return;
    this.#acked = revision;
    this.#pending += messages;
    if (this.#pending >= this.policy.everyMessages) this.#commitSoon();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.#commitSoon(), this.policy.intervalMs);
      this.#timer.unref();
    }
  }

  /** Writes the acknowledged position now (after any commit in flight) and stops background commits; never throws. */
  async flush(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
    if (this.#acked > this.#committed) await this.#commit();
  }

  #commitSoon(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#inFlight || this.#stopped) return;
    this.#inFlight = this.#commit().finally(() => {
      this.#inFlight = undefined;
      // Acks that came in meanwhile (or a failed commit) are written on the next tick of the policy.
      if (this.#acked > this.#committed && !this.#stopped && this.#timer === undefined) {
        this.#timer = setTimeout(() => this.#commitSoon(), this.policy.intervalMs);
        this.#timer.unref();
      }
    });
  }

  async #commit(): Promise<void> {
    const position = this.#acked;
    this.#pending = 0;
    try {
      // A plain put of an absolute position: re-sending it after a lost reply is harmless.
      await idempotent(`${this.what}: commit group position`, () =>
        this.client.kv.txn({ compare: [], success: [ops.put(this.key, position.toString(10))], failure: [] }),
      );
      if (position > this.#committed) this.#committed = position;
    } catch (err) {
      // Transient failures: kept acknowledged in memory; the next commit or flush writes it. A refusal
      // never heals by retrying, so it is remembered and ends the loop at the next ack.
      if (CoordError.is(err, ErrorCodes.PERMISSION_DENIED)) this.#denied = err;
    }
  }
}
