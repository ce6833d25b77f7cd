import { idempotentWrite, type KeyValue, ops, type Session } from '@coordkit/core';
import type { QueueLayout } from './layout.js';
import { PrefixMirror } from './prefix-mirror.js';
import { decode, type IndexEntry } from './records.js';

/** setTimeout's ceiling; a later readyAt simply re-arms. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Spreads the consumers whose timers fire together, so one of them usually moves a job before the others try. */
const JITTER_MS = 50;

/**
 * Moves delayed jobs to the ready index when their time comes, without polling: it mirrors the
 * delayed prefix by watch, keeps one timer for the earliest `readyAt` (encoded in the key), and
 * when it fires moves each due job in a transaction guarded by the delayed key's create revision,
 * so whichever consumer's timer fires first moves it and the others' attempts fail harmlessly.
 * `readyAt` is wall-clock time of the enqueuing host; skew between hosts shifts it by that much.
 */
export class DelayedPromoter {
  readonly #mirror: PrefixMirror;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #running = false;

  constructor(
    private readonly session: Session,
    private readonly layout: QueueLayout,
    onFailure: (err: unknown) => void,
  ) {
    this.#mirror = new PrefixMirror(session, layout.delayed, () => this.#schedule(), onFailure);
  }

  start(): Promise<void> {
    return this.#mirror.start();
  }

  close(): void {
    this.#closed = true;
    this.#mirror.close();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }

  #earliest(): KeyValue | undefined {
    let first: KeyValue | undefined;
    for (const kv of this.#mirror.entries.values()) if (!first || kv.key < first.key) first = kv;
    return first;
  }

  #schedule(): void {
    if (this.#closed || this.#running) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const first = this.#earliest();
    if (!first) return;
    const wait = this.layout.readyAtOf(first.key) - Date.now();
    const delay =
      wait <= 0 ? Math.random() * JITTER_MS : Math.min(MAX_TIMER_MS, wait + Math.random() * JITTER_MS);
    this.#timer = setTimeout(() => void this.#promoteDue(), delay);
    this.#timer.unref();
  }

  async #promoteDue(): Promise<void> {
    this.#timer = undefined;
    this.#running = true;
    try {
      const due = [...this.#mirror.entries.values()]
        .filter((kv) => this.layout.readyAtOf(kv.key) <= Date.now())
        .sort((a, b) => (a.key < b.key ? -1 : 1));
      for (const kv of due) {
        // Another consumer may have moved it while this one was busy with the previous job.
        if (this.#closed || this.#mirror.entries.get(kv.key)?.createRevision !== kv.createRevision) continue;
        await this.#promote(kv).catch(() => undefined);
      }
    } finally {
      this.#running = false;
      this.#schedule();
    }
  }

  async #promote(kv: KeyValue): Promise<void> {
    const entry = decode<IndexEntry>(kv.value, kv.key);
    await idempotentWrite(
      `queue "${this.layout.root}": make job ${entry.id} ready`,
      () =>
        this.session.client.kv.txn({
          compare: [ops.createRevisionIs(kv.key, kv.createRevision)],
          success: [ops.delete(kv.key), ops.put(this.layout.readyKey(entry.priority, entry.seq), kv.value)],
          failure: [],
        }),
      undefined,
      kv.key,
    );
  }
}
