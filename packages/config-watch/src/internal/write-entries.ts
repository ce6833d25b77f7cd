import { CoordError, ErrorCodes, ops, prefixRangeEnd, toBigInt, writeOnce } from '@coordkit/core';
import type { EtcdClient, WriteResult } from '../types.js';

/** How {@link writeEntries} guards and names its transaction. */
export interface WriteGuard {
  /** Commit only if no key under the prefix has a mod revision above this one. */
  readonly ifRevision?: bigint | undefined;
  /** Extra whole-key deletes in the same transaction (import's replace). */
  readonly deletes?: readonly string[];
  readonly signal?: AbortSignal | undefined;
  /** Names the operation in errors, e.g. `config "/app/": set`. */
  readonly what: string;
}

/**
 * Writes `path → stored text` entries (`undefined` deletes) under `prefix` in ONE transaction, so a
 * watcher sees them as one revision. With `ifRevision`, the transaction compares the mod revision of
 * the whole prefix range (`mod < ifRevision + 1`, which etcd evaluates over every key in the range) and
 * fails with `CONFLICT` when any key was put since. The write is sent at most once: a lost reply is
 * `UNKNOWN_OUTCOME`, never a blind re-send.
 */
export async function writeEntries(
  client: EtcdClient,
  prefix: string,
  entries: ReadonlyMap<string, string | undefined>,
  guard: WriteGuard,
): Promise<WriteResult> {
  const success = [...(guard.deletes ?? [])].map((path) => ops.delete(prefix + path));
  for (const [path, text] of entries) {
    success.push(text === undefined ? ops.delete(prefix + path) : ops.put(prefix + path, text));
  }
  const compare =
    guard.ifRevision === undefined
      ? []
      : [ops.modRevisionBelow(prefix, guard.ifRevision + 1n, prefixRangeEnd(Buffer.from(prefix)))];
  const response = await writeOnce(
    guard.what,
    () => client.kv.txn({ compare, success, failure: [] }),
    guard.signal,
    prefix,
  );
  if (!response.succeeded) {
    throw new CoordError(
      ErrorCodes.CONFLICT,
      `${guard.what}: a key under "${prefix}" changed after revision ${guard.ifRevision}; nothing was written`,
      { key: prefix, current: toBigInt(response.header.revision) },
    );
  }
  return { revision: toBigInt(response.header.revision) };
}
