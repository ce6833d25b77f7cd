import { CoordError, ErrorCodes } from '@coordkit/core';

const DECIMAL = /^-?[0-9]+$/;

/** The count stored at `key` (`undefined`: the key does not exist, which counts as 0n). */
export function decodeCount(value: Buffer | undefined, key: string): bigint {
  if (value === undefined) return 0n;
  const text = value.toString();
  if (!DECIMAL.test(text)) {
    throw new CoordError(
      ErrorCodes.DECODE_FAILED,
      `counter key ${key} holds ${JSON.stringify(text)}, not a decimal integer`,
      {
        key,
      },
    );
  }
  return BigInt(text);
}

/** The stored form of a count: its decimal string, so that `etcdctl get` shows it as is. */
export function encodeCount(count: bigint): string {
  return count.toString(10);
}
