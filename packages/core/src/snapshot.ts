import type { Etcd3 } from 'etcd3';
import { type RangeSnapshot, readPrefix } from './read.js';
import { type Watch, watch } from './watch.js';

/** A consistent snapshot of a prefix and the watch of every change after it. */
export interface SnapshotAndWatch {
  readonly snapshot: RangeSnapshot;
  /** Changes after `snapshot.revision`, in order, none missed. */
  readonly changes: Watch;
}

/**
 * Reads every key under `prefix` at one revision (paged), then watches from that revision + 1, so
 * that state plus changes is exact: the basis of config-watch, discovery and election observers.
 * With `resync`, compaction re-reads instead of failing (the watch yields a `resync: true` batch).
 */
export async function snapshotThenWatch(
  client: Etcd3,
  prefix: string,
  options: { readonly signal?: AbortSignal; readonly resync?: boolean; readonly prevKv?: boolean } = {},
): Promise<SnapshotAndWatch> {
  const snapshot = await readPrefix(client, prefix, `snapshot "${prefix}"`);
  const changes = watch(
    client,
    { prefix },
    {
      fromRevision: snapshot.revision + 1n,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.resync ? { resync: true } : {}),
      ...(options.prevKv ? { prevKv: true } : {}),
    },
  );
  return { snapshot, changes };
}
