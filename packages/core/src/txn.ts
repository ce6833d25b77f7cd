import {
  CompareResult,
  CompareTarget,
  type ICompare,
  type IRangeRequest,
  type IRequestOp,
  SortOrder,
  SortTarget,
} from 'etcd3';
import { prefixRangeEnd } from './keys.js';
import { toWire } from './revision.js';

/**
 * Small builders for raw etcd transaction parts, so primitives can put several reads and writes
 * in one transaction (one round trip) without etcd3's builder, which cannot read inside a txn.
 */
export const ops = {
  /** Compare: the key's create revision equals `revision` (0n: the key does not exist). */
  createRevisionIs(key: string, revision: bigint): ICompare {
    return {
      key: Buffer.from(key),
      target: CompareTarget.Create,
      result: CompareResult.Equal,
      create_revision: toWire(revision),
    };
  },
  /** Compare: the key's mod revision equals `revision`. */
  modRevisionIs(key: string, revision: bigint): ICompare {
    return {
      key: Buffer.from(key),
      target: CompareTarget.Mod,
      result: CompareResult.Equal,
      mod_revision: toWire(revision),
    };
  },
  /** Compare: the key's mod revision is below `revision` (unchanged since a read at `revision - 1`). */
  modRevisionBelow(key: string, revision: bigint, rangeEnd?: Buffer): ICompare {
    return {
      key: Buffer.from(key),
      ...(rangeEnd ? { range_end: rangeEnd } : {}),
      target: CompareTarget.Mod,
      result: CompareResult.Less,
      mod_revision: toWire(revision),
    };
  },
  /** Compare: the key's value equals `value`. */
  valueIs(key: string, value: Buffer | string): ICompare {
    return {
      key: Buffer.from(key),
      target: CompareTarget.Value,
      result: CompareResult.Equal,
      value: Buffer.from(value),
    };
  },
  put(key: string, value: Buffer | string, leaseId?: string): IRequestOp {
    return {
      request_put: {
        key: Buffer.from(key),
        value: Buffer.from(value),
        ...(leaseId ? { lease: leaseId } : {}),
      },
    };
  },
  get(key: string): IRequestOp {
    return { request_range: { key: Buffer.from(key) } };
  },
  delete(key: string): IRequestOp {
    return { request_delete_range: { key: Buffer.from(key) } };
  },
  deletePrefix(prefix: string): IRequestOp {
    const key = Buffer.from(prefix);
    return { request_delete_range: { key, range_end: prefixRangeEnd(key) } };
  },
  /** Range over a prefix; `newestFirst`/`oldestFirst` sort by create revision. */
  range(prefix: string, options: RangeOptions = {}): IRequestOp {
    return { request_range: rangeRequest(prefix, options) };
  },
};

/** Options of a prefix range inside a transaction. */
export interface RangeOptions {
  readonly limit?: number;
  readonly order?: 'newest-first' | 'oldest-first' | 'key';
  /** Only keys created at or before this revision. */
  readonly maxCreateRevision?: bigint;
  readonly countOnly?: boolean;
  readonly keysOnly?: boolean;
}

/** A raw range request over every key starting with `prefix`. */
export function rangeRequest(prefix: string, options: RangeOptions = {}): IRangeRequest {
  const key = Buffer.from(prefix);
  const order = options.order ?? 'key';
  return {
    key,
    range_end: prefixRangeEnd(key),
    ...(options.limit ? { limit: options.limit } : {}),
    ...(order === 'key'
      ? {}
      : {
          sort_target: SortTarget.Create,
          sort_order: order === 'newest-first' ? SortOrder.Descend : SortOrder.Ascend,
        }),
    ...(options.maxCreateRevision !== undefined
      ? { max_create_revision: toWire(options.maxCreateRevision) }
      : {}),
    ...(options.countOnly ? { count_only: true } : {}),
    ...(options.keysOnly ? { keys_only: true } : {}),
  };
}
