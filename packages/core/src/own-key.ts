import { CoordError, ErrorCodes } from './errors.js';
import { idempotent } from './internal/rpc.js';
import { toBigInt } from './revision.js';
import type { Session } from './session.js';
import { watch } from './watch.js';

/**
 * Calls `onGone` once when `key` (with the given create revision) is deleted or replaced after
 * `fromRevision`: how a handle learns, by push, that its lock, leadership or claim is lost.
 * Returns a function that stops watching.
 */
export function watchOwnKey(
  session: Session,
  key: string,
  fromRevision: bigint,
  onGone: (why: string) => void,
  createRevision?: bigint,
): () => void {
  let current = watch(session.client, { key }, { fromRevision });
  let stopped = false;
  void (async () => {
    for (;;) {
      try {
        for await (const batch of current) {
          if (batch.events.some((event) => event.type === 'delete')) {
            onGone(`key ${key} was deleted at revision ${batch.revision}`);
            return;
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
        if (!stopped) onGone(`lost track of key ${key}: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
    }
  })();
  return () => {
    stopped = true;
    current.close();
  };
}
