import { CoordError, ErrorCodes, type EtcdClient, type Watch, watch } from '@coordkit/core';
import { type DecodedBatch, decodeWatchBatch } from './decoded-batch.js';
import type { TopicLayout } from './layout.js';

/**
 * One core watch of a topic's message keys whose batches are decoded once and handed, as the same
 * frozen objects, to every member. A client's shared feed of a topic (see {@link joinSharedFeed})
 * serves every subscription of that topic on that client that starts after the feed's position: with
 * 1,000 subscribers, etcd sends each event once instead of 1,000 times and each message is parsed once.
 * A subscription that must start further back gets a private feed (`fromRevision`) of its own.
 * Order, no gap and no duplicate across reconnects come from core's watch; the feed adds no buffering
 * of its own beyond each member's queue, so it preserves them.
 */
export class TopicFeed {
  readonly #watch: Watch;
  readonly #members = new Set<FeedMember>();
  readonly #onEnd: (() => void) | undefined;
  /** The revision of the last batch handed to members; `undefined` until etcd confirmed the watch. */
  #position: bigint | undefined;
  #ended = false;
  #revisionRead: Promise<bigint> | undefined;

  constructor(client: EtcdClient, layout: TopicLayout, fromRevision?: bigint, onEnd?: () => void) {
    this.#onEnd = onEnd;
    this.#watch = watch(
      client,
      { prefix: layout.messagePrefix },
      fromRevision === undefined ? {} : { fromRevision },
    );
    this.#watch.created().then(
      (revision) => {
        if (this.#position === undefined) this.#position = revision;
      },
      () => undefined,
    );
    void this.#pump();
  }

  /**
   * Adds a member; it receives every batch after the feed's current position, which its
   * {@link FeedMember.start} resolves with (once etcd confirmed the watch).
   */
  join(): FeedMember {
    const start = this.#position === undefined ? this.#watch.created() : Promise.resolve(this.#position);
    const member = new FeedMember(this, start);
    if (this.#ended) member.end(new CoordError(ErrorCodes.CLOSED, 'topic feed: ended'));
    else this.#members.add(member);
    return member;
  }

  /**
   * A revision at least as new as etcd's revision when this is called. Calls made before the read is
   * sent share it (1,000 subscriptions made in one loop cost one read), and it is sent after all of
   * them, so it is new enough for each.
   */
  currentRevision(read: () => Promise<bigint>): Promise<bigint> {
    if (this.#revisionRead === undefined) {
      this.#revisionRead = Promise.resolve().then(() => {
        this.#revisionRead = undefined;
        return read();
      });
    }
    return this.#revisionRead;
  }

  /** @internal Called by {@link FeedMember.leave}: the last member stops the watch. */
  remove(member: FeedMember): void {
    this.#members.delete(member);
    if (this.#members.size === 0 && !this.#ended) {
      this.#ended = true;
      this.#onEnd?.();
      this.#watch.close();
    }
  }

  async #pump(): Promise<void> {
    let failure: CoordError | undefined;
    try {
      for await (const batch of this.#watch) {
        const decoded = decodeWatchBatch(batch);
        this.#position = batch.revision;
        for (const member of this.#members) member.push(decoded);
      }
    } catch (err) {
      failure =
        err instanceof CoordError
          ? err
          : new CoordError(ErrorCodes.INTERNAL, 'topic feed: watch failed', { cause: err });
    }
    // Ended by etcd or the client (compaction, rollback, client closed): new subscribers need a new feed.
    if (!this.#ended) {
      this.#ended = true;
      this.#onEnd?.();
    }
    const error = failure ?? new CoordError(ErrorCodes.CLOSED, 'topic feed: watch ended');
    for (const member of this.#members) member.end(error);
    this.#members.clear();
  }
}

/** One subscription's place in a {@link TopicFeed}: a queue of the batches it has not taken yet. */
export class FeedMember {
  readonly #feed: TopicFeed;
  readonly #queue: DecodedBatch[] = [];
  #failure: CoordError | undefined;
  #left = false;
  #wake: (() => void) | undefined;
  /** Batches below this revision are dropped: they precede the subscription's start. */
  skipBelow = 0n;
  /** Resolves with the revision after which this member receives every batch. */
  readonly start: Promise<bigint>;

  constructor(feed: TopicFeed, start: Promise<bigint>) {
    this.#feed = feed;
    this.start = start;
    start.catch(() => undefined);
  }

  /** Why the feed ended, once every batch before the end has been taken. */
  get failure(): CoordError | undefined {
    return this.#queue.length === 0 ? this.#failure : undefined;
  }

  /** The next batch at or after {@link skipBelow}, if one is queued. */
  poll(): DecodedBatch | undefined {
    for (;;) {
      const batch = this.#queue.shift();
      if (batch === undefined || batch.revision >= this.skipBelow) return batch;
    }
  }

  /** Resolves when a batch arrives, the feed ends, or the member leaves. One waiter at a time. */
  ready(): Promise<void> {
    if (this.#queue.length > 0 || this.#failure !== undefined || this.#left) return Promise.resolve();
    return new Promise((resolve) => (this.#wake = resolve));
  }

  /** Stops receiving; wakes a waiter. Idempotent. */
  leave(): void {
    if (this.#left) return;
    this.#left = true;
    this.#feed.remove(this);
    this.#notify();
  }

  /** @internal */
  push(batch: DecodedBatch): void {
    this.#queue.push(batch);
    this.#notify();
  }

  /** @internal */
  end(failure: CoordError): void {
    this.#failure = failure;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

const sharedFeeds = new WeakMap<EtcdClient, Map<string, TopicFeed>>();

/**
 * Joins the client's shared feed of a topic, starting it if there is none. `created` tells whether
 * this call started it: its position is then the revision etcd had when this call was made.
 */
export function joinSharedFeed(
  client: EtcdClient,
  layout: TopicLayout,
): { feed: TopicFeed; member: FeedMember; created: boolean } {
  let feeds = sharedFeeds.get(client);
  if (feeds === undefined) {
    feeds = new Map();
    sharedFeeds.set(client, feeds);
  }
  const existing = feeds.get(layout.name);
  if (existing) return { feed: existing, member: existing.join(), created: false };
  const topicFeeds = feeds;
  const feed: TopicFeed = new TopicFeed(client, layout, undefined, () => {
    if (topicFeeds.get(layout.name) === feed) topicFeeds.delete(layout.name);
  });
  feeds.set(layout.name, feed);
  return { feed, member: feed.join(), created: true };
}

/** A feed of one subscription that must start at `fromRevision` (behind the shared feed). */
export function joinPrivateFeed(client: EtcdClient, layout: TopicLayout, fromRevision: bigint): FeedMember {
  return new TopicFeed(client, layout, fromRevision).join();
}
