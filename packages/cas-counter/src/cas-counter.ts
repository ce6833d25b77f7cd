import { randomInt } from 'node:crypto';
import {
  assertArgument,
  CoordError,
  ErrorCodes,
  idempotent,
  ops,
  readPrefix,
  toBigInt,
  validateName,
} from '@coordkit/core';
import type { Etcd3, IResponseOp } from 'etcd3';
import { ContentionBackoff } from './contention-backoff.js';
import { compareAndSetValue } from './internal/compare-and-set.js';
import { decodeCount, encodeCount } from './internal/decimal.js';
import { MarkerLease } from './internal/marker-lease.js';
import type { CasCounterOptions, CompareAndSetResult, CounterCallOptions } from './options.js';
import { type KnownState, type MarkerOptions, update } from './update.js';

const MAX_SHARDS = 256;
const SHARD_INDEX = /^[0-9]+$/;

/**
 * An exact integer counter in etcd: no update is lost under contention, and an update whose reply
 * was lost is never applied twice.
 *
 * Keys: `<name>/value` (one shard) or `<name>/shard/<i>` (several), each holding the count as a
 * decimal string; `<name>/op/<opId>` are short-lived markers under the counter's lease.
 * Each update is one transaction when uncontended: the counter remembers each key's last value and
 * mod revision, and a refused compare returns the fresh value for the next try. Updates made by this
 * instance are linearizable: each commits at one etcd revision, in the order etcd applied them.
 * Close it (or `await using`) to revoke the marker lease.
 */
export class CasCounter implements AsyncDisposable {
  /** The counter's name, the prefix of its keys. */
  readonly name: string;
  /** Number of shard keys adds are spread over. */
  readonly shards: number;
  readonly #client: Etcd3;
  readonly #maxRetries: number;
  readonly #timeout: number | undefined;
  readonly #markers: MarkerOptions;
  readonly #ownLease: MarkerLease | undefined;
  /** Last seen value and mod revision of each key, so an update needs no read first. */
  readonly #known = new Map<string, KnownState>();
  /** How contended each key has been for this instance, so winners yield too. */
  readonly #contention = new Map<string, ContentionBackoff>();
  #closed = false;
  /**
   * The shard this instance adds to. Sticky, so that its last known mod revision stays valid and the
   * first compare usually succeeds; moved to another random shard only after a conflict, so that
   * contending instances spread out over the shards instead of colliding on random picks.
   */
  #shard = 0;

  /** Validates the options; writes nothing (the marker lease is granted at the first update). */
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
    const markerTtl = options.markerTtl ?? 60;
    assertArgument(
      Number.isInteger(markerTtl) && markerTtl >= 1,
      'markerTtl',
      'a whole number of seconds >= 1',
    );
    this.shards = shards;
    this.#client = client;
    this.#shard = randomInt(shards);
    this.#maxRetries = maxRetries;
    this.#timeout = timeout;
    this.#ownLease = options.session ? undefined : new MarkerLease(client, markerTtl, this.#what('markers'));
    const ownLease = this.#ownLease;
    this.#markers = {
      prefix: `${this.name}/op/`,
      session: options.session ?? (() => ownLease!.current()),
    };
  }

  /**
   * Reads the current value: the one key, or the sum of every shard key at one revision (one read).
   * A missing key counts as 0n. Retries transient failures; never waits on contention.
   */
  async get(options: CounterCallOptions = {}): Promise<bigint> {
    this.#assertOpen();
    if (this.shards === 1) {
      const key = this.#valueKey();
      const response = await idempotent(
        this.#what('get'),
        () => this.#client.kv.range({ key: Buffer.from(key) }),
        options.signal,
        key,
      );
      const kv = response.kvs[0];
      const state: KnownState = kv
        ? { value: kv.value, modRevision: toBigInt(kv.mod_revision) }
        : { value: undefined, modRevision: 0n };
      this.#known.set(key, state);
      return decodeCount(state.value, key);
    }
    const snapshot = await readPrefix(this.#client, this.#shardPrefix(), this.#what('get'));
    let total = 0n;
    for (const kv of snapshot.kvs) {
      if (!SHARD_INDEX.test(kv.key.slice(this.#shardPrefix().length))) continue;
      this.#known.set(kv.key, { value: kv.value, modRevision: kv.modRevision });
      total += decodeCount(kv.value, kv.key);
    }
    return total;
  }

  /**
   * Adds `delta` (negative to subtract) exactly once and returns the value right after it (sharded:
   * the sum of all shards at the add's revision, or at a later one if its reply was lost).
   * Contention is retried (CONFLICT after `maxRetries`, TIMEOUT after `timeout`); a lost reply is
   * resolved through the op marker, or rejected with UNKNOWN_OUTCOME if the marker lease was lost
   * too. Cancelling stops retrying; it never leaves an add half done.
   */
  async add(delta: bigint, options: CounterCallOptions = {}): Promise<bigint> {
    assertArgument(typeof delta === 'bigint', 'delta', 'a bigint');
    this.#assertOpen();
    const sharded = this.shards > 1;
    const key = sharded ? `${this.#shardPrefix()}${this.#shard}` : this.#valueKey();
    const result = await update(
      this.#client,
      key,
      (current) => encodeCount(decodeCount(current, key) + delta),
      {
        known: this.#known.get(key),
        maxRetries: this.#maxRetries,
        timeout: options.timeout ?? this.#timeout,
        signal: options.signal,
        markers: this.#markers,
        // In sharded mode the sum comes from a read in the same transaction, so it is still one round trip.
        alsoRead: sharded ? [ops.range(this.#shardPrefix())] : [],
        what: this.#what('add'),
      },
    );
    this.#known.set(key, result.state);
    if (!sharded) return decodeCount(result.value, key);
    if (result.attempts > 1) this.#shard = randomInt(this.shards);
    return this.#sumShards(result.alsoRead[0]);
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
   * Sets the value to `next` if it is `expected` (a missing key counts as 0n), in one transaction
   * comparing the stored value. Returns `{ ok: true, value }` or `{ ok: false, current }` with the
   * value found instead. A CAS whose reply was lost is resolved through its op marker: an applied CAS
   * is never reported as failed, and one found unapplied is fenced so that it can never apply later.
   * Refused with INVALID_ARGUMENT on a sharded counter (no single value to compare).
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
    const key = this.#valueKey();
    const result = await compareAndSetValue({
      client: this.#client,
      key,
      what: this.#what('compareAndSet'),
      expected,
      next,
      known: this.#known.get(key),
      markers: this.#markers,
      maxRetries: this.#maxRetries,
      contention: this.#contentionOf(key),
      signal: options.signal,
      timeout: options.timeout ?? this.#timeout,
    });
    this.#known.set(key, result.state);
    return result.result;
  }

  /** Revokes the counter's own marker lease; later calls fail with CLOSED. Idempotent; never throws. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#ownLease?.close();
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

  #contentionOf(key: string): ContentionBackoff {
    let contention = this.#contention.get(key);
    if (!contention) this.#contention.set(key, (contention = new ContentionBackoff()));
    return contention;
  }

  #valueKey(): string {
    return `${this.name}/value`;
  }

  #shardPrefix(): string {
    return `${this.name}/shard/`;
  }

  #sumShards(response: IResponseOp | undefined): bigint {
    let total = 0n;
    for (const kv of response?.response_range?.kvs ?? []) {
      const key = kv.key.toString();
      if (SHARD_INDEX.test(key.slice(this.#shardPrefix().length))) total += decodeCount(kv.value, key);
    }
    return total;
  }
}
