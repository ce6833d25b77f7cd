import { type ClientOptions, toBigInt } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';

export { aborted, type Contender, contender, isSettled } from '../../../test/support/etcd.js';

import { testClient } from '../../../test/support/etcd.js';

/** A client on the run's shared etcd, closed by `using`. */
export const sharedClient = (options: ClientOptions = {}) => testClient(undefined, options);

/** The keys under `prefix`, oldest first, with their create revisions. */
export async function keysUnder(
  client: Etcd3,
  prefix: string,
): Promise<Array<{ key: string; createRevision: bigint }>> {
  const response = await client.getAll().prefix(prefix).sort('Create', 'Ascend').exec();
  return response.kvs.map((kv) => ({ key: kv.key.toString(), createRevision: toBigInt(kv.create_revision) }));
}

/** Reads a counter key: its numeric value (0 when absent) and mod revision (0n when absent). */
export async function readCounter(
  client: Etcd3,
  key: string,
): Promise<{ value: number; modRevision: bigint }> {
  const response = await client.kv.range({ key: Buffer.from(key) });
  const kv = response.kvs[0];
  return kv
    ? { value: Number(kv.value.toString()), modRevision: toBigInt(kv.mod_revision) }
    : { value: 0, modRevision: 0n };
}
