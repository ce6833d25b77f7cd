import {
  idempotent,
  idempotentWrite,
  ops,
  readPrefix,
  type Session,
  toBigInt,
  toKeyValue,
} from '@coordkit/core';
import type { DeadLetter, QueueStats } from '../options.js';
import type { QueueLayout } from './layout.js';
import { type DeadRecord, decode, encode, type IndexEntry, type JobRecord } from './records.js';

/** Gets per transaction when reading job records for the dead letters (under etcd's 128-op limit). */
const GETS_PER_TXN = 100;

/** Counts every part of the queue in one read-only transaction, so the numbers are of one revision. */
export async function readStats(session: Session, layout: QueueLayout): Promise<QueueStats> {
  const response = await idempotent(`queue "${layout.root}": stats`, () =>
    session.client.kv.txn({
      compare: [],
      success: [
        ops.range(layout.ready, { countOnly: true }),
        ops.range(layout.delayed, { countOnly: true }),
        // Records and their claims share the prefix; only records (no "/claim" suffix) are counted.
        ops.range(layout.inflight, { keysOnly: true }),
        ops.range(layout.dead, { countOnly: true }),
      ],
      failure: [],
    }),
  );
  const count = (i: number) => Number(response.responses[i]?.response_range?.count ?? 0);
  const inflightKeys = response.responses[2]?.response_range?.kvs ?? [];
  return {
    ready: count(0),
    delayed: count(1),
    inflight: inflightKeys.filter((kv) => layout.parseInflight(kv.key.toString())?.isClaim === false).length,
    dead: count(3),
    revision: toBigInt(response.header.revision),
  };
}

/** Lists the dead-letter set with each job's payload (read in batches of gets, not one by one). */
export async function listDeadLetters<T>(session: Session, layout: QueueLayout): Promise<DeadLetter<T>[]> {
  const dead = await readPrefix(session.client, layout.dead, `queue "${layout.root}": dead letters`);
  const letters: DeadLetter<T>[] = [];
  for (let start = 0; start < dead.kvs.length; start += GETS_PER_TXN) {
    const slice = dead.kvs.slice(start, start + GETS_PER_TXN);
    const records = slice.map((kv) => decode<DeadRecord>(kv.value, kv.key));
    const response = await idempotent(`queue "${layout.root}": dead letters`, () =>
      session.client.kv.txn({
        compare: [],
        success: records.map((r) => ops.get(layout.job(r.id))),
        failure: [],
      }),
    );
    records.forEach((record, i) => {
      const raw = response.responses[i]?.response_range?.kvs[0];
      const job = raw ? decode<JobRecord>(raw.value, layout.job(record.id)) : undefined;
      letters.push({
        id: record.id,
        data: job?.data as T | undefined,
        attempt: record.attempt,
        priority: record.priority,
        lastError: record.lastError,
        diedAt: record.diedAt,
      });
    });
  }
  return letters;
}

/**
 * Moves dead jobs (one, or all) back to the ready index at their original place, with their attempt
 * count reset, each in a transaction guarded by its dead key. Returns how many were moved.
 */
export async function redriveDead(session: Session, layout: QueueLayout, id?: string): Promise<number> {
  const kvs =
    id === undefined
      ? (await readPrefix(session.client, layout.dead, `queue "${layout.root}": redrive`)).kvs
      : (
          await idempotent(`queue "${layout.root}": redrive ${id}`, () =>
            session.client.kv.range({ key: Buffer.from(layout.deadKey(id)) }),
          )
        ).kvs.map(toKeyValue);
  let moved = 0;
  for (const kv of kvs) {
    const dead = decode<DeadRecord>(kv.value, kv.key);
    const entry: IndexEntry = {
      id: dead.id,
      attempt: 0,
      priority: dead.priority,
      seq: dead.seq,
      lastError: dead.lastError,
    };
    const response = await idempotentWrite(`queue "${layout.root}": redrive ${dead.id}`, () =>
      session.client.kv.txn({
        compare: [ops.createRevisionIs(kv.key, kv.createRevision)],
        success: [ops.delete(kv.key), ops.put(layout.readyKey(dead.priority, dead.seq), encode(entry))],
        failure: [],
      }),
    );
    if (response.succeeded) moved++;
  }
  return moved;
}
