import { waitScope } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';
import { type ContentionBackoff, RetryBudget } from '../contention-backoff.js';
import { COUNT_CHECK, decodeCount, encodeCount } from '../counter-value.js';
import type { CompareAndSetResult } from '../options.js';
import type { KnownState } from '../update.js';
import { guardedPut } from './guarded-put.js';
import { ABSENT_GUESS, readState } from './known-state.js';
import { nextOpId } from './op-id.js';

/** One compare-and-set of a counter key. */
export interface CompareAndSet {
  readonly client: Etcd3;
  readonly key: string;
  readonly what: string;
  readonly expected: bigint;
  readonly next: bigint;
  readonly known: KnownState | undefined;
  readonly maxRetries: number;
  readonly contention: ContentionBackoff;
  readonly signal: AbortSignal | undefined;
  readonly timeout: number | undefined;
}

/**
 * Sets `key` to `next` if its count is `expected`: one transaction guarded by the mod revision when
 * the last known count is `expected` (a missing key counts as 0n), else a read first, since a stored
 * value carries an op id and cannot be compared as a whole. A lost reply is resolved like any update
 * (see `resolveLostPut`): an applied CAS is reported as applied, an unapplied one is fenced, so
 * `{ ok: false }` is only ever final. Returns the result and the key's state as last seen.
 */
export async function compareAndSetValue(
  cas: CompareAndSet,
): Promise<{ result: CompareAndSetResult; state: KnownState }> {
  const { client, key, what, expected, next } = cas;
  using scope = waitScope({ signal: cas.signal, timeout: cas.timeout }, what);
  const { signal } = scope;
  const budget = new RetryBudget(what, cas.maxRetries, signal, key, cas.contention);
  let state = cas.known ?? (expected === 0n ? ABSENT_GUESS : undefined);
  for (;;) {
    await budget.beforeAttempt();
    if (state === undefined || decodeCount(state.value, key) !== expected) {
      // The last known count is not `expected` but may be stale: only a fresh read may say no.
      state = await readState(client, key, what, signal);
      const current = decodeCount(state.value, key);
      if (current !== expected) return { result: { ok: false, current }, state };
    }
    const opId = nextOpId();
    const value = Buffer.from(encodeCount(next, opId));
    const outcome = await guardedPut({
      client,
      what,
      key,
      base: state,
      value,
      opId,
      successReads: [],
      failureReads: [],
      check: COUNT_CHECK,
      signal,
    });
    if (outcome.applied) {
      budget.succeeded();
      return { result: { ok: true, value: next }, state: outcome.current };
    }
    state = outcome.current;
    const current = decodeCount(state.value, key);
    if (current !== expected) return { result: { ok: false, current }, state };
    // Still `expected` (a missing key that now reads "0", a non-canonical "007", a changed-and-back
    // value, or a lost reply fenced): retry against the mod revision just seen.
    budget.refused(state.value?.toString());
  }
}
