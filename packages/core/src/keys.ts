import { assertArgument } from './errors.js';

/** The exclusive end of the key range holding every key that starts with `prefix` (etcd's prefix rule). */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  // All 0xff: etcd reads "\0" as "to the end of the keyspace".
  return Buffer.from([0]);
}

/** The longest primitive name accepted; keeps keys well under etcd's request size limits. */
export const MAX_NAME_LENGTH = 512;

/**
 * Validates a primitive's name (lock, election, queue...) and returns it. Names are used as key
 * prefixes, so they must be non-empty, bounded, free of control characters, and must not end with
 * `/` (which would merge two primitives' key ranges).
 */
export function validateName(name: unknown, what: string): string {
  assertArgument(typeof name === 'string' && name.length > 0, `${what} name`, 'a non-empty string');
  assertArgument(name.length <= MAX_NAME_LENGTH, `${what} name`, `at most ${MAX_NAME_LENGTH} characters`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
  assertArgument(!/[\u0000-\u001f\u007f]/.test(name), `${what} name`, 'no control characters');
  assertArgument(!name.endsWith('/'), `${what} name`, 'must not end with "/"');
  return name;
}
