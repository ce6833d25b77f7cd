import { CoordError, ErrorCodes, type EtcdClient, idempotent, readRange, toBigInt } from '@coordkit/core';
import type { TopicLayout } from './layout.js';

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
 * A revision at least as new as every write that completed before the call (a linearizable read of
 * one small key; only its header is used).
 */
export async function readCurrentRevision(
  client: EtcdClient,
  layout: TopicLayout,
  what: string,
): Promise<bigint> {
  const response = await idempotent(`${what}: read current revision`, () =>
    client.kv.range({ key: Buffer.from(layout.trimmedKey), count_only: true }),
  );
  return toBigInt(response.header.revision);
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
  // One paged read at one revision covers both: `<name>/msg/…` sorts right before `<name>/trimmed`
  // and nothing of the topic's layout sorts between them, so the range [msg/, trimmed] is exactly
  // the messages plus the mark.
  const snapshot = await readRange(
    client,
    { key: Buffer.from(layout.messagePrefix), rangeEnd: Buffer.from(`${layout.trimmedKey}\0`) },
    `${what}: read retained messages`,
  );
  const mark = snapshot.kvs.find((kv) => kv.key === layout.trimmedKey);
  const messages = snapshot.kvs
    // A message is its key's creation: a key written again (a publish re-sent after a lost reply, or
    // by hand) still counts once, at its create revision, as the live stream counted it.
    .filter((kv) => kv.key.startsWith(layout.messagePrefix))
    .map((kv) => ({ key: kv.key, value: kv.value, revision: kv.createRevision }))
    .sort((a, b) =>
      a.revision === b.revision ? (a.key < b.key ? -1 : 1) : a.revision < b.revision ? -1 : 1,
    );
  return { revision: snapshot.revision, trimmedThrough: toBigInt(mark?.value.toString()), messages };
}

/** The `COMPACTED` error of a subscriber that asked for `wanted` when only revisions after `trimmedThrough` remain. */
export function lostHistory(what: string, wanted: bigint, firstAvailable: bigint): CoordError {
  return new CoordError(
    ErrorCodes.COMPACTED,
    `${what}: messages from revision ${wanted} are no longer retained (first available revision ${firstAvailable})`,
    { compactRevision: firstAvailable },
  );
}
