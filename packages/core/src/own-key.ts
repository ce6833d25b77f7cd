import { CoordError, ErrorCodes } from './errors.js';
import { idempotent } from './internal/rpc.js';
import { toBigInt } from './revision.js';
import type { Session } from './session.js';
import { watch } from './watch.js';

/** How an owned key stopped being the session's. */
export type OwnKeyLoss =
  /** Deleted: released elsewhere, its lease ended, or removed by an operator. */
  | 'deleted'
  /** Written under another lease (or none): someone else took the key over. */
  | 'replaced'
  /** The watch failed (closed client, history compacted with no proof the key is unchanged). */
  | 'untracked';

/**
 * Calls `onGone` once when `key` is deleted, or rewritten under another lease than the session's,
 * after `fromRevision`: how a handle learns, by push, that its lock, leadership, claim or
 * registration is lost. With `createRevision`, a compaction is survived by re-reading the key.
 * Returns a function that stops watching (after which `onGone` is never called).
 */
export function watchOwnKey(
  session: Session,
  key: string,
  fromRevision: bigint,
  onGone: (why: string, cause: OwnKeyLoss, error?: unknown) => void,
  createRevision?: bigint,
): () => void {
  let current = watch(session.client, { key }, { fromRevision });
  let stopped = false;
  void (async () => {
    for (;;) {
      try {
        for await (const batch of current) {
          for (const event of batch.events) {
            if (event.type === 'delete') {
              onGone(`key ${key} was deleted at revision ${batch.revision}`, 'deleted');
              return;
            }
            if (event.lease !== session.leaseId) {
              onGone(`key ${key} was written under another lease at revision ${batch.revision}`, 'replaced');
              return;
            }
          }
        }
        return;
      } catch (err) {
        // History compacted since `fromRevision` (a handle watched late): a read tells whether the key is
        // still the same one; if so, watch on from there instead of declaring a loss that did not happen.
        if (createRevision !== undefined && CoordError.is(err, ErrorCodes.COMPACTED) && !stopped) {
          try {
            const response = await idempotent(`watch own key ${key}`, () =>
              session.client.kv.range({ key: Buffer.from(key) }),
            );
            const kv = response.kvs[0];
            if (kv && toBigInt(kv.create_revision) === createRevision && !stopped) {
              current = watch(
                session.client,
                { key },
                { fromRevision: toBigInt(response.header.revision) + 1n },
              );
              continue;
            }
          } catch {
            // Fall through: ownership cannot be vouched for.
          }
        }
        // Unable to keep watching (closed client, no proof the key is still ours).
        if (!stopped) {
          onGone(
            `lost track of key ${key}: ${err instanceof Error ? err.message : String(err)}`,
            'untracked',
            err,
          );
        }
        return;
      }
    }
  })();
  return () => {
    stopped = true;
    current.close();
  };
}
