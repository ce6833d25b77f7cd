import { toBigInt, watch } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';

/** One line of the demo's final summary. */
export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Reads a key's whole history (every put since revision 1) from etcd itself: the ground truth the
 * demo checks its claims against, independent of what the workers said.
 */
export async function keyHistory(client: Etcd3, key: string): Promise<string[]> {
  const current = await client.get(key).exec();
  if (current.kvs.length === 0) return [];
  const head = toBigInt(current.kvs[0]!.mod_revision);
  const values: string[] = [];
  const history = watch(client, { key }, { fromRevision: 1n });
  for await (const batch of history) {
    for (const event of batch.events) if (event.type === 'put') values.push(event.value!.toString());
    if (batch.revision >= head) break;
  }
  return values;
}

/** Fencing tokens in `holder:token` values must strictly increase: no grant was ever undone or overlapped. */
export function tokensIncrease(values: readonly string[]): boolean {
  let last = -1n;
  for (const value of values) {
    const token = BigInt(value.slice(value.lastIndexOf(':') + 1));
    if (token <= last) return false;
    last = token;
  }
  return true;
}
