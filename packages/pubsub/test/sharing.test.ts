import { CoordError, ErrorCodes } from '@coordkit/core';
import { Topic } from '@coordkit/pubsub';
import { faultProxy, sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { collect, testClient } from './helpers.js';

interface Order {
  readonly id: number;
  readonly lines: readonly { readonly sku: string }[];
}

/** Counts `kv.put` calls of a client that failed (e.g. their reply came after the deadline). */
/** Counts the writes (a publish's put, its re-sends' txns) that failed, e.g. with a lost reply. */
function countFailedWrites(client: Etcd3) {
  const counts = { failed: 0 };
  const failed = (err: unknown) => {
    counts.failed++;
    throw err;
  };
  const put = client.kv.put.bind(client.kv);
  const txn = client.kv.txn.bind(client.kv);
  client.kv.put = (...args) => put(...args).catch(failed);
  client.kv.txn = (...args) => txn(...args).catch(failed);
  return counts;
}

describe('subscriptions sharing one client', () => {
  it('get the same decoded message object, deeply frozen', async () => {
    const name = `${uniquePrefix('pubsub-shared')}topic`;
    using client = testClient();
    using publisherClient = testClient();
    const topic = new Topic<Order>(client, name);
    await using a = topic.subscribe();
    await using b = topic.subscribe();
    await Promise.all([a.ready(), b.ready()]);
    const seenA = collect(a);
    const seenB = collect(b);
    await new Topic<Order>(publisherClient, name).publish({ id: 1, lines: [{ sku: 'x' }] });
    await waitFor(() => seenA.seen.length === 1 && seenB.seen.length === 1);
    const message = seenA.seen[0]!;
    expect(seenB.seen[0]).toBe(message);
    expect(message.data).toEqual({ id: 1, lines: [{ sku: 'x' }] });
    expect(Object.isFrozen(message) && Object.isFrozen(message.data)).toBe(true);
    expect(Object.isFrozen(message.data.lines) && Object.isFrozen(message.data.lines[0])).toBe(true);
    expect(() => {
      (message.data.lines[0] as { sku: string }).sku = 'changed';
    }).toThrow(TypeError);
    expect(seenB.seen[0]!.data.lines[0]!.sku).toBe('x');
  });

  it("a 'latest' subscription joining a running feed never gets a message published before subscribe()", async () => {
    const name = `${uniquePrefix('pubsub-join-latest')}topic`;
    using client = testClient();
    using publisherClient = testClient();
    const publisher = new Topic<number>(publisherClient, name);
    // Keeps the client's feed of the topic running, so later subscriptions join it.
    await using first = new Topic<number>(client, name).subscribe();
    await first.ready();
    for (let round = 0; round < 10; round++) {
      const before = await publisher.publish(-1);
      // Subscribe at once: the running feed has most likely not received `before` yet.
      await using late = new Topic<number>(client, name).subscribe();
      expect(await late.ready()).toBeGreaterThanOrEqual(before.revision);
      const after = await publisher.publish(round);
      const next = await late[Symbol.asyncIterator]().next();
      expect(next.value).toMatchObject({ data: round, revision: after.revision });
    }
  });

  it('a subscription behind the shared feed replays from its revision; one ahead of it joins', async () => {
    const name = `${uniquePrefix('pubsub-behind')}topic`;
    using client = testClient();
    using publisherClient = testClient();
    const publisher = new Topic<number>(publisherClient, name);
    const topic = new Topic<number>(client, name);
    await using live = topic.subscribe();
    await live.ready();
    const liveSeen = collect(live);
    const revisions: bigint[] = [];
    for (let i = 0; i < 5; i++) revisions.push((await publisher.publish(i)).revision);
    await waitFor(() => liveSeen.seen.length === 5);
    await using behind = topic.subscribe({ from: revisions[1]! });
    await using ahead = topic.subscribe({ from: revisions[4]! + 1n });
    const behindSeen = collect(behind);
    const aheadSeen = collect(ahead);
    await Promise.all([behind.ready(), ahead.ready()]);
    for (let i = 5; i < 7; i++) await publisher.publish(i);
    await waitFor(() => behindSeen.seen.length === 6 && aheadSeen.seen.length === 2);
    expect(behindSeen.data()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(aheadSeen.data()).toEqual([5, 6]);
    // The one ahead rides the shared feed: the very objects the live subscription got.
    await waitFor(() => liveSeen.seen.length === 7);
    expect(aheadSeen.seen[0]).toBe(liveSeen.seen[5]);
  });

  it('closing one leaves the others running; after the last, a new subscription starts a new feed', async () => {
    const name = `${uniquePrefix('pubsub-close-one')}topic`;
    using client = testClient();
    using publisherClient = testClient();
    const publisher = new Topic<number>(publisherClient, name);
    const topic = new Topic<number>(client, name);
    const a = topic.subscribe();
    const b = topic.subscribe();
    await Promise.all([a.ready(), b.ready()]);
    const seenA = collect(a);
    const seenB = collect(b);
    await publisher.publish(0);
    await waitFor(() => seenA.seen.length === 1 && seenB.seen.length === 1);
    await a.close();
    await seenA.done;
    await publisher.publish(1);
    await waitFor(() => seenB.seen.length === 2);
    await b.close();
    await seenB.done;
    await using c = topic.subscribe();
    await c.ready();
    const seenC = collect(c);
    await publisher.publish(2);
    await waitFor(() => seenC.seen.length === 1);
    expect([seenA.data(), seenB.data(), seenC.data()]).toEqual([[0], [0, 1], [2]]);
    expect([seenA.failure, seenB.failure, seenC.failure]).toEqual([undefined, undefined, undefined]);
  });

  it('serves next() calls made before the previous one resolved, in order', async () => {
    const name = `${uniquePrefix('pubsub-concurrent-next')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    await using subscription = topic.subscribe();
    const iterator = subscription[Symbol.asyncIterator]();
    const pending = [iterator.next(), iterator.next(), iterator.next()];
    await subscription.ready();
    await topic.publish(0);
    await topic.publishBatch([1, 2]);
    const results = await Promise.all(pending);
    expect(results.map((r) => r.value?.data)).toEqual([0, 1, 2]);
  });
});

describe('publish when a reply is lost (F12)', () => {
  it('re-sends, reports the first write, and the message is delivered once, live and replayed', async () => {
    const name = `${uniquePrefix('pubsub-lost-reply')}topic`;
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    using publisherClient = testClient([proxy.endpoint], { requestTimeout: 200 });
    using subscriberClient = testClient();
    const failed = countFailedWrites(publisherClient);
    const publisher = new Topic<string>(publisherClient, name);
    await using live = new Topic<string>(subscriberClient, name).subscribe();
    await live.ready();
    const liveSeen = collect(live);
    await publisher.publish('warm-up'); // connected before replies are delayed, so requests get through

    proxy.delay(400);
    const publishing = publisher.publish('once');
    // The first attempt and at least one re-send landed, with their replies past the deadline.
    await waitFor(() => failed.failed >= 2, { timeout: 10_000, message: 'the publish reply to be lost' });
    proxy.heal();
    const published = await publishing;
    const marker = await publisher.publish('marker');

    await waitFor(() => liveSeen.seen.length === 3, { message: 'the message and the marker' });
    expect(liveSeen.data()).toEqual(['warm-up', 'once', 'marker']);
    expect(liveSeen.seen[1]!.revision).toBe(published.revision);
    // The re-sends found the key and wrote nothing.
    const stored = await subscriberClient.get(published.keys[0]!).exec();
    expect(Number(stored.kvs[0]!.version)).toBe(1);
    expect(BigInt(stored.kvs[0]!.create_revision)).toBe(published.revision);

    await using replaying = new Topic<string>(subscriberClient, name).subscribe({ from: 'earliest' });
    const replay = collect(replaying);
    await waitFor(() => replay.seen.length === 3, { message: 'the replay' });
    expect(replay.seen.slice(1).map((m) => [m.data, m.revision])).toEqual([
      ['once', published.revision],
      ['marker', marker.revision],
    ]);
  });

  it('does not publish again a message that landed and was trimmed before the re-send', async () => {
    const name = `${uniquePrefix('pubsub-lost-trimmed')}topic`;
    const retention = { maxMessages: 1 };
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    using publisherClient = testClient([proxy.endpoint], { requestTimeout: 200 });
    using otherClient = testClient();
    const failed = countFailedWrites(publisherClient);
    const publisher = new Topic<string>(publisherClient, name, { retention });
    const other = new Topic<string>(otherClient, name, { retention });
    await using live = new Topic<string>(otherClient, name).subscribe();
    await live.ready();
    const seen = collect(live);
    await publisher.publish('warm-up');

    proxy.delay(400);
    const publishing = publisher.publish('once');
    publishing.catch(() => undefined);
    await waitFor(() => seen.data().includes('once') && failed.failed >= 1, {
      timeout: 10_000,
      message: "'once' to land with its reply lost",
    });
    // Another publisher's message pushes it out: it is trimmed while the first publisher re-sends.
    await other.publish('other');
    await other.trim();
    const retained = await otherClient.getAll().prefix(`${name}/msg/`).strings();
    expect(Object.values(retained)).toEqual(['"other"']);
    const failedBefore = failed.failed;
    await waitFor(() => failed.failed > failedBefore, {
      timeout: 10_000,
      message: 'a re-send after the trim',
    });
    proxy.heal();

    await expect(publishing).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.UNKNOWN_OUTCOME));
    const marker = await publisher.publish('marker');
    await waitFor(() => seen.data().includes('marker'), { message: 'the marker' });
    // Delivered once; re-sent as a plain put it would have been created, and delivered, again.
    expect(seen.data()).toEqual(['warm-up', 'once', 'other', 'marker']);
    expect(marker.revision).toBeGreaterThan(0n);
  });
});
