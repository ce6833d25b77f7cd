import { assertArgument, CoordError, ErrorCodes } from '@coordkit/core';
import { type Evaluator, evaluate } from './evaluate.js';
import { assertPath, isPlainObject } from './paths.js';
import { describeIssues } from './reports.js';
import { encodeValue } from './values.js';

/** Validates `set` entries and encodes them as `path → stored text` (`undefined`: delete). */
export function encodeEntries(entries: unknown): Map<string, string | undefined> {
  assertArgument(isPlainObject(entries), 'entries', 'a plain object of path → value');
  const paths = Object.keys(entries);
  assertArgument(paths.length > 0, 'entries', 'at least one entry');
  const encoded = new Map<string, string | undefined>();
  for (const path of paths) {
    assertPath(path, 'entries path');
    const value = entries[path];
    encoded.set(path, value === undefined ? undefined : encodeValue(value, path));
  }
  return encoded;
}

/**
 * Throws `INVALID_ARGUMENT` (with `issues`) unless the config that `current` plus `encoded` would make
 * passes the schema and leaves out no key that the current config does not already leave out (a
 * write that shadows, or is shadowed by, another key would be silently invisible otherwise).
 */
export async function checkWouldBeConfig<T>(
  evaluator: Evaluator<T>,
  current: ReadonlyMap<string, string>,
  encoded: ReadonlyMap<string, string | undefined>,
  prefix: string,
): Promise<void> {
  const wouldBe = new Map(current);
  for (const [path, text] of encoded) {
    if (text === undefined) wouldBe.delete(path);
    else wouldBe.set(path, text);
  }
  const [before, after] = await Promise.all([evaluate(evaluator, current), evaluate(evaluator, wouldBe)]);
  const known = new Set(before.ignored.map((issue) => issue.message));
  const issues = [
    ...(after.ok ? [] : after.issues),
    ...after.ignored.filter((issue) => !known.has(issue.message)),
  ];
  if (issues.length > 0) {
    throw new CoordError(
      ErrorCodes.INVALID_ARGUMENT,
      `invalid entries for config "${prefix}": ${describeIssues(issues)}; nothing was written`,
      { issues, key: prefix },
    );
  }
}
