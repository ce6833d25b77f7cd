import { CoordError, ErrorCodes } from '@coordkit/core';
import { Topic } from '@coordkit/pubsub';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { collect, inPublishOrder, testClient } from './helpers.js';

interface Payload {
  readonly p: number;
  readonly s: number;
}

describe('Topic', () => {
  it('delivers every message of several concurrent publishers exactly once, in revision order', async () => {
    const name = `${uniquePrefix('pubsub-order')}topic`;
    using subscriberClient = testClient();
    using otherSubscriberClient = testClient();
    const publisherClients = [testClient(), testClient(), testClient()];
    try {
      await using subA = new Topic<Payload>(subscriberClient, name).subscribe();
      await using subB = new Topic<Payload>(otherSubscriberClient, name).subscribe();
      await Promise.all([subA.ready(), subB.ready()]);
      const a = collect(subA);
      const b = collect(subB);
      const published = await Promise.all(
        publisherClients.map(async (client, p) => {
          const topic = new Topic<Payload>(client, name);
          const revisions: bigint[] = [];
          for (let s = 0; s < 60; s++) revisions.push((await topic.publish({ p, s })).revision);
          return revisions;
        }),
      );
      const expected = published.flat().sort((x, y) => (x < y ? -1 : 1));
      for (const { seen } of [a, b]) {
        await waitFor(() => seen.length >= 180, { message: 'all 180 messages' });
        expect(seen.map((m) => m.revision)).toEqual(expected);
        expect(inPublishOrder(seen)).toBe(true);
        for (let p = 0; p < 3; p++) {
          const mine = seen.filter((m) => m.data.p === p);
          expect(mine.map((m) => m.data.s)).toEqual(Array.from({ length: 60 }, (_, s) => s));
          expect(mine.map((m) => m.revision)).toEqual(published[p]);
        }
      }
      await subA.close();
      await a.done;
      expect(a.failure).toBeUndefined();
    } finally {
      for (const client of publisherClients) client.close();
    }
  });

  it("starts at 'latest' by default, at 'earliest' with the retained history, or at a revision", async () => {
    const name = `${uniquePrefix('pubsub-from')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    const revisions: bigint[] = [];
    for (let i = 0; i < 5; i++) revisions.push((await topic.publish(i)).revision);
    await using latest = topic.subscribe();
    await using earliest = topic.subscribe({ from: 'earliest' });
    await using fromThird = topic.subscribe({ from: revisions[2]! });
    expect(await latest.ready()).toBeGreaterThanOrEqual(revisions[4]!);
    const seen = [collect(latest), collect(earliest), collect(fromThird)];
    await Promise.all([latest.ready(), earliest.ready(), fromThird.ready()]);
    for (let i = 5; i < 8; i++) await topic.publish(i);
    await waitFor(
      () => seen[0]!.seen.length === 3 && seen[1]!.seen.length === 8 && seen[2]!.seen.length === 6,
      {
        message: 'each subscriber to reach message 7',
      },
    );
    expect(seen.map((c) => c.data())).toEqual([
      [5, 6, 7],
      [0, 1, 2, 3, 4, 5, 6, 7],
      [2, 3, 4, 5, 6, 7],
    ]);
    expect(seen[1]!.seen.slice(0, 5).map((m) => m.revision)).toEqual(revisions);
  });

  it('publishes a batch at one revision and delivers it in the order given, live and from history', async () => {
    const name = `${uniquePrefix('pubsub-batch')}topic`;
    using client = testClient();
    const topic = new Topic<string>(client, name);
    await using live = topic.subscribe();
    await live.ready();
    const liveSeen = collect(live);
    const first = await topic.publish('before');
    const letters = Array.from({ length: 20 }, (_, i) => String.fromCharCode(122 - i)); // z..g: not sorted
    const batch = await topic.publishBatch(letters);
    const last = await topic.publish('after');
    expect(batch.keys).toHaveLength(20);
    expect(batch.revision).toBeGreaterThan(first.revision);
    expect(last.revision).toBeGreaterThan(batch.revision);
    await using replay = topic.subscribe({ from: first.revision });
    const replaySeen = collect(replay);
    await using earliest = topic.subscribe({ from: 'earliest' });
    const earliestSeen = collect(earliest);
    for (const c of [liveSeen, replaySeen, earliestSeen]) {
      await waitFor(() => c.seen.length === 22, { message: '22 messages' });
      expect(c.data()).toEqual(['before', ...letters, 'after']);
      expect(c.seen.slice(1, 21).every((m) => m.revision === batch.revision)).toBe(true);
      expect(c.seen.slice(1, 21).map((m) => m.index)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(inPublishOrder(c.seen)).toBe(true);
    }
  });

  it('rejects bad input before writing anything', async () => {
    const name = `${uniquePrefix('pubsub-args')}topic`;
    using client = testClient();
    expect(() => new Topic(client, '')).toThrow(/topic name/);
    expect(() => new Topic(client, name, { retention: { maxMessages: 0 } })).toThrow(/retention.maxMessages/);
    const topic = new Topic<unknown>(client, name);
    await expect(topic.publish(undefined)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(topic.publishBatch([])).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGUMENT });
    await expect(topic.publishBatch(Array.from({ length: 129 }, () => 1))).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
    });
    expect(() => topic.subscribe({ from: 0n })).toThrow(CoordError);
    expect(() => topic.subscribe({ group: 'g/' })).toThrow(/group/);
    const stored = await client.getAll().prefix(`${name}/`).count();
    expect(stored).toBe(0);
  });

  it('ends the loop without error when the signal aborts, and closing is idempotent', async () => {
    const name = `${uniquePrefix('pubsub-abort')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    const controller = new AbortController();
    const subscription = topic.subscribe({ signal: controller.signal });
    await subscription.ready();
    const c = collect(subscription);
    await topic.publish(1);
    await waitFor(() => c.seen.length === 1);
    controller.abort();
    await c.done;
    expect(c.failure).toBeUndefined();
    await subscription.close();
    await subscription[Symbol.asyncDispose]();
    expect(c.data()).toEqual([1]);
  });

  it('sets aside a message that is not JSON: reported as DECODE_FAILED naming its key, delivery goes on', async () => {
    const name = `${uniquePrefix('pubsub-garbage')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    const reported: CoordError[] = [];
    await using subscription = topic.subscribe({ onUndecodable: (error) => reported.push(error) });
    await subscription.ready();
    const c = collect(subscription);
    await client.put(`${name}/msg/garbage`).value('{not json');
    await topic.publish(7);
    await waitFor(() => c.data().length === 1);
    expect(c.data()).toEqual([7]);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toMatchObject({ code: ErrorCodes.DECODE_FAILED, key: `${name}/msg/garbage` });
    expect(c.failure).toBeUndefined();
  });

  it('ends the subscription on garbage when onUndecodable throws', async () => {
    const name = `${uniquePrefix('pubsub-garbage-strict')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    await using subscription = topic.subscribe({
      onUndecodable: (error) => {
        throw error;
      },
    });
    await subscription.ready();
    const c = collect(subscription);
    await client.put(`${name}/msg/garbage`).value('{not json');
    await c.done;
    expect(c.failure).toMatchObject({ code: ErrorCodes.DECODE_FAILED, key: `${name}/msg/garbage` });
  });
});
