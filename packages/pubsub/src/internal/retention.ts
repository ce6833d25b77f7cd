import { type EtcdClient, idempotent, ops, rangeRequest, toBigInt } from '@coordkit/core';
import type { TopicLayout } from './layout.js';

/** Resolved retention limits (see `RetentionOptions`). */
export interface RetentionLimits {
  readonly maxMessages: number;
  readonly maxAgeMs: number;
}

// etcd refuses transactions with more than 128 operations (--max-txn-ops); one slot is the trim mark.
const DELETES_PER_TXN = 100;
// Bounds the work one trim call does, so a publisher never stalls on a huge backlog.
const MAX_ROUNDS = 50;

/**
 * Deletes the oldest messages beyond the limits, oldest first by revision, at most
 * {@link DELETES_PER_TXN} per transaction. Each transaction also raises the trim mark to the newest
 * deleted revision, and is guarded by the mark's mod revision, so two publishers trimming at once
 * cannot move the mark backwards (the loser just reads again). Returns how many messages were deleted.
 */
export async function trimMessages(
  client: EtcdClient,
  layout: TopicLayout,
  limits: RetentionLimits,
  what: string,
): Promise<number> {
  if (!(await mayNeedTrim(client, layout, limits, what))) return 0;
  let deleted = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const read = await idempotent(`${what}: read for trim`, () =>
      client.kv.txn({
        compare: [],
        success: [
          ops.range(layout.messagePrefix, { countOnly: true }),
          ops.range(layout.messagePrefix, { order: 'oldest-first', limit: DELETES_PER_TXN, keysOnly: true }),
          ops.get(layout.trimmedKey),
        ],
        failure: [],
      }),
    );
    const count = Number(read.responses[0]?.response_range?.count ?? 0);
    const oldest = read.responses[1]?.response_range?.kvs ?? [];
    const mark = read.responses[2]?.response_range?.kvs[0];
    const markModRevision = toBigInt(mark?.mod_revision);
    const trimmedThrough = toBigInt(mark?.value.toString());
    const now = Date.now();
    // Victims are always a prefix of the oldest messages, so "nothing above the mark is missing" holds.
    let victims = Math.min(oldest.length, Math.max(0, count - limits.maxMessages));
    while (victims < oldest.length) {
      const publishedAt = layout.publishedAt(oldest[victims]!.key.toString());
      if (publishedAt === undefined || now - publishedAt <= limits.maxAgeMs) break;
      victims++;
    }
    if (victims === 0) return deleted;
    const doomed = oldest.slice(0, victims);
    let through = trimmedThrough;
    for (const kv of doomed) {
      const revision = toBigInt(kv.create_revision);
      if (revision > through) through = revision;
    }
    const result = await idempotent(`${what}: trim`, () =>
      client.kv.txn({
        compare: [ops.modRevisionIs(layout.trimmedKey, markModRevision)],
        success: [
          ...doomed.map((kv) => ops.delete(kv.key.toString())),
          ops.put(layout.trimmedKey, through.toString(10)),
        ],
        failure: [],
      }),
    );
    if (result.succeeded) deleted += victims;
    else if (!result.succeeded && round > 5) return deleted;
    if (result.succeeded && victims < DELETES_PER_TXN) return deleted;
  }
  return deleted;
}

/**
 * Whether there can be anything to trim. Without an age limit that is only when the topic holds more
 * than `maxMessages`, which a count answers from etcd's index alone; the read that finds the oldest
 * messages sorts by create revision, for which etcd 3.4 loads every message of the topic, so it is
 * left for when it is needed (publishers run this every `trimEvery` publishes).
 */
async function mayNeedTrim(
  client: EtcdClient,
  layout: TopicLayout,
  limits: RetentionLimits,
  what: string,
): Promise<boolean> {
  if (Number.isFinite(limits.maxAgeMs)) return true;
  const response = await idempotent(`${what}: count for trim`, () =>
    client.kv.range(rangeRequest(layout.messagePrefix, { countOnly: true })),
  );
  return Number(response.count) > limits.maxMessages;
}
