import { type KeyValue, type Session, snapshotThenWatch, type Watch } from '@coordkit/core';

/**
 * A local copy of every key under a prefix, kept exact by one snapshot plus the watch after it
 * (re-read on compaction), so background duties decide from memory and spend requests only on
 * the writes they make. `onChange` gets the keys each etcd revision touched.
 */
export class PrefixMirror {
  readonly entries = new Map<string, KeyValue>();
  #changes: Watch | undefined;
  #closed = false;

  constructor(
    private readonly session: Session,
    private readonly prefix: string,
    private readonly onChange: (keys: readonly string[]) => void,
    private readonly onFailure: (err: unknown) => void,
  ) {}

  /** Reads the snapshot and starts following changes; resolves once the snapshot is loaded. */
  async start(): Promise<void> {
    const { snapshot, changes } = await snapshotThenWatch(this.session.client, this.prefix, { resync: true });
    if (this.#closed) {
      changes.close();
      return;
    }
    this.#changes = changes;
    for (const kv of snapshot.kvs) this.entries.set(kv.key, kv);
    this.onChange([...this.entries.keys()]);
    void this.#follow(changes);
  }

  close(): void {
    this.#closed = true;
    this.#changes?.close();
  }

  async #follow(changes: Watch): Promise<void> {
    try {
      for await (const batch of changes) {
        if (batch.resync) this.entries.clear();
        for (const event of batch.events) {
          if (event.type === 'delete') {
            this.entries.delete(event.key);
          } else {
            this.entries.set(event.key, {
              key: event.key,
              value: event.value ?? Buffer.alloc(0),
              createRevision: event.createRevision,
              modRevision: event.revision,
              version: event.version,
              ...(event.lease === undefined ? {} : { lease: event.lease }),
            });
          }
        }
        this.onChange(batch.events.map((event) => event.key));
      }
    } catch (err) {
      if (!this.#closed) this.onFailure(err);
    }
  }
}
