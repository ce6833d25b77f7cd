import { CoordError, ErrorCodes, ops, type Session, waitScope } from '@coordkit/core';
import type { Etcd3, IRequestOp, IResponseOp } from 'etcd3';
import { type ContentionBackoff, RetryBudget } from './contention-backoff.js';
import { guardedWrite } from './internal/guarded-write.js';
import { stateFrom } from './internal/known-state.js';

/** What is known of a key: its value and mod revision (`modRevision` 0n: the key does not exist). */
export interface KnownState {
  readonly value: Buffer | undefined;
  readonly modRevision: bigint;
}

/** Computes the value to write from the current one (`undefined`: the key does not exist). */
export type Updater = (current: Buffer | undefined) => Buffer | string;

/** Idempotence markers that let a write whose reply was lost be resolved instead of re-sent. */
export interface MarkerOptions {
  /** Each write puts the marker `<prefix><random opId>`; the prefix must not be used for anything else. */
  readonly prefix: string;
  /**
   * The session whose lease carries the markers (they vanish with it), or a function returning the
   * session to use now, called once per attempt (so that a lost lease can be replaced).
   */
  readonly session: Session | (() => Promise<Session>);
}

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
  /** Exactly-once markers. Default none: a lost reply is thrown as UNKNOWN_OUTCOME. */
  readonly markers?: MarkerOptions | undefined;
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
  /** The revision at which the write committed. */
  readonly revision: bigint;
  /** The key's state as last seen: after the write, or later when a lost reply was resolved. */
  readonly state: KnownState;
  /** Responses to `alsoRead`, as of `revision` or (after a lost reply) a later revision. */
  readonly alsoRead: readonly IResponseOp[];
  /** Transactions sent, the first included (lost-reply resolutions not counted). */
  readonly attempts: number;
  /** Whether the reply of the write was lost and its marker proved that it applied. */
  readonly resolvedLostReply: boolean;
}

/**
 * Read-modify-write of one key with optimistic concurrency: one transaction
 * `If(mod(key) == known).Then(put(key, fn(value))).Else(get(key))`, so the uncontended update is one
 * round trip and a refused one carries the fresh value for the next try, with no extra read.
 * Retries with jittered exponential backoff until `maxRetries` (CONFLICT) or `timeout` (TIMEOUT).
 *
 * Loss: without `markers`, a write whose reply was lost is never re-sent and rejects with
 * UNKNOWN_OUTCOME; with `markers`, the marker put in the same transaction is checked (and fenced if
 * absent), so the update applies exactly once, or still UNKNOWN_OUTCOME if the marker lease is gone.
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
  const budget = new RetryBudget(what, maxRetries, scope.signal, key, options.contention);
  const alsoRead = options.alsoRead ?? [];
  let state: KnownState = options.known ?? { value: undefined, modRevision: 0n };
  for (;;) {
    await budget.beforeAttempt();
    const next = Buffer.from(fn(state.value));
    const outcome = await guardedWrite({
      client,
      what,
      key,
      compare: [
        state.modRevision === 0n ? ops.createRevisionIs(key, 0n) : ops.modRevisionIs(key, state.modRevision),
      ],
      writes: [ops.put(key, next)],
      successReads: alsoRead,
      failureReads: [ops.get(key), ...alsoRead],
      record: next,
      markers: options.markers,
      signal: scope.signal,
    });
    if (outcome.kind === 'applied' || outcome.kind === 'applied-before') budget.succeeded();
    if (outcome.kind === 'applied') {
      return {
        value: next,
        previous: state.value,
        revision: outcome.revision,
        state: { value: next, modRevision: outcome.revision },
        alsoRead: outcome.reads,
        attempts: budget.attempts,
        resolvedLostReply: false,
      };
    }
    if (outcome.kind === 'applied-before') {
      return {
        value: outcome.record,
        previous: state.value,
        revision: outcome.revision,
        state: stateFrom(outcome.reads[0]),
        alsoRead: outcome.reads.slice(1),
        attempts: budget.attempts,
        resolvedLostReply: true,
      };
    }
    if (outcome.kind !== 'lease-lost') state = stateFrom(outcome.reads[0]);
    budget.refused(state.value?.toString());
  }
}
