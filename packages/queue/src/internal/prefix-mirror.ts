import { type KeyValue, type Session, snapshotThenWatch, type Watch } from '@coordkit/core';

/**
 * A local copy of every key under a prefix, kept exact by one snapshot plus the watch after it
 * (re-read on compaction), so background duties decide from memory and spend requests only on
 * the writes they make. `onChange` gets the keys each etcd revision touched (every key on a re-read).
 */
export class PrefixMirror {
  readonly entries = new Map<string, KeyValue>();
  /** The revision the copy is exact at: the snapshot's, then each applied batch's. */
  revision = 0n;
  #changes: Watch | undefined;
  #closed = false;

  constructor(
    private readonly session: Session,
    private readonly prefix: string,
    private readonly onChange: (keys: readonly string[], resync: boolean) => void,
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
    this.revision = snapshot.revision;
    this.onChange([...this.entries.keys()], true);
    void this.#follow(changes);
  }

  close(): void {
    this.#closed = true;
    this.#changes?.close();
  }

  async #follow(changes: Watch): Promise<void> {
    try {
      for await (const batch of changes) {
        const resync = batch.resync === true;
        if (resync) this.entries.clear();
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
        this.revision = batch.revision;
        this.onChange(
          batch.events.map((event) => event.key),
          resync,
        );
      }
    } catch (err) {
      if (!this.#closed) this.onFailure(err);
    }
  }
}
