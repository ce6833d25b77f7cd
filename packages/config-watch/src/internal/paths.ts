import { assertArgument, CoordError, ErrorCodes } from '@coordkit/core';

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/**
 * Why a key path cannot be mapped into the config object, or `undefined` when it can. Paths are
 * `/`-separated segments; an empty segment (`a//b`, `a/`) has no property name, and `__proto__`
 * would reach the prototype of the object being built instead of setting a property.
 */
export function pathProblem(path: string): string | undefined {
  if (path.length === 0) return 'the path is empty';
  if (CONTROL_CHARACTERS.test(path)) return 'the path contains a control character';
  for (const segment of path.split('/')) {
    if (segment.length === 0) return 'the path has an empty segment (leading, trailing or double "/")';
    if (segment === '__proto__') return 'the path has a "__proto__" segment';
  }
  return undefined;
}

/** Throws `INVALID_ARGUMENT` naming `argument` unless `path` is a mappable key path. */
export function assertPath(path: string, argument: string): void {
  const problem = pathProblem(path);
  if (problem !== undefined) {
    throw new CoordError(ErrorCodes.INVALID_ARGUMENT, `invalid ${argument} "${path}": ${problem}`);
  }
}

/**
 * Validates a config prefix and returns it ending with `/`, so that `app/config` never also matches
 * `app/config2/...` (etcd prefixes are plain byte prefixes).
 */
export function normalizePrefix(prefix: unknown): string {
  assertArgument(typeof prefix === 'string' && prefix.length > 0, 'prefix', 'a non-empty string');
  assertArgument(!CONTROL_CHARACTERS.test(prefix), 'prefix', 'no control characters');
  return prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Whether `value` is a plain object (`{}` literal or null-prototype), the only thing merged or nested. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
