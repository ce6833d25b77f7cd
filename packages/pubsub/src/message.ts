import { assertArgument, CoordError, ErrorCodes } from '@coordkit/core';

/**
 * One message as a subscriber receives it.
 *
 * Immutable and shared: every subscription of the same topic in a process receives the same object,
 * decoded once, so the message and its `data` are deeply frozen (assigning to them throws in strict
 * mode code). Copy `data` (e.g. `structuredClone`) before changing it.
 */
export interface Message<T> {
  /** The revision the message was published at; messages of one `publishBatch` share it. */
  readonly revision: bigint;
  /** The decoded payload (deeply frozen). */
  readonly data: T;
  /** The message's etcd key (`<topic>/msg/<id>`). */
  readonly key: string;
  /** Position of the message within its revision (0 unless published in a batch). */
  readonly index: number;
}

/** Encodes a payload as the JSON stored in a message key; `INVALID_ARGUMENT` if it has no JSON form. */
export function encodeMessage(data: unknown, argument: string): Buffer {
  let json: string | undefined;
  try {
    json = JSON.stringify(data);
  } catch (err) {
    throw new CoordError(ErrorCodes.INVALID_ARGUMENT, `invalid ${argument}: not JSON-serializable`, {
      cause: err,
    });
  }
  assertArgument(json !== undefined, argument, 'a JSON-serializable value (not undefined or a function)');
  return Buffer.from(json);
}

/**
 * Decodes a stored message into a frozen {@link Message}; a value that is not JSON is a
 * `DECODE_FAILED` naming the key.
 */
export function decodeMessage<T>(key: string, value: Buffer, revision: bigint, index: number): Message<T> {
  let data: T;
  try {
    data = JSON.parse(value.toString()) as T;
  } catch (err) {
    throw new CoordError(ErrorCodes.DECODE_FAILED, `message ${key} (revision ${revision}) is not JSON`, {
      cause: err,
      key,
    });
  }
  deepFreeze(data);
  return Object.freeze({ revision, data, key, index });
}

/** Freezes what `JSON.parse` builds (plain objects and arrays), all the way down. */
function deepFreeze(value: unknown): void {
  if (typeof value !== 'object' || value === null) return;
  Object.freeze(value);
  if (Array.isArray(value)) {
    for (const item of value) deepFreeze(item);
  } else {
    for (const item of Object.values(value)) deepFreeze(item);
  }
}
