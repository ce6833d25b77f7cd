import { CoordError, ErrorCodes } from '@coordkit/core';
import { isPlainObject } from './internal/paths.js';
import { buildTree, flattenObject } from './internal/tree.js';

/**
 * Parses a JSON config file (one nested object) into `path → stored text`: nested objects become
 * path segments (`{"db":{"pool":{"max":5}}}` → `db/pool/max` = `5`), strings are stored raw, other
 * leaves (numbers, booleans, null, arrays) as JSON. An empty object yields no key. Throws
 * `INVALID_ARGUMENT` for text that is not a JSON object or holds an unmappable path.
 */
export function parseJsonFile(text: string): Record<string, string> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (err) {
    throw new CoordError(ErrorCodes.INVALID_ARGUMENT, 'invalid JSON config file: not valid JSON', {
      cause: err,
    });
  }
  if (!isPlainObject(parsed)) {
    throw new CoordError(
      ErrorCodes.INVALID_ARGUMENT,
      'invalid JSON config file: the top level must be an object',
    );
  }
  return flattenObject(parsed);
}

/**
 * Formats `path → stored text` as a nested JSON object (2-space indented, newline-terminated), the
 * inverse of {@link parseJsonFile}. Throws `INVALID_ARGUMENT` when a path cannot be nested (such as both
 * `db` and `db/x`, or `a//b`): use the flat file format for those.
 */
export function formatJsonFile(record: Readonly<Record<string, string>>): string {
  const { tree, ignored } = buildTree(Object.entries(record));
  if (ignored.length > 0) {
    throw new CoordError(
      ErrorCodes.INVALID_ARGUMENT,
      `cannot format as JSON (use the flat format): ${ignored.map((issue) => issue.message).join('; ')}`,
      { issues: ignored },
    );
  }
  return `${JSON.stringify(tree, null, 2)}\n`;
}
