import {
  assertArgument,
  CoordError,
  ErrorCodes,
  type EtcdClient,
  validateName,
  type Watch,
  type WatchBatch,
  watch,
} from '@coordkit/core';
import { GroupCursor } from './internal/group-cursor.js';
import { lostHistory, readRetained, readTrimmedThrough, type StoredMessage } from './internal/history.js';
import type { TopicLayout } from './internal/layout.js';
import { decodeMessage, type Message } from './message.js';

/** Options of `Topic.subscribe`. */
export interface SubscribeOptions {
  /**
   * Where to start: `'latest'` (default) delivers what is published after the subscription is
   * {@link Subscription.ready}; `'earliest'` every retained message first; a revision, every message
   * published at or after it (`COMPACTED` if some of them are no longer retained).
   * Ignored by a `group` that already has a stored position.
   */
  readonly from?: bigint | 'latest' | 'earliest';
  /** Durable group name: the position is stored in etcd and a new subscription resumes after it. Default: none. */
  readonly group?: string;
  /** Ends the subscription: the loop then finishes without error. */
  readonly signal?: AbortSignal;
  /** With `group`: commit the position at most this often, ms. Default 100. */
  readonly commitInterval?: number;
  /** With `group`: commit at the latest after this many acknowledged messages. Default 100. */
  readonly commitEvery?: number;
  /**
   * Called with a `DECODE_FAILED` CoordError for a message key whose value is not JSON (written by
   * hand, or by something else): the key is skipped and delivery goes on. Default: a process warning.
   * Pass a function that throws to end the subscription instead.
   */
  readonly onUndecodable?: (error: CoordError) => void;
}

/** Where delivery starts: the next revision wanted, and what is already read or watching. */
interface Start {
  readonly next: bigint;
  readonly live?: Watch;
  readonly backlog?: readonly StoredMessage[];
}

/**
 * A subscription to a topic: iterate it once with `for await`.
 *
 * Order and duplicates: messages come in publish order (revision, then key within a revision), each
 * once, across reconnects and member failures (core's watch resumes after the last delivered revision).
 * Loss: history that is gone (trimmed by retention while the subscriber was away, or compacted and
 * trimmed) fails the loop with `COMPACTED` and the first available revision in `compactRevision`,
 * never skipped; a compaction alone is recovered from by re-reading the retained messages.
 * Groups: a message counts as acknowledged when the loop asks for the next one; positions are
 * committed in batches, so after a crash the messages since the last commit are delivered again
 * (at-least-once). Cancel: the signal, `close()`, `break` or disposal stop the etcd watch and commit
 * the group position.
 */
export class Subscription<T> implements AsyncIterable<Message<T>>, AsyncDisposable {
  readonly #client: EtcdClient;
  readonly #layout: TopicLayout;
  readonly #what: string;
  readonly #controller = new AbortController();
  readonly #cursor: GroupCursor | undefined;
  readonly #start: Promise<Start>;
  #iterated = false;

  /** @internal Use `Topic.subscribe`. */
  readonly #onUndecodable: (error: CoordError) => void;

  constructor(client: EtcdClient, layout: TopicLayout, options: SubscribeOptions = {}) {
    const from = options.from ?? 'latest';
    assertArgument(
      from === 'latest' || from === 'earliest' || (typeof from === 'bigint' && from >= 1n),
      'from',
      "'latest', 'earliest' or a bigint revision >= 1",
    );
    const group = options.group === undefined ? undefined : validateName(options.group, 'group');
    const commitInterval = options.commitInterval ?? 100;
    const commitEvery = options.commitEvery ?? 100;
    this.#onUndecodable =
      options.onUndecodable ??
      ((error) => process.emitWarning(error.message, { code: 'COORDKIT_DECODE_FAILED' }));
    assertArgument(
      Number.isFinite(commitInterval) && commitInterval >= 0,
      'commitInterval',
      'milliseconds >= 0',
    );
    assertArgument(Number.isInteger(commitEvery) && commitEvery >= 1, 'commitEvery', 'a whole number >= 1');
    this.#client = client;
    this.#layout = layout;
    this.#what = `topic "${layout.name}"${group === undefined ? '' : ` group "${group}"`}: subscribe`;
    this.#cursor =
      group === undefined
        ? undefined
        : new GroupCursor(
            client,
            layout.groupKey(group),
            { intervalMs: commitInterval, everyMessages: commitEvery },
            this.#what,
          );
    const signal = options.signal;
    if (signal?.aborted) this.#controller.abort();
    else signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.#start = this.#open(from);
    this.#start.catch(() => undefined);
  }

  /**
   * Resolves, once the subscription is positioned, with the revision after which every message will
   * be delivered (with `'latest'`: once etcd confirmed the watch). Rejects like the loop would.
   */
  async ready(): Promise<bigint> {
    return (await this.#start).next - 1n;
  }

  [Symbol.asyncIterator](): AsyncIterator<Message<T>> {
    if (this.#iterated) {
      throw new CoordError(ErrorCodes.INVALID_ARGUMENT, `${this.#what}: a subscription can be iterated once`);
    }
    this.#iterated = true;
    return this.#run();
  }

  /**
   * Stops the subscription: the loop ends at its next step (messages already buffered are not
   * delivered), the etcd watch is cancelled and the acknowledged group position committed.
   * Idempotent; never throws; safe to call from inside the loop.
   */
  async close(): Promise<void> {
    this.#controller.abort();
    const start = await this.#start.catch(() => undefined);
    start?.live?.close();
    await this.#cursor?.flush();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #open(from: bigint | 'latest' | 'earliest'): Promise<Start> {
    const stored = await this.#cursor?.load();
    if (stored !== undefined) return this.#startAt(stored + 1n);
    let start: Start;
    if (from === 'earliest') {
      const retained = await readRetained(this.#client, this.#layout, this.#what);
      start = {
        next: retained.revision + 1n,
        backlog: retained.messages.filter((m) => m.revision > retained.trimmedThrough),
      };
    } else if (from === 'latest') {
      const live = this.#watchFrom(undefined);
      start = { next: (await live.created()) + 1n, live };
    } else {
      start = await this.#startAt(from);
    }
    // A new group remembers where it started, so a restart before the first commit loses nothing
    // (with 'earliest': just before the first retained message, which is not yet delivered).
    if (this.#cursor) {
      try {
        await this.#cursor.commitStart((start.backlog?.[0]?.revision ?? start.next) - 1n);
      } catch (err) {
        // Nobody will iterate or close a watch from a start that failed: stop it here.
        start.live?.close();
        throw err;
      }
    }
    return start;
  }

  async #startAt(next: bigint): Promise<Start> {
    const trimmedThrough = await readTrimmedThrough(this.#client, this.#layout, this.#what);
    if (next <= trimmedThrough) throw lostHistory(this.#what, next, trimmedThrough + 1n);
    return { next };
  }

  #watchFrom(fromRevision: bigint | undefined): Watch {
    return watch(
      this.#client,
      { prefix: this.#layout.messagePrefix },
      { signal: this.#controller.signal, ...(fromRevision === undefined ? {} : { fromRevision }) },
    );
  }

  async *#run(): AsyncGenerator<Message<T>, void, undefined> {
    let start: Start;
    try {
      start = await this.#start;
    } catch (err) {
      await this.#cursor?.flush();
      // Closed before it was positioned (the watch never confirmed): an empty loop, not an error.
      if (this.#controller.signal.aborted) return;
      throw err;
    }
    let { next, live } = start;
    try {
      if (start.backlog) yield* this.#deliverStored(start.backlog);
      while (!this.#controller.signal.aborted) {
        const changes = live ?? this.#watchFrom(next);
        live = changes;
        try {
          for await (const batch of changes) {
            // The watch hands out batches it had buffered before it was closed: stop at once instead.
            if (this.#controller.signal.aborted) return;
            yield* this.#deliverBatch(batch);
            if (this.#controller.signal.aborted) return;
            next = batch.revision + 1n;
          }
          return;
        } catch (err) {
          changes.close();
          live = undefined;
          if (!CoordError.is(err, ErrorCodes.COMPACTED) || this.#controller.signal.aborted) throw err;
          // etcd compacted history the watch needed; messages are still keys unless trimmed, so re-read them.
          const retained = await readRetained(this.#client, this.#layout, this.#what);
          if (next <= retained.trimmedThrough)
            throw lostHistory(this.#what, next, retained.trimmedThrough + 1n);
          yield* this.#deliverStored(retained.messages.filter((m) => m.revision >= next));
          next = retained.revision + 1n;
          this.#cursor?.ack(retained.revision, 0);
        }
      }
    } finally {
      live?.close();
      await this.#cursor?.flush();
    }
  }

  /** A garbage value is reported and set aside, never allowed to stop the consumer (unless it asks). */
  #decode(key: string, value: Buffer, revision: bigint, index: number): Message<T> | undefined {
    try {
      return decodeMessage<T>(key, value, revision, index);
    } catch (err) {
      if (!(err instanceof CoordError)) throw err;
      this.#onUndecodable(err);
      return undefined;
    }
  }

  /** Yields one revision's messages in key order; the revision is acknowledged once the loop asks for more. */
  async *#deliverBatch(batch: WatchBatch): AsyncGenerator<Message<T>, void, undefined> {
    // Trim deletes and hand-rewritten keys are not messages; a message is a key's first version.
    const created = batch.events
      .filter((e) => e.type === 'put' && e.version === 1n && e.value !== undefined)
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (let index = 0; index < created.length; index++) {
      const event = created[index]!;
      const message = this.#decode(event.key, event.value!, batch.revision, index);
      if (message) yield message;
      // Closed while the consumer held this message: it stays unacknowledged.
      if (this.#controller.signal.aborted) return;
    }
    this.#cursor?.ack(batch.revision, created.length);
  }

  async *#deliverStored(messages: readonly StoredMessage[]): AsyncGenerator<Message<T>, void, undefined> {
    let index = 0;
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      index = messages[i - 1]?.revision === message.revision ? index + 1 : 0;
      const decoded = this.#decode(message.key, message.value, message.revision, index);
      if (decoded) yield decoded;
      if (this.#controller.signal.aborted) return;
      if (messages[i + 1]?.revision !== message.revision) this.#cursor?.ack(message.revision, index + 1);
    }
  }
}
