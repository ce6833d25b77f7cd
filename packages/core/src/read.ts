import type { Etcd3, IRangeRequest } from 'etcd3';
import { idempotent } from './internal/rpc.js';
import { prefixRangeEnd } from './keys.js';
import { toBigInt, toWire } from './revision.js';
import { type KeyValue, toKeyValue } from './watch-event.js';

/** A consistent read of a key range: every key as of one revision. */
export interface RangeSnapshot {
  readonly revision: bigint;
  readonly kvs: readonly KeyValue[];
}

/** The range to read: `{ key, rangeEnd }` in raw bytes. */
export interface RawRange {
  readonly key: Buffer;
  readonly rangeEnd?: Buffer;
}

const PAGE_SIZE = 500;

/**
 * Reads every key of a range at one revision, in pages so that a large prefix never makes one
 * oversized response; all pages are read at the revision of the first, so the result is one
 * consistent snapshot (`COMPACTED` if that revision is compacted mid-read).
 */
export async function readRange(client: Etcd3, range: RawRange, what: string): Promise<RangeSnapshot> {
  const kvs: KeyValue[] = [];
  let revision = 0n;
  let from = range.key;
  for (;;) {
    const request: IRangeRequest = {
      key: from,
      limit: PAGE_SIZE,
      ...(range.rangeEnd ? { range_end: range.rangeEnd } : {}),
      ...(revision > 0n ? { revision: toWire(revision) } : {}),
    };
    const response = await idempotent(`${what}: read`, () => client.kv.range(request));
    if (revision === 0n) revision = toBigInt(response.header.revision);
    for (const kv of response.kvs) kvs.push(toKeyValue(kv));
    const last = response.kvs[response.kvs.length - 1];
    if (!response.more || !last || !range.rangeEnd) return { revision, kvs };
    from = Buffer.concat([last.key, Buffer.from([0])]);
  }
}

/** {@link readRange} over every key starting with `prefix`. */
export function readPrefix(client: Etcd3, prefix: string, what: string): Promise<RangeSnapshot> {
  const key = Buffer.from(prefix);
  return readRange(client, { key, rangeEnd: prefixRangeEnd(key) }, what);
}
