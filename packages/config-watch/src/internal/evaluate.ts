import type { StandardSchemaV1 } from '@standard-schema/spec';
import { buildTree, mergeDefaults } from './tree.js';

/** What a raw state evaluates to: a typed config, or the issues that make it invalid. */
export type Evaluation<T> =
  | { readonly ok: true; readonly value: T; readonly ignored: readonly StandardSchemaV1.Issue[] }
  | {
      readonly ok: false;
      readonly issues: readonly StandardSchemaV1.Issue[];
      readonly ignored: readonly StandardSchemaV1.Issue[];
    };

/** How a raw state becomes a typed config: defaults under it, then the schema over it. */
export interface Evaluator<T> {
  readonly schema: StandardSchemaV1<unknown, T> | undefined;
  readonly defaults: unknown;
}

/**
 * Builds the config object from `path → stored text` entries, merges it over the defaults and
 * validates it with the schema (whose `validate` may be async). Without a schema the merged object is
 * the value as is.
 */
export async function evaluate<T>(
  evaluator: Evaluator<T>,
  entries: Iterable<readonly [string, string]>,
): Promise<Evaluation<T>> {
  const { tree, ignored } = buildTree(entries);
  const merged = mergeDefaults(evaluator.defaults, tree);
  if (evaluator.schema === undefined) return { ok: true, value: merged as T, ignored };
  let result: StandardSchemaV1.Result<T>;
  try {
    result = await evaluator.schema['~standard'].validate(merged);
  } catch (err) {
    // A schema that throws is as good as a failed validation: never apply what was not validated.
    const message = `schema threw: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, issues: [{ message }], ignored };
  }
  if (result.issues !== undefined) return { ok: false, issues: result.issues, ignored };
  return { ok: true, value: result.value, ignored };
}
