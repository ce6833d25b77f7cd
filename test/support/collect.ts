// Consumes an async iterable in the background, for tests that assert what arrived and why it ended.

/** What {@link collect} gathered so far: every item, the loop's end, and the error that ended it. */
export interface Collected<T> {
  readonly seen: T[];
  /** Settles (never rejects) when the loop ends. */
  readonly done: Promise<void>;
  /** The error that ended the loop, if one did. */
  readonly failure: unknown;
}

/** Iterates `items` in the background, recording every item and the error that ended the loop. */
export function collect<T>(items: AsyncIterable<T>): Collected<T> {
  const seen: T[] = [];
  let failure: unknown;
  const done = (async () => {
    try {
      for await (const item of items) seen.push(item);
    } catch (err) {
      failure = err;
    }
  })();
  return {
    seen,
    done,
    get failure() {
      return failure;
    },
  };
}
