import type { Etcd3 } from 'etcd3';
import { toBigInt } from '../revision.js';

/**
 * F21: a cluster restored from an older snapshot (or a single member restarted on old data) goes
 * back in revisions, and new writes then reuse revision numbers with other contents. Locks held and
 * watch positions taken before the rollback mean nothing after it.
 *
 * Each client keeps the highest revision it has seen (every one was committed). A lower revision
 * in a later answer is only a suspicion, since a lagging member answers with its own applied
 * revision, so it is confirmed with a linearizable read: etcd serves one only after applying
 * everything committed before the read began, so a revision below one already seen proves the
 * history is gone. Then every session and watch of the client is told, once.
 */
interface RollbackState {
  max: bigint;
  checking: boolean;
  readonly listeners: Set<(seen: bigint) => void>;
}

const states = new WeakMap<Etcd3, RollbackState>();

function stateOf(client: Etcd3): RollbackState {
  let state = states.get(client);
  if (!state) {
    state = { max: 0n, checking: false, listeners: new Set() };
    states.set(client, state);
  }
  return state;
}

/** Records a revision from an answer; a lower one than seen before starts a confirmation. */
export function noteRevision(client: Etcd3, revision: bigint): void {
  const state = stateOf(client);
  if (revision >= state.max) state.max = revision;
  else if (revision > 0n) void confirmRollback(client);
}

/**
 * Records the revision of a delivered watch event: it only raises the highest revision seen. An
 * event's revision is below answers already seen whenever the watch runs behind the writes (16
 * consumers of a busy queue: most batches), so treating it as a suspicion would send a read per
 * batch for nothing. A real rollback breaks the watch stream (the member restarted on old data) and
 * is caught when the watch is re-created below what it delivered, or by the session's next answer.
 */
export function raiseRevision(client: Etcd3, revision: bigint): void {
  const state = stateOf(client);
  if (revision > state.max) state.max = revision;
}

/** Checks, with one linearizable read, whether the cluster is now below the highest revision seen. */
export async function confirmRollback(client: Etcd3): Promise<void> {
  const state = stateOf(client);
  if (state.checking || state.max === 0n) return;
  state.checking = true;
  try {
    const seen = state.max;
    const response = await client.kv.range({ key: Buffer.from([0]), limit: 1 });
    const current = toBigInt(response.header.revision);
    if (current >= seen) return;
    // Report the rollback once, then follow the new history from where it now stands.
    state.max = current;
    for (const listener of [...state.listeners]) listener(seen);
  } catch {
    // No proof, no verdict: a failed read declares nothing.
  } finally {
    state.checking = false;
  }
}

/** Calls `listener` with the highest revision seen before, when a rollback is proven. Returns an unsubscribe. */
export function onRollback(client: Etcd3, listener: (seen: bigint) => void): () => void {
  const state = stateOf(client);
  state.listeners.add(listener);
  return () => state.listeners.delete(listener);
}
