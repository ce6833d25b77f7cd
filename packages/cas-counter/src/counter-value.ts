import { CoordError, ErrorCodes } from '@coordkit/core';
import type { OpIdCheck } from './internal/guarded-put.js';

/**
 * A stored count: the decimal count, then (when written by coordkit) one space and the op id of the
 * write, e.g. `42 Qm9xY2tpdF9q.4zk`. The count comes first so that `etcdctl get` reads at a glance;
 * a plain decimal (written by etcdctl, or by a version before op ids) is a count with no op id.
 */
const STORED = /^(-?[0-9]+)(?: ([!-~]+))?$/;

/** A stored counter value, read by {@link parseCounterValue}. */
export interface StoredCount {
  /** The count. */
  readonly count: bigint;
  /** The op id of the write that stored it; `undefined` for a plain decimal (etcdctl, older versions). */
  readonly opId: string | undefined;
}

/**
 * Reads a counter key's value as stored (`<count>` or `<count> <opId>`, see the key layout), or
 * `undefined` if it is not one: for tools that read counter keys directly (e.g. `coord status`).
 */
export function parseCounterValue(value: Buffer | string): StoredCount | undefined {
  const match = STORED.exec(value.toString());
  return match ? { count: BigInt(match[1]!), opId: match[2] } : undefined;
}

/** The count stored at `key` (`undefined`: the key does not exist, which counts as 0n). */
export function decodeCount(value: Buffer | undefined, key: string): bigint {
  if (value === undefined) return 0n;
  const stored = parseCounterValue(value);
  if (!stored) {
    throw new CoordError(
      ErrorCodes.DECODE_FAILED,
      `counter key ${key} holds ${JSON.stringify(value.toString())}, not a decimal integer (optionally followed by " <op id>")`,
      { key },
    );
  }
  return stored.count;
}

/** The op id a stored count carries (`undefined`: a plain decimal, or not a count at all). */
export function opIdOfCount(value: Buffer): string | undefined {
  const text = value.toString();
  const space = text.indexOf(' ');
  return space < 0 ? undefined : text.slice(space + 1);
}

/** The stored form of `count` written by the write `opId`: `<decimal> <opId>`. */
export function encodeCount(count: bigint, opId: string): string {
  return `${count.toString(10)} ${opId}`;
}

/** What an absent counter key stands for (0n), put in its place to fence a lost create. */
export const ABSENT_COUNT = Buffer.from('0');

/** How a counter's lost replies are resolved: the op id after the count, "0" in place of a missing key. */
export const COUNT_CHECK: OpIdCheck = { opIdOf: opIdOfCount, absentAs: ABSENT_COUNT };
