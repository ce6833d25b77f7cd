import { CoordError, ops, type Session } from '@coordkit/core';
import type { QueueLayout } from './layout.js';
import { type DeadRecord, encode } from './records.js';

/**
 * Moves an index key the queue cannot decode (written by hand, or by something else) to the
 * dead-letter set, so that one bad key never stops consumers. Guarded by the key's mod revision,
 * so a key rewritten meanwhile is left alone; best effort, never throws.
 */
export async function setAsideUndecodable(
  session: Session,
  layout: QueueLayout,
  key: string,
  modRevision: bigint,
  value: Buffer,
  error: unknown,
): Promise<void> {
  const id = `undecodable-${Buffer.from(key).toString('base64url')}`.slice(0, 200);
  const dead: DeadRecord & { readonly raw: string; readonly key: string } = {
    id,
    attempt: 0,
    priority: 0,
    seq: '',
    lastError: error instanceof CoordError ? error.message : String(error),
    diedAt: Date.now(),
    key,
    raw: value.toString('base64'),
  };
  try {
    await session.client.kv.txn({
      compare: [ops.modRevisionIs(key, modRevision)],
      success: [ops.delete(key), ops.put(layout.deadKey(id), encode(dead))],
      failure: [],
    });
  } catch {
    // Best effort: the next read finds the key again and retries.
  }
}
