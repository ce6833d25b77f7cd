import { CoordError, type WatchBatch, type WatchEvent } from '@coordkit/core';
import { decodeMessage, type Message } from '../message.js';
import type { StoredMessage } from './history.js';

/**
 * A message ready to hand out: the iterator result itself is built (and frozen) once per process, so
 * handing a message to each of 1,000 subscriptions allocates nothing per subscription.
 */
export type Delivery = IteratorYieldResult<Message<unknown>>;

/** One revision's messages, decoded once and shared read-only by every subscription that receives it. */
export interface DecodedBatch {
  readonly revision: bigint;
  /**
   * Every message key the revision created, in key order (publish order within the revision): the
   * message, or the `DECODE_FAILED` error of a value that is not JSON. Empty for a revision that
   * created no message (a trim's deletes), which still moves a subscription's position.
   */
  readonly entries: readonly (Delivery | CoordError)[];
}

function decodeEntry(key: string, value: Buffer, revision: bigint, index: number): Delivery | CoordError {
  try {
    return Object.freeze({ value: decodeMessage(key, value, revision, index), done: false as const });
  } catch (err) {
    if (err instanceof CoordError) return err;
    throw err;
  }
}

/** A message is a key's first version; trim deletes and keys rewritten later (a re-sent publish) are not. */
function isMessage(event: WatchEvent): boolean {
  return event.type === 'put' && event.version === 1n && event.value !== undefined;
}

/** Decodes one watch batch (one etcd revision). */
export function decodeWatchBatch(batch: WatchBatch): DecodedBatch {
  const events = batch.events;
  // The common case is one publish per revision: no filtered copy, no sort.
  const created =
    events.length === 1
      ? isMessage(events[0]!)
        ? events
        : []
      : events.filter(isMessage).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const entries = created.map((event, index) => decodeEntry(event.key, event.value!, batch.revision, index));
  return { revision: batch.revision, entries };
}

/** Decodes stored messages (in publish order) into one batch per revision. */
export function decodeStored(messages: readonly StoredMessage[]): DecodedBatch[] {
  const batches: DecodedBatch[] = [];
  let entries: (Delivery | CoordError)[] = [];
  for (let i = 0; i < messages.length; i++) {
    const message = messages[i]!;
    entries.push(decodeEntry(message.key, message.value, message.revision, entries.length));
    if (messages[i + 1]?.revision !== message.revision) {
      batches.push({ revision: message.revision, entries });
      entries = [];
    }
  }
  return batches;
}
