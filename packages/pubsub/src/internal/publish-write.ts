import { CoordError, ErrorCodes, type EtcdClient, idempotentWrite, ops, toBigInt } from '@coordkit/core';
import type { TopicLayout } from './layout.js';

/** A compare of a transaction (etcd3's, through core). */
type Compare = ReturnType<typeof ops.modRevisionBelow>;

/** One publish: its fresh keys (one per message, in order) and their encoded values. */
export interface PublishWrite {
  readonly keys: readonly string[];
  readonly values: readonly Buffer[];
  /** Names the publish in errors. */
  readonly what: string;
  /**
   * A revision below the one this publish can land at (the revision of an earlier publish of the
   * same topic object; 0n when there was none): a trim mark not moved past it means nothing of this
   * publish can have been trimmed yet.
   */
  readonly sentAfter: bigint;
}

/**
 * Writes a publish and resolves with its messages' revision, exactly once.
 *
 * The first attempt is one round trip: a plain put of the fresh key for one message (etcd serves a
 * put faster than a transaction), or a transaction guarded by the first key's absence for a batch.
 * A re-send (the reply was lost) must not publish twice. So it is a transaction that creates the keys
 * only if the first key is absent *and* the topic's trim mark has not moved since `sentAfter`.
 * - The key is there: the first attempt landed, at its create revision.
 * - The key is absent and no trim ran since: the first attempt never landed, and the re-send
 *   publishes. A first attempt that still lands later rewrites the key with the same value, which
 *   subscribers do not count as a message (a message is a key's creation).
 * - The key is absent and a trim ran: the first attempt may have landed and been trimmed
 *   (`maxMessages: 1` makes that easy). Re-creating it would deliver it twice, so this fails with
 *   UNKNOWN_OUTCOME (published at most once).
 */
export async function writeMessages(
  client: EtcdClient,
  layout: TopicLayout,
  write: PublishWrite,
): Promise<bigint> {
  const first = write.keys[0]!;
  let attempts = 0;
  const revision = await idempotentWrite(
    write.what,
    () => (attempts++ === 0 ? firstAttempt(client, write) : resend(client, layout, write)),
    undefined,
    first,
  );
  if (revision === undefined) {
    throw new CoordError(
      ErrorCodes.UNKNOWN_OUTCOME,
      `${write.what}: the reply was lost and the topic was trimmed since, so the message may have been published and trimmed already; it is not re-sent (published at most once)`,
      { key: first },
    );
  }
  return revision;
}

async function firstAttempt(client: EtcdClient, write: PublishWrite): Promise<bigint> {
  const first = write.keys[0]!;
  if (write.keys.length === 1) {
    const response = await client.kv.put({ key: Buffer.from(first), value: write.values[0]!, prev_kv: true });
    return response.prev_kv ? toBigInt(response.prev_kv.create_revision) : toBigInt(response.header.revision);
  }
  const revision = await createIfAbsent(client, write, []);
  if (revision === undefined)
    throw new CoordError(ErrorCodes.INTERNAL, `${write.what}: key ${first} vanished`, { key: first });
  return revision;
}

/** A re-send: the revision of the messages, or `undefined` when they may have been trimmed. */
function resend(client: EtcdClient, layout: TopicLayout, write: PublishWrite): Promise<bigint | undefined> {
  return createIfAbsent(client, write, [ops.modRevisionBelow(layout.trimmedKey, write.sentAfter + 1n)]);
}

/**
 * One transaction that creates every key if the first is absent and `also` holds: the revision it
 * committed at, else the first key's create revision, else `undefined` (absent, and `also` failed).
 */
async function createIfAbsent(
  client: EtcdClient,
  write: PublishWrite,
  also: readonly Compare[],
): Promise<bigint | undefined> {
  const first = write.keys[0]!;
  const response = await client.kv.txn({
    compare: [ops.createRevisionIs(first, 0n), ...also],
    success: write.keys.map((key, i) => ops.put(key, write.values[i]!)),
    failure: [ops.get(first)],
  });
  if (response.succeeded) return toBigInt(response.header.revision);
  const revision = toBigInt(response.responses[0]?.response_range?.kvs[0]?.create_revision);
  return revision === 0n ? undefined : revision;
}
