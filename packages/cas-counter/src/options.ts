import type { Session } from '@coordkit/core';

/** Options of {@link CasCounter}. Every field is optional. */
export interface CasCounterOptions {
  /**
   * Number of shard keys adds are spread over (1 to 256). Default 1: one key, `compareAndSet`
   * available. More shards take contention off one key; `get` then sums them and `compareAndSet`
   * is refused. Keep it the same for every instance of a counter (all shard keys are summed, so
   * growing it is safe; switching between 1 and more is not, the two layouts do not see each other).
   */
  readonly shards?: number;
  /** Retries of an update whose compare was refused (contention) before it fails with CONFLICT. Default 1000 (a hot key shared by many writers can need hundreds: shard it). */
  readonly maxRetries?: number;
  /** Default time limit of each call, ms, after which it fails with TIMEOUT. Default: none but `maxRetries`. */
  readonly timeout?: number;
  /** @deprecated Ignored: the counter no longer writes op markers under a lease (op ids live in the value). */
  readonly markerTtl?: number;
  /** @deprecated Ignored: the counter no longer needs a lease (op ids live in the value). */
  readonly session?: Session;
}

/** Options of one counter call. */
export interface CounterCallOptions {
  /** Stops retrying; the call rejects with `signal.reason`. A write that already applied is still reported. */
  readonly signal?: AbortSignal | undefined;
  /** Overrides the counter's `timeout` for this call, ms. */
  readonly timeout?: number | undefined;
}

/** The result of {@link CasCounter.compareAndSet}. */
export type CompareAndSetResult =
  | { readonly ok: true; readonly value: bigint }
  | { readonly ok: false; readonly current: bigint };
