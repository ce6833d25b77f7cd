import { CoordError, ErrorCodes } from '@coordkit/core';

/**
 * Reads a stored value: JSON when the text parses as JSON (`42`, `true`, `"x"`, `{"a":1}`, `null`),
 * the text itself otherwise (`hello`, `` (empty)).
 */
export function decodeValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The text to store for `value`, the inverse of {@link decodeValue}: a string is stored raw unless it
 * would read back as something else (`"42"` would read back as the number 42), in which case it is
 * stored JSON-quoted; anything else is stored as JSON.
 */
export function encodeValue(value: unknown, path: string): string {
  if (typeof value === 'string') {
    return typeof decodeValue(value) === 'string' && decodeValue(value) === value
      ? value
      : JSON.stringify(value);
  }
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw invalidValue(path, 'a non-finite number cannot be stored as JSON');
  }
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw invalidValue(path, `not JSON-serializable (${err instanceof Error ? err.message : String(err)})`);
  }
  if (text === undefined) throw invalidValue(path, `a ${typeof value} cannot be stored as JSON`);
  return text;
}

function invalidValue(path: string, problem: string): CoordError {
  return new CoordError(ErrorCodes.INVALID_ARGUMENT, `invalid value of "${path}": ${problem}`, { key: path });
}
