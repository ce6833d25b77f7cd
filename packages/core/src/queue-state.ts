import type { IKeyValue } from 'etcd3';
import { idempotent } from './internal/rpc.js';
import { toBigInt, toWire } from './revision.js';
import type { Session } from './session.js';
import { ops, rangeRequest } from './txn.js';
import { keyLostError } from './waiting-cleanup.js';

/**
 * Who is ahead of a waiter's key: the queue membership rule, and the one-transaction read of what
 * stands ahead right now (used after a join and after each wake of the waiting engine).
 */

/** A key ahead in line. */
export interface QueuedKey {
  readonly key: string;
  readonly createRevision: bigint;
}

/** Decides from a key's remainder after the queue prefix whether it is an entry of this queue. */
export type QueueMembership = (relativeKey: string) => boolean;

/**
 * The default membership rule: only keys directly under the prefix (no further `/`) are entries.
 * etcd's Go layout puts a lock `jobs` at `jobs/<lease>` and a lock `jobs/x` at `jobs/x/<lease>`, inside
 * the first one's prefix; without this rule the two would queue behind each other.
 */
export const isDirectChild: QueueMembership = (relativeKey) =>
  relativeKey.length > 0 && !relativeKey.includes('/');

/** The test for "is this key an entry of the queue under `prefix`", from a membership rule. */
export function membershipOf(
  prefix: string,
  isQueued: QueueMembership | undefined,
): (key: string) => boolean {
  const rule = isQueued ?? isDirectChild;
  return (key) => key.startsWith(prefix) && rule(key.slice(prefix.length));
}

/** The newest queued key older than mine in a range response, and whether the answer is certain. */
export function lastBefore(
  kvs: readonly IKeyValue[],
  mine: string,
  myRevision: bigint,
  isMember: (key: string) => boolean,
): { readonly predecessor: QueuedKey | undefined; readonly certain: boolean } {
  let skipped = false;
  for (const raw of kvs) {
    // Only the two fields needed, not a whole KeyValue: this runs on every join, the hot path of a lock.
    const key = raw.key.toString();
    const createRevision = toBigInt(raw.create_revision);
    if (key === mine || createRevision >= myRevision) continue;
    if (!isMember(key)) {
      skipped = true;
      continue;
    }
    return { predecessor: { key, createRevision }, certain: true };
  }
  // Keys of another primitive nested under the prefix filled the page: look further before deciding.
  return { predecessor: undefined, certain: !skipped };
}

export interface QueueState {
  readonly revision: bigint;
  readonly predecessor: QueuedKey | undefined;
  readonly ahead: number;
  /** See {@link QueueTicket.soleAhead}. */
  readonly soleAhead: boolean;
}

/** Reads, in one transaction, that my key still stands and what is ahead of it now. */
export async function readQueueState(
  session: Session,
  key: string,
  createRevision: bigint,
  predecessorPrefix: string,
  options: {
    readonly what: string;
    readonly countAhead?: boolean;
    readonly isQueued?: QueueMembership | undefined;
    readonly signal?: AbortSignal;
  },
): Promise<QueueState> {
  const before = createRevision - 1n;
  const isMember = membershipOf(predecessorPrefix, options.isQueued);
  const response = await idempotent(
    `${options.what}: read queue`,
    () =>
      session.client.kv.txn({
        compare: [],
        success: [
          ops.get(key),
          // etcd 3.4 ignores max_create_revision on a count_only range, so count the keys themselves.
          options.countAhead
            ? ops.range(predecessorPrefix, { keysOnly: true, maxCreateRevision: before })
            : ops.range(predecessorPrefix, {
                order: 'newest-first',
                limit: PAGE,
                maxCreateRevision: before,
                keysOnly: true,
              }),
        ],
        failure: [],
      }),
    options.signal,
    key,
  );
  const mineRaw = response.responses[0]?.response_range?.kvs[0];
  if (!mineRaw || toBigInt(mineRaw.create_revision) !== createRevision) {
    throw keyLostError(session, options.what, key);
  }
  const revision = toBigInt(response.header.revision);
  const kvs = response.responses[1]?.response_range?.kvs ?? [];
  if (options.countAhead) {
    return {
      revision,
      predecessor: undefined,
      ahead: kvs.filter((kv) => isMember(kv.key.toString())).length,
      soleAhead: false,
    };
  }
  let found = lastBefore(kvs, key, createRevision, isMember);
  // A page that is not full holds every key older than mine (etcd filters by max create revision
  // before it applies the limit): exactly one means the predecessor stands alone.
  const soleAhead =
    found.predecessor !== undefined &&
    kvs.length < PAGE &&
    kvs.filter((kv) => toBigInt(kv.create_revision) < createRevision).length === 1;
  let page = kvs;
  // Only when keys of another primitive nested under the prefix fill whole pages: page further back,
  // at the same revision, so the answer stays one consistent view.
  while (!found.certain && page.length === PAGE) {
    const oldest = toBigInt(page[page.length - 1]!.create_revision);
    const more = await idempotent(
      `${options.what}: read queue`,
      () =>
        session.client.kv.range({
          ...rangeRequest(predecessorPrefix, {
            order: 'newest-first',
            limit: PAGE,
            maxCreateRevision: oldest - 1n,
            keysOnly: true,
          }),
          revision: toWire(revision),
        }),
      options.signal,
      key,
    );
    page = more.kvs;
    found = lastBefore(page, key, createRevision, isMember);
  }
  return { revision, predecessor: found.predecessor, ahead: 0, soleAhead };
}

/** Keys read per page when looking for the key just ahead. */
const PAGE = 16;
