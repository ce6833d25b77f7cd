import { randomInt } from 'node:crypto';
import { ops, readPrefix, waitScope } from '@coordkit/core';
import type { Etcd3, IRequestOp, IResponseOp } from 'etcd3';
import { RetryBudget } from '../contention-backoff.js';
import { COUNT_CHECK, decodeCount, encodeCount } from '../counter-value.js';
import type { KnownState } from '../update.js';
import { guardedPut } from './guarded-put.js';
import { ABSENT_GUESS, stateOf } from './known-state.js';
import { nextOpId } from './op-id.js';

const SHARD_INDEX = /^[0-9]+$/;
const NO_READS: readonly IRequestOp[] = [];

/** Limits of one sharded add. */
export interface ShardedAddOptions {
  readonly maxRetries: number;
  readonly timeout: number | undefined;
  readonly signal: AbortSignal | undefined;
}

/**
 * The shard keys `<prefix><i>` of a sharded counter, as one instance sees them. Each instance adds to
 * one shard and stays on it, so that its last known mod revision stays valid and its adds are one
 * transaction each. Only a refused add reads the other shards (in the refused transaction itself,
 * so it costs no extra round trip) and moves to one of the least recently written, which are the
 * ones no other writer is using: contending writers spread out instead of colliding on random picks.
 */
export class ShardSet {
  readonly #client: Etcd3;
  readonly #prefix: string;
  readonly #shards: number;
  readonly #what: string;
  /** Every shard key, read when an add is refused. */
  readonly #allShards: readonly IRequestOp[];
  /** Last seen value and mod revision of each shard key. */
  readonly #known = new Map<string, KnownState>();
  #shard: number;

  constructor(client: Etcd3, prefix: string, shards: number, what: string) {
    this.#client = client;
    this.#prefix = prefix;
    this.#shards = shards;
    this.#what = what;
    this.#allShards = [ops.range(prefix)];
    this.#shard = randomInt(shards);
  }

  /** The sum of every shard key (also those beyond `shards`, left by a counter that had more), at one revision. */
  async sum(what: string): Promise<bigint> {
    const snapshot = await readPrefix(this.#client, this.#prefix, what);
    let total = 0n;
    for (const kv of snapshot.kvs) {
      if (!SHARD_INDEX.test(kv.key.slice(this.#prefix.length))) continue;
      this.#known.set(kv.key, { value: kv.value, modRevision: kv.modRevision, revision: snapshot.revision });
      total += decodeCount(kv.value, kv.key);
    }
    return total;
  }

  /**
   * Adds `delta` to this instance's shard exactly once and returns that shard's new count. A refused
   * attempt moves to an idle shard and retries there (CONFLICT after `maxRetries` refusals, TIMEOUT
   * after `timeout`); a lost reply is resolved through the op id, as for any update.
   */
  async add(delta: bigint, options: ShardedAddOptions): Promise<bigint> {
    using scope = waitScope(options, this.#what);
    const { signal } = scope;
    const budget = new RetryBudget(this.#what, options.maxRetries, signal, this.#prefix);
    for (;;) {
      await budget.beforeAttempt();
      const key = `${this.#prefix}${this.#shard}`;
      const base = this.#known.get(key) ?? ABSENT_GUESS;
      const opId = nextOpId();
      const value = Buffer.from(encodeCount(decodeCount(base.value, key) + delta, opId));
      const outcome = await guardedPut({
        client: this.#client,
        what: this.#what,
        key,
        base,
        value,
        opId,
        successReads: NO_READS,
        failureReads: this.#allShards,
        check: COUNT_CHECK,
        signal,
      });
      this.#known.set(key, outcome.current);
      if (outcome.applied) {
        budget.succeeded();
        return decodeCount(value, key);
      }
      this.#learn(outcome.reads[0], outcome.revision);
      this.#shard = this.#idleShard();
      budget.refused(outcome.current.value?.toString());
    }
  }

  /** Records every shard's state from a range over the prefix answered at `revision`. */
  #learn(response: IResponseOp | undefined, revision: bigint): void {
    const seen = new Set<string>();
    for (const kv of response?.response_range?.kvs ?? []) {
      const key = kv.key.toString();
      seen.add(key);
      this.#known.set(key, stateOf(kv, revision));
    }
    for (let i = 0; i < this.#shards; i++) {
      const key = `${this.#prefix}${i}`;
      if (!seen.has(key)) this.#known.set(key, stateOf(undefined, revision));
    }
  }

  /**
   * A shard other than the current one, at random among the least recently written quarter: a
   * shard in use is written every round trip, so the oldest are the free ones, and picking among
   * several keeps writers refused at the same moment from all moving to the same one.
   */
  #idleShard(): number {
    if (this.#shards === 1) return 0;
    const others: Array<{ index: number; modRevision: bigint }> = [];
    for (let i = 0; i < this.#shards; i++) {
      if (i === this.#shard) continue;
      others.push({ index: i, modRevision: this.#known.get(`${this.#prefix}${i}`)?.modRevision ?? 0n });
    }
    others.sort((a, b) => (a.modRevision < b.modRevision ? -1 : a.modRevision > b.modRevision ? 1 : 0));
    const candidates = Math.max(1, Math.ceil(this.#shards / 4));
    return others[randomInt(Math.min(candidates, others.length))]!.index;
  }
}
