import {
  CoordError,
  type createClient,
  ErrorCodes,
  idempotent,
  readPrefix,
  toBigInt,
  toWire,
} from '@coordkit/core';
import type { TopicLayout } from './layout.js';

type EtcdClient = ReturnType<typeof createClient>;

/** A stored message key, before decoding. */
export interface StoredMessage {
  readonly key: string;
  readonly value: Buffer;
  /** The key's create revision: the revision the message was published at. */
  readonly revision: bigint;
}

/** Every retained message of a topic and its trim mark, read at one revision. */
export interface RetainedMessages {
  readonly revision: bigint;
  /** Messages at or below this revision may be gone (0n: nothing was ever trimmed). */
  readonly trimmedThrough: bigint;
  /** In publish order: by revision, then by key within a revision. */
  readonly messages: readonly StoredMessage[];
}

/** Reads the trim mark as of now. */
export async function readTrimmedThrough(
  client: EtcdClient,
  layout: TopicLayout,
  what: string,
): Promise<bigint> {
  const response = await idempotent(`${what}: read trim mark`, () =>
    client.kv.range({ key: Buffer.from(layout.trimmedKey) }),
  );
  return toBigInt(response.kvs[0]?.value.toString());
}

/**
 * Reads every retained message (paged) and the trim mark at the same revision, so that "nothing
 * above the mark is missing" holds for exactly this set: the basis of `'earliest'` and of recovery
 * after etcd compacted the history a watch needed (messages are keys, so compaction alone loses none).
 */
export async function readRetained(
  client: EtcdClient,
  layout: TopicLayout,
  what: string,
): Promise<RetainedMessages> {
  for (let attempt = 0; ; attempt++) {
    const snapshot = await readPrefix(client, layout.messagePrefix, `${what}: read retained messages`);
    let trimmedThrough: bigint;
    try {
      const mark = await idempotent(`${what}: read trim mark`, () =>
        client.kv.range({ key: Buffer.from(layout.trimmedKey), revision: toWire(snapshot.revision) }),
      );
      trimmedThrough = toBigInt(mark.kvs[0]?.value.toString());
    } catch (err) {
      // A compaction landing between the two reads: read both again at a newer revision.
      if (CoordError.is(err, ErrorCodes.COMPACTED) && attempt < 3) continue;
      throw err;
    }
    const messages = snapshot.kvs
      // Only first versions are messages; a key rewritten by hand is not published twice.
      .filter((kv) => kv.version === 1n)
      .map((kv) => ({ key: kv.key, value: kv.value, revision: kv.createRevision }))
      .sort((a, b) =>
        a.revision === b.revision ? (a.key < b.key ? -1 : 1) : a.revision < b.revision ? -1 : 1,
      );
    return { revision: snapshot.revision, trimmedThrough, messages };
  }
}

/** The `COMPACTED` error of a subscriber that asked for `wanted` when only revisions after `trimmedThrough` remain. */
export function lostHistory(what: string, wanted: bigint, firstAvailable: bigint): CoordError {
  return new CoordError(
    ErrorCodes.COMPACTED,
    `${what}: messages from revision ${wanted} are no longer retained (first available revision ${firstAvailable})`,
    { compactRevision: firstAvailable },
  );
}
