import { CoordError, ErrorCodes, waitScope } from '@coordkit/core';
import type { Etcd3, IRequestOp, IResponseOp } from 'etcd3';
import { type ContentionBackoff, RetryBudget } from './contention-backoff.js';
import { guardedPut, type OpIdCheck } from './internal/guarded-put.js';
import { ABSENT_GUESS } from './internal/known-state.js';
import { nextOpId } from './internal/op-id.js';

/** What is known of a key: its value and mod revision (`modRevision` 0n: the key does not exist). */
export interface KnownState {
  readonly value: Buffer | undefined;
  readonly modRevision: bigint;
  /**
   * The revision at which this was read or written. Only used for a missing key, to bound where in
   * its history a lost create could be. Default: unknown (a lost create is then looked for in the
   * whole history).
   */
  readonly revision?: bigint | undefined;
}

/**
 * Computes the value to write from the current one (`undefined`: the key does not exist). `opId`
 * is unique to this attempt; put it in the value (and give `opIdOf`) to have a lost reply resolved.
 */
export type Updater = (current: Buffer | undefined, opId: string) => Buffer | string;

/** Options of {@link update}. */
export interface UpdateOptions {
  /** The state last seen, to skip the first read. Default: assume the key is absent (a wrong guess costs one refused transaction, the same as a read). */
  readonly known?: KnownState | undefined;
  /** Retries after a refused compare before failing with CONFLICT. Default 1000. */
  readonly maxRetries?: number | undefined;
  /** Gives up after this many milliseconds with a TIMEOUT CoordError. Default: no limit but `maxRetries`. */
  readonly timeout?: number | undefined;
  /** Stops retrying; the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
  /**
   * The op id a stored value carries (the `opId` the updater was given), or `undefined`. With it, a
   * write whose reply was lost is resolved (see {@link update}). Default none: a lost reply is
   * thrown as UNKNOWN_OUTCOME.
   */
  readonly opIdOf?: ((stored: Buffer) => string | undefined) | undefined;
  /**
   * A value readers take to mean the same as a missing key (e.g. `"0"` for a count), put to fence a
   * lost create. Default none: a lost create that cannot be found applied is thrown as UNKNOWN_OUTCOME.
   */
  readonly absentAs?: Buffer | string | undefined;
  /** Extra reads answered in the same transaction (after the write), e.g. sibling keys. Default none. */
  readonly alsoRead?: readonly IRequestOp[] | undefined;
  /**
   * Contention remembered across this writer's updates of the key, so that the winner of a contended
   * round also yields next time. Default: fresh for this call.
   */
  readonly contention?: ContentionBackoff | undefined;
  /** Names the operation in errors. Default `update "<key>"`. */
  readonly what?: string | undefined;
}

/** What {@link update} wrote. */
export interface UpdateResult {
  /** The value written. */
  readonly value: Buffer;
  /** The value the write replaced (`undefined`: the key did not exist). */
  readonly previous: Buffer | undefined;
  /** The revision at which the write committed (after a lost reply found in the key's current value: a revision at which the key held it). */
  readonly revision: bigint;
  /** The key's state as last seen: after the write, or later when a lost reply was resolved. */
  readonly state: KnownState;
  /** Responses to `alsoRead`, as of `revision` or (after a lost reply) a later revision. */
  readonly alsoRead: readonly IResponseOp[];
  /** Transactions sent, the first included (lost-reply resolutions not counted). */
  readonly attempts: number;
  /** Whether the reply of the write was lost and the key's value or history proved that it applied. */
  readonly resolvedLostReply: boolean;
}

/**
 * Read-modify-write of one key with optimistic concurrency: one transaction
 * `If(mod(key) == known).Then(put(key, fn(value, opId))).Else(get(key))`, so the uncontended update is
 * one round trip and a refused one carries the fresh value for the next try, with no extra read.
 * Retries with jittered exponential backoff until `maxRetries` (CONFLICT) or `timeout` (TIMEOUT).
 *
 * Loss: a write whose reply was lost is never re-sent. Without `opIdOf` it rejects with
 * UNKNOWN_OUTCOME. With it, the write is resolved by its op id: a fence transaction (same compare,
 * putting back the old value) either applies, proving the write did not and never will, or finds the
 * key changed, and then the op id in its current value or in the first change of its history tells
 * whether the write applied. A write found unapplied is retried with a fresh op id; one found applied
 * is returned. The history read needs the key's history since the write's base revision: compacted,
 * the call rejects with UNKNOWN_OUTCOME. A fence shows watchers a put of the unchanged value.
 * Cancellation (`signal`, `timeout`) only stops further attempts: a write that applied is reported.
 * `fn` may be called several times and must have no side effects; it may throw to stop the update.
 */
export async function update(
  client: Etcd3,
  key: string,
  fn: Updater,
  options: UpdateOptions = {},
): Promise<UpdateResult> {
  const what = options.what ?? `update "${key}"`;
  const maxRetries = options.maxRetries ?? 1000;
  if (!(Number.isInteger(maxRetries) && maxRetries >= 0)) {
    throw new CoordError(ErrorCodes.INVALID_ARGUMENT, `invalid maxRetries for ${what}: an integer >= 0`);
  }
  using scope = waitScope(options, what);
  const { signal } = scope;
  const budget = new RetryBudget(what, maxRetries, signal, key, options.contention);
  const check: OpIdCheck | undefined = options.opIdOf && {
    opIdOf: options.opIdOf,
    absentAs: options.absentAs === undefined ? undefined : Buffer.from(options.absentAs),
  };
  const alsoRead = options.alsoRead ?? [];
  let state = options.known ?? ABSENT_GUESS;
  for (;;) {
    await budget.beforeAttempt();
    const opId = nextOpId();
    const value = Buffer.from(fn(state.value, opId));
    const outcome = await guardedPut({
      client,
      what,
      key,
      base: state,
      value,
      opId,
      successReads: alsoRead,
      failureReads: alsoRead,
      check,
      signal,
    });
    if (outcome.applied) {
      budget.succeeded();
      return {
        value,
        previous: state.value,
        revision: outcome.revision,
        state: outcome.current,
        alsoRead: outcome.reads,
        attempts: budget.attempts,
        resolvedLostReply: outcome.lostReply,
      };
    }
    state = outcome.current;
    budget.refused(state.value?.toString());
  }
}
