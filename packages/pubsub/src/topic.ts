import { assertArgument, type EtcdClient, validateName } from '@coordkit/core';
import { TopicLayout } from './internal/layout.js';
import { writeMessages } from './internal/publish-write.js';
import { type RetentionLimits, trimMessages } from './internal/retention.js';
import { encodeMessage } from './message.js';
import type { SubscribeOptions } from './subscribe-options.js';
import { Subscription } from './subscription.js';

/** How much history a topic keeps. Trimming deletes the oldest messages first. */
export interface RetentionOptions {
  /** Keep at most this many messages (`Infinity`: no count limit). Default 10 000. */
  readonly maxMessages?: number;
  /** Delete messages older than this, by the publisher's clock, ms. Default: no age limit. */
  readonly maxAgeMs?: number;
  /**
   * Trim after every this many publish calls of this `Topic` object. Default: a tenth of
   * `maxMessages`, between 1 and 1,000 (100 with no count limit).
   */
  readonly trimEvery?: number;
}

/** Options of {@link Topic}. */
export interface TopicOptions {
  /** History bounds, enforced by publishers. Default `{ maxMessages: 10_000 }`. */
  readonly retention?: RetentionOptions;
}

/** What a publish returns. */
export interface PublishResult {
  /** The revision the message (or batch) was published at: its place in the topic's order. */
  readonly revision: bigint;
  /** The etcd keys written, in publish order. */
  readonly keys: readonly string[];
}

/** The largest batch: etcd refuses transactions of more than 128 operations (`--max-txn-ops`). */
export const MAX_BATCH = 128;

/**
 * A publish/subscribe topic on etcd: each message is one key `<name>/msg/<id>` holding JSON, and
 * the topic's order is etcd's revision order.
 *
 * Publishing is exactly-once: each publish writes a fresh key, and a message is that key's creation,
 * so a write re-sent after a lost reply finds the key instead of publishing twice. Retention is
 * enforced by publishers, which trim the oldest messages every `trimEvery` publishes in the
 * background (see {@link Topic.trim}).
 * The client is the caller's: closing it is the caller's job.
 */
export class Topic<T = unknown> {
  readonly name: string;
  readonly #client: EtcdClient;
  readonly #layout: TopicLayout;
  readonly #limits: RetentionLimits;
  readonly #trimEvery: number;
  #sinceTrim = 0;
  #trimming: Promise<number> | undefined;
  /** The revision of this object's latest publish: a later publish lands after it (see `writeMessages`). */
  #lastPublished = 0n;

  constructor(client: EtcdClient, name: string, options: TopicOptions = {}) {
    this.name = validateName(name, 'topic');
    const maxMessages = options.retention?.maxMessages ?? 10_000;
    const maxAgeMs = options.retention?.maxAgeMs ?? Number.POSITIVE_INFINITY;
    assertArgument(
      maxMessages === Number.POSITIVE_INFINITY || (Number.isInteger(maxMessages) && maxMessages >= 1),
      'retention.maxMessages',
      'a whole number >= 1 or Infinity',
    );
    assertArgument(maxAgeMs > 0, 'retention.maxAgeMs', 'a positive number of milliseconds');
    const trimEvery =
      options.retention?.trimEvery ??
      // Each check counts the topic's keys in etcd, which visits every message while holding etcd's
      // index lock (writes wait meanwhile: one check per 100 publishes raised publish p99 by 24 to 48 %
      // in pubsub-latency). A tenth of the limit keeps that under ~10 keys visited per publish, and the topic
      // within 110 % of maxMessages per publisher.
      (Number.isFinite(maxMessages) ? Math.min(1000, Math.max(1, Math.ceil(maxMessages / 10))) : 100);
    assertArgument(
      Number.isInteger(trimEvery) && trimEvery >= 1,
      'retention.trimEvery',
      'a whole number >= 1',
    );
    this.#client = client;
    this.#layout = new TopicLayout(this.name);
    this.#limits = { maxMessages, maxAgeMs };
    this.#trimEvery = trimEvery;
  }

  /**
   * Publishes one message in one write (a put of a fresh key); resolves with its revision. A lost
   * reply is retried without publishing twice; an outcome that stays unknown after retries (etcd
   * unreachable) rejects with `UNKNOWN_OUTCOME` (or `UNAVAILABLE` if no attempt can have landed):
   * the message may then have been published, at most once.
   */
  async publish(data: T): Promise<PublishResult> {
    return this.#publish([encodeMessage(data, 'data')]);
  }

  /**
   * Publishes up to {@link MAX_BATCH} messages in one transaction: they share one revision, and
   * subscribers receive them together, in the order given.
   */
  async publishBatch(messages: readonly T[]): Promise<PublishResult> {
    assertArgument(Array.isArray(messages) && messages.length >= 1, 'messages', 'a non-empty array');
    assertArgument(messages.length <= MAX_BATCH, 'messages', `at most ${MAX_BATCH} messages per batch`);
    return this.#publish(messages.map((data, i) => encodeMessage(data, `messages[${i}]`)));
  }

  /** Subscribes (see {@link Subscription} for order, loss and cancellation). Starts positioning at once. */
  subscribe(options: SubscribeOptions = {}): Subscription<T> {
    return new Subscription<T>(this.#client, this.#layout, options);
  }

  /**
   * Deletes messages beyond the retention limits now (waiting for a background trim first) and
   * resolves with how many were deleted. Subscribers that later ask for them get `COMPACTED`.
   */
  async trim(): Promise<number> {
    await this.#trimming?.catch(() => undefined);
    this.#sinceTrim = 0;
    return trimMessages(this.#client, this.#layout, this.#limits, `topic "${this.name}"`);
  }

  async #publish(values: readonly Buffer[]): Promise<PublishResult> {
    const keys = this.#layout.messageKeys(values.length);
    const what = `topic "${this.name}": publish`;
    const revision = await writeMessages(this.#client, this.#layout, {
      keys,
      values,
      what,
      sentAfter: this.#lastPublished,
    });
    if (revision > this.#lastPublished) this.#lastPublished = revision;
    this.#afterPublish();
    return { revision, keys };
  }

  #afterPublish(): void {
    if (++this.#sinceTrim < this.#trimEvery || this.#trimming) return;
    this.#sinceTrim = 0;
    // In the background: a publish must not fail, or wait, because trimming did.
    this.#trimming = trimMessages(this.#client, this.#layout, this.#limits, `topic "${this.name}"`)
      .catch(() => 0)
      .finally(() => (this.#trimming = undefined));
  }
}
