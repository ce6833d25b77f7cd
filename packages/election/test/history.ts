import { toBigInt, watch } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';

/** Every put of `key` since `fromRevision`, up to its current version, from etcd's history. */
export async function putsOf(
  client: Etcd3,
  key: string,
  fromRevision: bigint,
): Promise<Array<{ revision: bigint; value: string }>> {
  const puts: Array<{ revision: bigint; value: string }> = [];
  const current = await client.kv.range({ key: Buffer.from(key) });
  const lastModified = toBigInt(current.kvs[0]?.mod_revision);
  if (lastModified < fromRevision) return puts;
  const history = watch(client, { key }, { fromRevision });
  try {
    for await (const batch of history) {
      for (const event of batch.events) {
        if (event.type === 'put')
          puts.push({ revision: event.revision, value: event.value?.toString() ?? '' });
      }
      if (batch.revision >= lastModified) break;
    }
  } finally {
    history.close();
  }
  return puts;
}

/** One leadership state derived from etcd's own history: the oldest candidate key from `revision` on. */
export interface HistoryState {
  readonly revision: bigint;
  readonly leader:
    | { readonly key: string; readonly value: string; readonly fencingToken: bigint }
    | undefined;
}

/**
 * Replays etcd's history of the election prefix from `fromRevision` (when it had no candidate) until
 * `keyCount` candidate keys were created and every one deleted again, and derives who led at each
 * revision independently of `observe()`: every change of the oldest key, or of its value.
 */
export async function electionHistory(
  client: Etcd3,
  prefix: string,
  fromRevision: bigint,
  keyCount: number,
): Promise<HistoryState[]> {
  const live = new Map<string, { value: string; createRevision: bigint }>();
  const created = new Set<string>();
  const states: HistoryState[] = [{ revision: fromRevision, leader: undefined }];
  const history = watch(client, { prefix }, { fromRevision });
  try {
    for await (const batch of history) {
      for (const event of batch.events) {
        if (event.type === 'delete') live.delete(event.key);
        else {
          created.add(event.key);
          live.set(event.key, { value: event.value?.toString() ?? '', createRevision: event.createRevision });
        }
      }
      let oldest: HistoryState['leader'];
      for (const [key, kv] of live) {
        if (!oldest || kv.createRevision < oldest.fencingToken) {
          oldest = { key, value: kv.value, fencingToken: kv.createRevision };
        }
      }
      const last = states.at(-1)?.leader;
      if (
        oldest?.key !== last?.key ||
        oldest?.fencingToken !== last?.fencingToken ||
        oldest?.value !== last?.value
      ) {
        states.push({ revision: batch.revision, leader: oldest });
      }
      if (created.size >= keyCount && live.size === 0) break;
    }
  } finally {
    history.close();
  }
  return states;
}

/** The leader etcd's history says held office at `revision`. */
export function historyLeaderAt(states: readonly HistoryState[], revision: bigint): HistoryState['leader'] {
  let leader: HistoryState['leader'];
  for (const state of states) {
    if (state.revision > revision) break;
    leader = state.leader;
  }
  return leader;
}

/** The current revision of the store. */
export async function currentRevision(client: Etcd3): Promise<bigint> {
  const response = await client.kv.range({ key: Buffer.from('\0'), count_only: true });
  return toBigInt(response.header.revision);
}
