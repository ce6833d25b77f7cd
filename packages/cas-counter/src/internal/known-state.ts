import { idempotent, ops, toBigInt } from '@coordkit/core';
import type { Etcd3, ICompare, IKeyValue, IResponseOp } from 'etcd3';
import type { KnownState } from '../update.js';

/** What an instance that never read a key guesses: absent (a wrong guess costs one refused transaction, the same as a read). */
export const ABSENT_GUESS: KnownState = { value: undefined, modRevision: 0n };

/** The state of a key read at `revision`: `kv` as etcd returned it, or `undefined` for a missing key. */
export function stateOf(kv: IKeyValue | undefined, revision: bigint): KnownState {
  return kv
    ? { value: kv.value, modRevision: toBigInt(kv.mod_revision), revision }
    : { value: undefined, modRevision: 0n, revision };
}

/** The key's state from the response to `ops.get(key)` in a response at header revision `revision`. */
export function stateFrom(response: IResponseOp | undefined, revision: bigint): KnownState {
  return stateOf(response?.response_range?.kvs[0], revision);
}

/** Reads the key's current state (linearizable), retrying transient failures. */
export async function readState(
  client: Etcd3,
  key: string,
  what: string,
  signal: AbortSignal | undefined,
): Promise<KnownState> {
  const response = await idempotent(what, () => client.kv.range({ key: Buffer.from(key) }), signal, key);
  return stateOf(response.kvs[0], toBigInt(response.header.revision));
}

/**
 * The compare a put computed from `base` is guarded by: the key's mod revision is still the one read
 * (it can never hold again once the key changed, revisions only grow), or the key is still absent.
 */
export function guardOf(key: string, base: KnownState): ICompare {
  return base.modRevision === 0n ? ops.createRevisionIs(key, 0n) : ops.modRevisionIs(key, base.modRevision);
}
