import {
  assertArgument,
  CoordError,
  ErrorCodes,
  idempotentWrite,
  ops,
  type Session,
  toBigInt,
  toKeyValue,
} from '@coordkit/core';
import { nanoid } from 'nanoid';
import type { BatchItem, Enqueued } from '../options.js';
import { MAX_PRIORITY, MIN_PRIORITY, nextSequence, type QueueLayout, validateJobId } from './layout.js';
import type { MarkerLease } from './marker-lease.js';
import { encode, type IndexEntry, type JobRecord } from './records.js';

/** etcd's default `--max-txn-ops` is 128 and each job takes three puts (record, index, marker). */
export const MAX_BATCH = 42;

interface Prepared {
  readonly id: string;
  readonly jobKey: string;
  readonly markerKey: string;
  readonly writes: ReturnType<typeof ops.put>[];
}

/** Validates every item and builds its writes before anything is sent (INVALID_ARGUMENT names the item). */
function prepare<T>(layout: QueueLayout, item: BatchItem<T>, what: string): Prepared {
  const priority = item.priority ?? 0;
  const delay = item.delay ?? 0;
  assertArgument(
    Number.isInteger(priority) && priority >= MIN_PRIORITY && priority <= MAX_PRIORITY,
    `${what}.priority`,
    `an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`,
  );
  assertArgument(
    Number.isFinite(delay) && delay >= 0,
    `${what}.delay`,
    'a finite number of milliseconds >= 0',
  );
  const id = item.id === undefined ? nanoid() : validateJobId(item.id, `${what}.id`);
  let payload: string | undefined;
  try {
    payload = JSON.stringify(item.data);
  } catch (err) {
    throw new CoordError(ErrorCodes.INVALID_ARGUMENT, `invalid ${what}.data: not JSON-serialisable`, {
      cause: err,
    });
  }
  assertArgument(payload !== undefined, `${what}.data`, 'a JSON-serialisable value (not undefined)');
  // The sequence is taken at call time, so one producer's jobs keep its call order whatever the RPCs do.
  const seq = nextSequence(id);
  const enqueuedAt = Date.now();
  const record: JobRecord = { data: item.data, priority, seq, enqueuedAt };
  const entry: IndexEntry = { id, attempt: 0, priority, seq };
  const indexKey = delay > 0 ? layout.delayedKey(enqueuedAt + delay, id) : layout.readyKey(priority, seq);
  return {
    id,
    jobKey: layout.job(id),
    markerKey: layout.enqueuedMarker(id),
    writes: [ops.put(layout.job(id), encode(record)), ops.put(indexKey, encode(entry))],
  };
}

/**
 * Enqueues jobs in one transaction guarded by "no job record and no enqueue marker with this id"
 * for each, so an id already present is not queued twice and a retry after a lost reply finds its
 * own first attempt (F12). If some ids exist, the others are written by a second transaction.
 *
 * The marker (`enqueued/<id>`, on a lease that is not kept alive, 1 to 2 minutes) is there for the
 * request that is not lost but late: sent to a member that was paused mid-request, it can still be
 * applied after its retry succeeded and the job was acked. "No job record" alone would then let it
 * queue the job a second time (found by the chaos soak); the marker makes it fail its compare.
 */
export async function enqueueJobs<T>(
  session: Session,
  layout: QueueLayout,
  items: readonly BatchItem<T>[],
  argument: (index: number) => string,
  markers: MarkerLease,
): Promise<Enqueued[]> {
  assertArgument(items.length <= MAX_BATCH, 'items', `at most ${MAX_BATCH} jobs per batch`);
  const prepared = items.map((item, index) => prepare(layout, item, argument(index)));
  const ids = new Set<string>();
  for (const [index, job] of prepared.entries()) {
    assertArgument(!ids.has(job.id), `${argument(index)}.id`, 'unique within the batch');
    ids.add(job.id);
  }
  const results = new Map<string, Enqueued>();
  let pending = prepared;
  const markerLease = await markers.current();
  while (pending.length > 0) {
    const batch = pending;
    const response = await idempotentWrite(`queue "${layout.root}": enqueue ${batch.length} job(s)`, () =>
      session.client.kv.txn({
        compare: batch.flatMap((job) => [
          ops.createRevisionIs(job.jobKey, 0n),
          ops.createRevisionIs(job.markerKey, 0n),
        ]),
        success: batch.flatMap((job) => [...job.writes, ops.put(job.markerKey, '', markerLease)]),
        failure: batch.flatMap((job) => [ops.get(job.jobKey), ops.get(job.markerKey)]),
      }),
    );
    const revision = toBigInt(response.header.revision);
    if (response.succeeded) {
      for (const job of batch) results.set(job.id, { id: job.id, revision, duplicate: false });
      break;
    }
    pending = [];
    batch.forEach((job, index) => {
      const existing =
        response.responses[2 * index]?.response_range?.kvs[0] ??
        response.responses[2 * index + 1]?.response_range?.kvs[0];
      if (existing) {
        results.set(job.id, { id: job.id, revision: toKeyValue(existing).createRevision, duplicate: true });
      } else {
        pending.push(job);
      }
    });
  }
  return prepared.map((job) => results.get(job.id)!);
}
