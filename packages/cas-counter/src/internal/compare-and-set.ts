import { ops, waitScope } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';
import { type ContentionBackoff, RetryBudget } from '../contention-backoff.js';
import type { CompareAndSetResult } from '../options.js';
import type { KnownState, MarkerOptions } from '../update.js';
import { decodeCount, encodeCount } from './decimal.js';
import { guardedWrite } from './guarded-write.js';
import { stateFrom } from './known-state.js';

/** One compare-and-set of a counter key. */
export interface CompareAndSet {
  readonly client: Etcd3;
  readonly key: string;
  readonly what: string;
  readonly expected: bigint;
  readonly next: bigint;
  readonly known: KnownState | undefined;
  readonly markers: MarkerOptions;
  readonly maxRetries: number;
  readonly contention: ContentionBackoff;
  readonly signal: AbortSignal | undefined;
  readonly timeout: number | undefined;
}

/**
 * Sets `key` to `next` if its value is `expected`, in one transaction when the guess about the key
 * is right. A lost reply is resolved through the op marker (see `guardedWrite`): an applied CAS is
 * reported as applied, an unapplied one is fenced, so `{ ok: false }` is only ever final.
 * Returns the result and the key's state as last seen.
 */
export async function compareAndSetValue(
  cas: CompareAndSet,
): Promise<{ result: CompareAndSetResult; state: KnownState }> {
  const { key, what, expected, next } = cas;
  using scope = waitScope({ signal: cas.signal, timeout: cas.timeout }, what);
  const budget = new RetryBudget(what, cas.maxRetries, scope.signal, key, cas.contention);
  const written = encodeCount(next);
  // Guess "absent" for 0n: a missing key is 0n, and a value compare against "0" would miss it.
  let state = cas.known ?? (expected === 0n ? { value: undefined, modRevision: 0n } : undefined);
  for (;;) {
    await budget.beforeAttempt();
    const outcome = await guardedWrite({
      client: cas.client,
      what,
      key,
      compare: [compareFor(key, expected, state)],
      writes: [ops.put(key, written)],
      successReads: [],
      failureReads: [ops.get(key)],
      record: Buffer.from(written),
      markers: cas.markers,
      signal: scope.signal,
    });
    if (outcome.kind === 'applied' || outcome.kind === 'applied-before') budget.succeeded();
    if (outcome.kind === 'applied') {
      const state = { value: Buffer.from(written), modRevision: outcome.revision };
      return { result: { ok: true, value: next }, state };
    }
    if (outcome.kind !== 'lease-lost') {
      state = stateFrom(outcome.reads[0]);
      if (outcome.kind === 'applied-before') return { result: { ok: true, value: next }, state };
      const current = decodeCount(state.value, key);
      if (current !== expected) return { result: { ok: false, current }, state };
      // The value is `expected` after all (missing vs "0", a non-canonical string, or changed and
      // back): retry, now comparing the mod revision just read.
    }
    budget.refused(state?.value?.toString());
  }
}

/** The compare of a CAS attempt: on the mod revision when the known value already is `expected`, else on the value. */
function compareFor(key: string, expected: bigint, state: KnownState | undefined) {
  if (state && decodeCount(state.value, key) === expected) {
    return state.modRevision === 0n
      ? ops.createRevisionIs(key, 0n)
      : ops.modRevisionIs(key, state.modRevision);
  }
  return ops.valueIs(key, encodeCount(expected));
}
