import { ops } from '@coordkit/core';
import type { QueueLayout } from './layout.js';
import { type DeadRecord, encode, entryOf, type InflightRecord } from './records.js';

type RequestOp = ReturnType<typeof ops.put>;

/** Where a delivery ends: done, back in line (now or later), or in the dead-letter set. */
export type Settlement =
  | { readonly kind: 'ack' }
  | { readonly kind: 'ready'; readonly lastError: string | undefined }
  | { readonly kind: 'delayed'; readonly readyAt: number; readonly lastError: string | undefined }
  | { readonly kind: 'dead'; readonly lastError: string };

/** What to do with a failed delivery: dead after `maxAttempts`, else back in line after `delay` ms. */
export function retryOrDead(
  record: InflightRecord,
  maxAttempts: number,
  delay: number,
  lastError: string,
): Settlement {
  if (record.attempt >= maxAttempts) return { kind: 'dead', lastError };
  if (delay > 0) return { kind: 'delayed', readyAt: Date.now() + delay, lastError };
  return { kind: 'ready', lastError };
}

/**
 * The writes that end a delivery, always together in one transaction: the claim and the inflight
 * record go, and the job lands in exactly one place (nowhere for an ack, with its record).
 * The caller supplies the compares that prove the delivery is still the one it means to end.
 */
export function settleOps(layout: QueueLayout, record: InflightRecord, settlement: Settlement): RequestOp[] {
  const writes: RequestOp[] = [
    ops.delete(layout.claim(record.id)),
    ops.delete(layout.inflightRecord(record.id)),
  ];
  switch (settlement.kind) {
    case 'ack':
      writes.push(ops.delete(layout.job(record.id)));
      break;
    case 'ready':
      // Back to its original place in line (its enqueue sequence), not to the tail.
      writes.push(
        ops.put(layout.readyKey(record.priority, record.seq), encode(entryOf(record, settlement.lastError))),
      );
      break;
    case 'delayed':
      writes.push(
        ops.put(
          layout.delayedKey(settlement.readyAt, record.id),
          encode(entryOf(record, settlement.lastError)),
        ),
      );
      break;
    case 'dead': {
      const dead: DeadRecord = {
        ...entryOf(record, undefined),
        lastError: settlement.lastError,
        diedAt: Date.now(),
      };
      writes.push(ops.put(layout.deadKey(record.id), encode(dead)));
      break;
    }
  }
  return writes;
}

/** A readable one-line form of whatever a handler threw or passed as `error`. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 2000);
  if (error === undefined) return 'nacked';
  return String(error).slice(0, 2000);
}
