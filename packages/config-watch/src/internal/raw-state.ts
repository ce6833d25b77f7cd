import type { KeyValue, WatchBatch } from '@coordkit/core';

/**
 * The stored config as etcd has it (`path → text`), always advanced to the newest revision even when
 * that revision is invalid, plus what the last APPLIED revision had, so that `changed` is computed
 * against the config the user last saw and a later fix applies cleanly on top of a rejected update.
 */
export class RawState {
  /** Newest known stored state. */
  readonly current = new Map<string, string>();
  /** Stored state of the last applied (valid) revision. */
  readonly #applied = new Map<string, string>();
  /** Paths touched since the last applied revision. */
  readonly #touched = new Set<string>();
  /** Revision of `current`. */
  revision: bigint;
  /** Newest revision at which a key under the prefix is known to have been deleted (0n: none seen). */
  lastDeleteRevision = 0n;

  constructor(
    private readonly prefix: string,
    snapshot: { readonly revision: bigint; readonly kvs: readonly KeyValue[] },
  ) {
    this.revision = snapshot.revision;
    for (const kv of snapshot.kvs) {
      const path = kv.key.slice(prefix.length);
      this.current.set(path, kv.value.toString('utf8'));
      this.#applied.set(path, kv.value.toString('utf8'));
    }
  }

  /** Advances `current` by one watch batch; a resync batch replaces it wholesale. */
  advance(batch: WatchBatch): void {
    if (batch.resync) {
      const next = new Map<string, string>();
      for (const event of batch.events)
        next.set(event.key.slice(this.prefix.length), event.value?.toString('utf8') ?? '');
      for (const path of this.current.keys()) {
        this.#touched.add(path);
        // The delete happened somewhere in the compacted history; its revision is at most this one.
        if (!next.has(path)) this.lastDeleteRevision = batch.revision;
      }
      this.current.clear();
      for (const [path, text] of next) {
        this.#touched.add(path);
        this.current.set(path, text);
      }
    } else {
      for (const event of batch.events) {
        const path = event.key.slice(this.prefix.length);
        this.#touched.add(path);
        if (event.type === 'put') this.current.set(path, event.value?.toString('utf8') ?? '');
        else {
          this.current.delete(path);
          this.lastDeleteRevision = event.revision;
        }
      }
    }
    this.revision = batch.revision;
  }

  /** Marks `current` as applied and returns the sorted paths whose text differs from the previous applied state. */
  commit(): string[] {
    const changed: string[] = [];
    for (const path of this.#touched) {
      const text = this.current.get(path);
      if (text === this.#applied.get(path)) continue;
      changed.push(path);
      if (text === undefined) this.#applied.delete(path);
      else this.#applied.set(path, text);
    }
    this.#touched.clear();
    return changed.sort();
  }
}
