import { assertArgument, CoordError, ErrorCodes, type EtcdClient, validateName } from '@coordkit/core';
import type { DecodedBatch } from './internal/decoded-batch.js';
import { GroupCursor } from './internal/group-cursor.js';
import type { TopicLayout } from './internal/layout.js';
import {
  type Position,
  type PositionContext,
  positionAfterCompaction,
  positionAt,
  positionEarliest,
  positionLatest,
} from './internal/positioning.js';
import type { FeedMember } from './internal/topic-feed.js';
import type { Message } from './message.js';
import type { SubscribeOptions } from './subscribe-options.js';

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true as const });

/**
 * A subscription to a topic: iterate it once with `for await`.
 *
 * Order and duplicates: messages come in publish order (revision, then key within a revision), each
 * once, across reconnects and member failures (core's watch resumes after the last delivered revision).
 * Sharing: the subscriptions of one topic on one client share one etcd watch and one decoded, frozen
 * copy of each message (see {@link Message}).
 * Loss: history that is gone (trimmed by retention while the subscriber was away, or compacted and
 * trimmed) fails the loop with `COMPACTED` and the first available revision in `compactRevision`,
 * never skipped; a compaction alone is recovered from by re-reading the retained messages.
 * Groups: a message counts as acknowledged when the loop asks for the next one; positions are
 * committed in batches, so after a crash the messages since the last commit are delivered again
 * (at-least-once). Cancel: the signal, `close()`, `break` or disposal stop the etcd watch and commit
 * the group position.
 */
export class Subscription<T> implements AsyncIterable<Message<T>>, AsyncDisposable {
  readonly #what: string;
  readonly #cursor: GroupCursor | undefined;
  readonly #onUndecodable: (error: CoordError) => void;
  readonly #context: PositionContext;
  readonly #start: Promise<Position>;
  #iterated = false;
  #closed = false;
  /** The live source: a place in the topic's shared feed, or in a private one. */
  #member: FeedMember | undefined;
  #started = false;
  #backlog: DecodedBatch[] = [];
  #current: DecodedBatch | undefined;
  #index = 0;
  /** The revision after the last batch taken in full: where a recovery resumes. */
  #next = 0n;
  /** A `next()` is waiting (for the start, a batch, or a recovery); later calls queue behind it. */
  #busy = false;
  #tail: Promise<IteratorResult<Message<T>>> | undefined;

  /** @internal Use `Topic.subscribe`. */
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
    this.#context = { client, layout, what: this.#what, use: (member) => this.#use(member) };
    const signal = options.signal;
    if (signal?.aborted) this.#closed = true;
    else signal?.addEventListener('abort', () => void this.close(), { once: true });
    this.#start = this.#open(from);
    this.#start.catch(() => this.#member?.leave());
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
    return {
      next: () => this.#nextMessage(),
      return: async () => {
        await this.close();
        return DONE;
      },
    };
  }

  /**
   * Stops the subscription: the loop ends at its next step (messages already buffered are not
   * delivered), the etcd watch is cancelled and the acknowledged group position committed.
   * Idempotent; never throws; safe to call from inside the loop.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#member?.leave();
    // Positioning still running leaves what it joins once it sees the close (see #use).
    await this.#start.catch(() => undefined);
    await this.#finish();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #open(from: bigint | 'latest' | 'earliest'): Promise<Position> {
    const stored = await this.#cursor?.load();
    if (stored !== undefined) return positionAt(this.#context, stored + 1n);
    const position =
      from === 'earliest'
        ? await positionEarliest(this.#context)
        : from === 'latest'
          ? await positionLatest(this.#context)
          : await positionAt(this.#context, from);
    // A new group remembers where it started, so a restart before the first commit loses nothing
    // (with 'earliest': just before the first retained message, which is not yet delivered).
    await this.#cursor?.commitStart((position.backlog[0]?.revision ?? position.next) - 1n);
    return position;
  }

  #use(member: FeedMember): void {
    if (this.#closed) {
      member.leave();
      throw new CoordError(ErrorCodes.CLOSED, `${this.#what}: closed`);
    }
    const previous = this.#member;
    this.#member = member;
    if (previous !== member) previous?.leave();
  }

  /**
   * The iterator's `next()`. Not async on purpose: a message already buffered (the rest of a batch,
   * or a batch the feed queued) is handed out at the cost of one resolved promise.
   */
  #nextMessage(): Promise<IteratorResult<Message<T>>> {
    if (this.#busy) {
      const after = () => this.#nextMessage();
      return this.#tail!.then(after, after);
    }
    if (this.#started) {
      try {
        const result = this.#take();
        if (result !== undefined) return Promise.resolve(result);
      } catch (err) {
        return this.#finish().then(() => Promise.reject(err));
      }
    }
    this.#tail = this.#nextSlow();
    return this.#tail;
  }

  /** Waits for the start, the next batch, or a recovery, then takes a message. */
  async #nextSlow(): Promise<IteratorResult<Message<T>>> {
    this.#busy = true;
    try {
      if (!this.#started) {
        const position = await this.#start;
        this.#started = true;
        this.#next = position.next;
        this.#backlog = position.backlog;
      }
      for (;;) {
        const result = this.#take();
        if (result !== undefined) return result;
        const member = this.#member!;
        const failure = member.failure;
        if (failure === undefined) await member.ready();
        else if (CoordError.is(failure, ErrorCodes.COMPACTED)) {
          // etcd compacted history the watch needed: re-read what is retained and go on.
          this.#backlog = (await positionAfterCompaction(this.#context, this.#next)).backlog;
        } else throw failure;
      }
    } catch (err) {
      const closed = this.#closed;
      await this.#finish();
      // Closed meanwhile (e.g. before etcd confirmed the watch): the loop just ends.
      if (closed) return DONE;
      throw err;
    } finally {
      this.#busy = false;
    }
  }

  /**
   * Takes the next message already at hand, or `undefined` when it must wait. Taking past a batch's
   * last message acknowledges its revision (a group's position; where a recovery resumes); a message
   * in hand when the subscription is closed stays unacknowledged.
   */
  #take(): IteratorResult<Message<T>> | undefined {
    for (;;) {
      if (this.#closed) return DONE;
      const batch = this.#current;
      if (batch !== undefined) {
        const entries = batch.entries;
        if (this.#index < entries.length) {
          const entry = entries[this.#index++]!;
          // A garbage value is reported and set aside, never allowed to stop the consumer (unless it asks).
          if (entry instanceof CoordError) this.#onUndecodable(entry);
          else return entry as IteratorYieldResult<Message<T>>;
          continue;
        }
        this.#current = undefined;
        if (batch.revision >= this.#next) this.#next = batch.revision + 1n;
        this.#cursor?.ack(batch.revision, entries.length);
      }
      const following = this.#backlog.length > 0 ? this.#backlog.shift() : this.#member?.poll();
      if (following === undefined) return undefined;
      this.#current = following;
      this.#index = 0;
    }
  }

  /** Ends the loop for good: leaves the feed and commits the group position; never throws. */
  async #finish(): Promise<void> {
    this.#closed = true;
    this.#member?.leave();
    await this.#cursor?.flush();
  }
}
