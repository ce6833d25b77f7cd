import type { StandardSchemaV1 } from '@standard-schema/spec';
import { assertPath, isPlainObject, pathProblem } from './paths.js';
import { decodeValue, encodeValue } from './values.js';

/** A nested config object built from flat key paths, and the paths that could not be placed in it. */
export interface BuiltTree {
  readonly tree: Record<string, unknown>;
  /** One issue per key left out: an unmappable path, or a leaf shadowed by a deeper key. */
  readonly ignored: readonly StandardSchemaV1.Issue[];
}

/**
 * Nests flat `path → stored text` entries: `db/pool/max=5` becomes `{ db: { pool: { max: 5 } } }`.
 *
 * Conflict rule: when both `db` and `db/x` exist, the nested object wins and the leaf `db` is left out
 * (reported in `ignored`), whatever its value; this keeps the result independent of key order.
 */
export function buildTree(entries: Iterable<readonly [string, string]>): BuiltTree {
  const ignored: StandardSchemaV1.Issue[] = [];
  const mappable: [string, string][] = [];
  for (const [path, text] of entries) {
    const problem = pathProblem(path);
    if (problem === undefined) mappable.push([path, text]);
    else ignored.push({ message: `key "${path}" ignored: ${problem}`, path: [path] });
  }
  const ancestors = new Set<string>();
  for (const [path] of mappable) {
    for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) ancestors.add(path.slice(0, i));
  }
  const tree: Record<string, unknown> = {};
  for (const [path, text] of mappable) {
    const segments = path.split('/');
    if (ancestors.has(path)) {
      ignored.push({ message: `key "${path}" ignored: deeper keys under "${path}/" win`, path: segments });
      continue;
    }
    let node = tree;
    for (const segment of segments.slice(0, -1)) {
      // Only shadowed leaves could sit where an object goes, and they were skipped above. `hasOwn`, not
      // `??=`: an inherited name such as `constructor` must not be mistaken for an existing child.
      if (!Object.hasOwn(node, segment)) node[segment] = {};
      node = node[segment] as Record<string, unknown>;
    }
    node[segments[segments.length - 1]!] = decodeValue(text);
  }
  return { tree, ignored };
}

/**
 * Deep-merges `overrides` onto `defaults`: plain objects merge key by key, anything else (arrays
 * included) in `overrides` replaces the default. Neither input is modified.
 */
export function mergeDefaults(
  defaults: unknown,
  overrides: Record<string, unknown>,
): Record<string, unknown> {
  if (!isPlainObject(defaults)) return overrides;
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(defaults)) {
    if (key !== '__proto__') merged[key] = value;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (key === '__proto__') continue;
    const base = Object.hasOwn(merged, key) ? merged[key] : undefined;
    merged[key] = isPlainObject(base) && isPlainObject(value) ? mergeDefaults(base, value) : value;
  }
  return merged;
}

/**
 * Flattens a nested object into `path → stored text` (the inverse of {@link buildTree}): plain objects
 * become path segments, every other value a key. An empty object yields no key; an unmappable path
 * throws `INVALID_ARGUMENT`.
 */
export function flattenObject(object: Record<string, unknown>, base = ''): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [key, value] of Object.entries(object)) {
    const path = base === '' ? key : `${base}/${key}`;
    if (isPlainObject(value)) Object.assign(flat, flattenObject(value, path));
    else {
      assertPath(path, 'config path');
      flat[path] = encodeValue(value, path);
    }
  }
  return flat;
}
