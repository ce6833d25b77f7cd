import { toBigInt } from '@coordkit/core';
import type { IResponseOp } from 'etcd3';
import type { KnownState } from '../update.js';

/** The key's state from the response to `ops.get(key)`. */
export function stateFrom(response: IResponseOp | undefined): KnownState {
  const kv = response?.response_range?.kvs[0];
  return kv
    ? { value: kv.value, modRevision: toBigInt(kv.mod_revision) }
    : { value: undefined, modRevision: 0n };
}
