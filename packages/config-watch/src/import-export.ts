import { assertArgument, CoordError, ErrorCodes, readPrefix } from '@coordkit/core';
import { assertPath, isPlainObject, normalizePrefix } from './internal/paths.js';
import { writeEntries } from './internal/write-entries.js';
import type { EtcdClient, WriteResult } from './types.js';

/** Options of {@link importConfig}. */
export interface ImportOptions {
  /**
   * Also delete every key under the prefix that `flat` does not name, so the prefix holds exactly
   * `flat` afterwards. Default false (keys not named are kept).
   */
  readonly replace?: boolean;
  /** Cancels the import while its write has not been sent. Default: none. */
  readonly signal?: AbortSignal;
}

/**
 * Reads every key under `prefix` at one revision as `path → stored text` (paths relative to the
 * prefix, values as stored, UTF-8), for {@link formatFlatFile} or {@link formatJsonFile}. Reads are
 * retried through transient failures; nothing is written.
 */
export async function exportConfig(client: EtcdClient, prefix: string): Promise<Record<string, string>> {
  const normalized = normalizePrefix(prefix);
  const snapshot = await readPrefix(client, normalized, `config "${normalized}": export`);
  return Object.fromEntries(
    snapshot.kvs.map((kv) => [kv.key.slice(normalized.length), kv.value.toString('utf8')]),
  );
}

/**
 * Writes `path → stored text` entries (as {@link parseFlatFile} or {@link parseJsonFile} return them,
 * stored verbatim) under `prefix` in ONE transaction, so watchers see the import as one change. With
 * `replace`, keys not named are deleted in that same transaction; the transaction is guarded by the
 * revision of the key listing, and re-read and retried when the prefix changed in between, so no key
 * put concurrently survives by accident. A lost reply is `UNKNOWN_OUTCOME` (never re-sent). The import
 * is not validated against any schema (watchers reject an invalid one and keep their last good config).
 */
export async function importConfig(
  client: EtcdClient,
  prefix: string,
  flat: Readonly<Record<string, string>>,
  options: ImportOptions = {},
): Promise<WriteResult> {
  const normalized = normalizePrefix(prefix);
  assertArgument(isPlainObject(flat), 'flat', 'a plain object of path → stored text');
  const entries = new Map<string, string>();
  for (const [path, text] of Object.entries(flat)) {
    assertPath(path, 'flat path');
    assertArgument(typeof text === 'string', `flat value of "${path}"`, 'a string');
    entries.set(path, text);
  }
  const what = `config "${normalized}": import`;
  if (!options.replace) {
    assertArgument(entries.size > 0, 'flat', 'at least one entry');
    return writeEntries(client, normalized, entries, { signal: options.signal, what });
  }
  for (;;) {
    // etcd refuses a txn that deletes a range and puts a key inside it ("duplicate key"), so the keys
    // to delete are listed first and the txn is guarded by that listing's revision.
    const listing = await readPrefix(client, normalized, `${what}: list`);
    const deletes = listing.kvs
      .map((kv) => kv.key.slice(normalized.length))
      .filter((path) => !entries.has(path));
    try {
      return await writeEntries(client, normalized, entries, {
        ifRevision: listing.revision,
        deletes,
        signal: options.signal,
        what,
      });
    } catch (err) {
      if (!CoordError.is(err, ErrorCodes.CONFLICT)) throw err;
      options.signal?.throwIfAborted();
    }
  }
}
