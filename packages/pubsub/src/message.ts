import { assertArgument, CoordError, ErrorCodes } from '@coordkit/core';

/** One message as a subscriber receives it. */
export interface Message<T> {
  /** The revision the message was published at; messages of one `publishBatch` share it. */
  readonly revision: bigint;
  /** The decoded payload. */
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

/** Decodes a stored message; a value that is not JSON is a `DECODE_FAILED` naming the key. */
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
  return { revision, data, key, index };
}
