import { assertArgument, CoordError, ErrorCodes, validateName } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';
import { ContentionBackoff } from './contention-backoff.js';
import { COUNT_CHECK, decodeCount, encodeCount } from './counter-value.js';
import { compareAndSetValue } from './internal/compare-and-set.js';
import { readState } from './internal/known-state.js';
import { ShardSet } from './internal/shard-set.js';
import type { CasCounterOptions, CompareAndSetResult, CounterCallOptions } from './options.js';
import { type KnownState, update } from './update.js';

const MAX_SHARDS = 256;

/**
 * An exact integer counter in etcd: no update is lost under contention, and an update whose reply
 * was lost is never applied twice.
 *
 * Keys: `<name>/value` (one shard) or `<name>/shard/<i>` (several), each holding the count as a
 * decimal string followed by the op id of the write that stored it (`42 Qm9xY2tpdF9q.4zk`); a plain
 * decimal (written by etcdctl) is read as is. Nothing else is written, and no lease is needed.
 * Each update is one transaction when uncontended: the counter remembers each key's last value and
 * mod revision, and a refused compare returns the fresh value for the next try. Updates made by this
 * instance are linearizable: each commits at one etcd revision, in the order etcd applied them.
 * A lost reply is resolved through the op id (see {@link update}), never by sending the add again.
 */
export class CasCounter implements AsyncDisposable {
  /** The counter's name, the prefix of its keys. */
  readonly name: string;
  /** Number of shard keys adds are spread over. */
  readonly shards: number;
  readonly #client: Etcd3;
  readonly #maxRetries: number;
  readonly #timeout: number | undefined;
  /** Names of the operations in errors, built once rather than per call. */
  readonly #whatAdd: string;
  readonly #whatGet: string;
  readonly #whatCas: string;
  readonly #valueKey: string;
  /** The shard keys, when there are several. */
  readonly #shardSet: ShardSet | undefined;
  /** Last seen value and mod revision of the value key, so an update needs no read first. */
  #known: KnownState | undefined;
  /** How contended the value key has been for this instance's compareAndSet, so winners yield too. */
  readonly #contention = new ContentionBackoff();
  #closed = false;

  /**
   * Validates the options; writes nothing. `markerTtl` and `session` (op markers under a lease, before
   * op ids moved into the value) are still accepted and ignored.
   */
  constructor(client: Etcd3, name: string, options: CasCounterOptions = {}) {
    this.name = validateName(name, 'counter');
    const shards = options.shards ?? 1;
    assertArgument(
      Number.isInteger(shards) && shards >= 1 && shards <= MAX_SHARDS,
      'shards',
      `an integer from 1 to ${MAX_SHARDS}`,
    );
    const maxRetries = options.maxRetries ?? 1000;
    assertArgument(Number.isInteger(maxRetries) && maxRetries >= 0, 'maxRetries', 'an integer >= 0');
    const timeout = options.timeout;
    assertArgument(
      timeout === undefined || (Number.isFinite(timeout) && timeout >= 0),
      'timeout',
      'a finite number of ms >= 0',
    );
    this.shards = shards;
    this.#client = client;
    this.#maxRetries = maxRetries;
    this.#timeout = timeout;
    this.#whatAdd = this.#what('add');
    this.#whatGet = this.#what('get');
    this.#whatCas = this.#what('compareAndSet');
    this.#valueKey = `${this.name}/value`;
    this.#shardSet =
      shards > 1 ? new ShardSet(client, `${this.name}/shard/`, shards, this.#whatAdd) : undefined;
  }

  /**
   * Reads the current value: the one key, or the sum of every shard key at one revision (one read).
   * A missing key counts as 0n. Retries transient failures; never waits on contention.
   */
  async get(options: CounterCallOptions = {}): Promise<bigint> {
    this.#assertOpen();
    if (this.#shardSet) return this.#shardSet.sum(this.#whatGet);
    const key = this.#valueKey;
    this.#known = await readState(this.#client, key, this.#whatGet, options.signal);
    return decodeCount(this.#known.value, key);
  }

  /**
   * Adds `delta` (negative to subtract) exactly once and returns the count right after it: the
   * counter's value, or on a sharded counter the new count of the shard it went to (the total would
   * take a read of every shard with each add; `get()` sums them). Contention is retried (CONFLICT
   * after `maxRetries`, TIMEOUT after `timeout`). A lost reply is resolved through the write's op id,
   * in the key's value or history; if that history was compacted meanwhile, the call rejects with
   * UNKNOWN_OUTCOME (applied once, or not at all). Cancelling stops retrying; it never leaves an
   * add half done.
   */
  async add(delta: bigint, options: CounterCallOptions = {}): Promise<bigint> {
    assertArgument(typeof delta === 'bigint', 'delta', 'a bigint');
    this.#assertOpen();
    const timeout = options.timeout ?? this.#timeout;
    if (this.#shardSet) {
      return this.#shardSet.add(delta, { maxRetries: this.#maxRetries, timeout, signal: options.signal });
    }
    const key = this.#valueKey;
    const result = await update(
      this.#client,
      key,
      (current, opId) => encodeCount(decodeCount(current, key) + delta, opId),
      {
        known: this.#known,
        maxRetries: this.#maxRetries,
        timeout,
        signal: options.signal,
        opIdOf: COUNT_CHECK.opIdOf,
        absentAs: COUNT_CHECK.absentAs,
        what: this.#whatAdd,
      },
    );
    this.#known = result.state;
    return decodeCount(result.value, key);
  }

  /** `add(1n)`. */
  increment(options: CounterCallOptions = {}): Promise<bigint> {
    return this.add(1n, options);
  }

  /** `add(-1n)`. */
  decrement(options: CounterCallOptions = {}): Promise<bigint> {
    return this.add(-1n, options);
  }

  /**
   * Sets the value to `next` if it is `expected` (a missing key counts as 0n). One transaction when
   * this instance last saw the value at `expected` (guarded by the key's mod revision), else a read
   * first. Returns `{ ok: true, value }` or `{ ok: false, current }` with the value found instead.
   * A CAS whose reply was lost is resolved like an add: an applied CAS is never reported as failed,
   * and one found unapplied is fenced so that it can never apply later (UNKNOWN_OUTCOME if the
   * history needed was compacted). Refused with INVALID_ARGUMENT on a sharded counter.
   */
  async compareAndSet(
    expected: bigint,
    next: bigint,
    options: CounterCallOptions = {},
  ): Promise<CompareAndSetResult> {
    assertArgument(typeof expected === 'bigint', 'expected', 'a bigint');
    assertArgument(typeof next === 'bigint', 'next', 'a bigint');
    assertArgument(
      this.shards === 1,
      'compareAndSet',
      `not available on a sharded counter (${this.name} has ${this.shards} shards and no single value to compare); use add`,
    );
    this.#assertOpen();
    const key = this.#valueKey;
    const result = await compareAndSetValue({
      client: this.#client,
      key,
      what: this.#whatCas,
      expected,
      next,
      known: this.#known,
      maxRetries: this.#maxRetries,
      contention: this.#contention,
      signal: options.signal,
      timeout: options.timeout ?? this.#timeout,
    });
    this.#known = result.state;
    return result.result;
  }

  /** Marks the counter closed: later calls fail with CLOSED. It holds nothing in etcd. Idempotent; never throws. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new CoordError(ErrorCodes.CLOSED, `${this.#what('call')}: the counter is closed`);
  }

  #what(operation: string): string {
    return `counter "${this.name}": ${operation}`;
  }
}
