import { CoordError, ErrorCodes } from '@coordkit/core';

/** `jobs/<id>`: the job's payload, written once at enqueue, never leased, deleted by `ack`. */
export interface JobRecord {
  readonly data: unknown;
  readonly priority: number;
  /** The job's place in line for life: a retried, recovered or redriven job goes back to it. */
  readonly seq: string;
  /** Epoch ms of the enqueue. */
  readonly enqueuedAt: number;
}

/** Value of a `ready/` or `delayed/` index key: where the job is in its life. */
export interface IndexEntry {
  readonly id: string;
  /** Deliveries so far (0 before the first). */
  readonly attempt: number;
  readonly priority: number;
  readonly seq: string;
  readonly lastError?: string;
}

/** `inflight/<id>`: the durable trace of a delivery, so a job whose claim vanished can be found. */
export interface InflightRecord extends IndexEntry {
  /** The claiming consumer's lease id, hex. */
  readonly consumer: string;
  /** Unique per delivery: lets a consumer recognise its own claim after a lost reply. */
  readonly token: string;
  /** Epoch ms by which the consumer must ack or nack (the visibility deadline). */
  readonly deadline: number;
}

/** `dead/<id>`: a job that failed `maxAttempts` times. */
export interface DeadRecord extends IndexEntry {
  readonly lastError: string;
  /** Epoch ms at which it was dead-lettered. */
  readonly diedAt: number;
}

export function encode(value: object): string {
  return JSON.stringify(value);
}

/** Parses a stored JSON value; `DECODE_FAILED` names the key when it is not what the queue wrote. */
export function decode<T>(raw: Buffer | undefined, key: string): T {
  try {
    const value: unknown = JSON.parse(raw?.toString() ?? '');
    if (typeof value !== 'object' || value === null) throw new TypeError('not a JSON object');
    return value as T;
  } catch (err) {
    throw new CoordError(ErrorCodes.DECODE_FAILED, `queue: key ${key} does not hold a queue record`, {
      cause: err,
      key,
    });
  }
}

/** The index entry a job goes back to (ready, delayed, dead) after a delivery. */
export function entryOf(record: IndexEntry, lastError: string | undefined): IndexEntry {
  return {
    id: record.id,
    attempt: record.attempt,
    priority: record.priority,
    seq: record.seq,
    ...(lastError === undefined ? {} : { lastError }),
  };
}
