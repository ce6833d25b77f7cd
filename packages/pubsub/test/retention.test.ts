import { CoordError, ErrorCodes, toWire } from '@coordkit/core';
import { Topic } from '@coordkit/pubsub';
import { type EtcdCluster, faultProxy, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, inPublishOrder, testClient } from './helpers.js';

async function publishAll(topic: Topic<number>, from: number, to: number): Promise<bigint[]> {
  const revisions: bigint[] = [];
  for (let i = from; i < to; i++) revisions.push((await topic.publish(i)).revision);
  return revisions;
}

async function countMessages(client: ReturnType<typeof testClient>, name: string): Promise<number> {
  return client.getAll().prefix(`${name}/msg/`).count();
}

describe('retention', () => {
  it('trims by count: a live subscriber sees no trim, a late one gets COMPACTED with the first available revision', async () => {
    const name = `${uniquePrefix('pubsub-count')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name, { retention: { maxMessages: 10 } });
    await using live = topic.subscribe();
    await live.ready();
    const liveSeen = collect(live);
    const revisions = await publishAll(topic, 0, 40);
    await topic.trim();
    expect(await countMessages(client, name)).toBe(10);
    // The background trims (every publish here) never showed up as messages.
    await waitFor(() => liveSeen.seen.length === 40, { message: 'all 40 messages live' });
    expect(liveSeen.data()).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const firstKept = revisions[30]!;
    const earliest = collect(topic.subscribe({ from: 'earliest' }));
    await waitFor(() => earliest.seen.length === 10);
    expect(earliest.data()).toEqual(Array.from({ length: 10 }, (_, i) => 30 + i));
    for (const from of [revisions[0]!, revisions[29]!]) {
      const late = collect(topic.subscribe({ from }));
      await late.done;
      expect(late.failure).toBeInstanceOf(CoordError);
      expect(late.failure).toMatchObject({
        code: ErrorCodes.COMPACTED,
        compactRevision: revisions[29]! + 1n,
      });
      expect((late.failure as CoordError).compactRevision! <= firstKept).toBe(true);
      expect(late.seen).toEqual([]);
    }
    const fromKept = collect(topic.subscribe({ from: firstKept }));
    await waitFor(() => fromKept.seen.length === 10);
    expect(fromKept.data()).toEqual(earliest.data());
  });

  it('trims by age, oldest first', async () => {
    const name = `${uniquePrefix('pubsub-age')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name, { retention: { maxAgeMs: 300 } });
    const old = await publishAll(topic, 0, 5);
    await waitFor(
      async () => {
        await topic.trim();
        return (await countMessages(client, name)) === 0;
      },
      { interval: 100, message: 'old messages to age out' },
    );
    const fresh = await publishAll(topic, 5, 8);
    expect(await topic.trim()).toBe(0);
    const earliest = collect(topic.subscribe({ from: 'earliest' }));
    await waitFor(() => earliest.seen.length === 3);
    expect(earliest.seen.map((m) => m.revision)).toEqual(fresh);
    const late = collect(topic.subscribe({ from: old[0]! }));
    await late.done;
    expect(late.failure).toMatchObject({ code: ErrorCodes.COMPACTED, compactRevision: old[4]! + 1n });
  });
});

describe('compaction (own etcd: compacting the shared one would break other tests)', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcd({ nodes: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  async function compactNow(client: ReturnType<typeof testClient>): Promise<bigint> {
    const { header } = await client.kv.range({ key: Buffer.from('/') });
    await client.kv.compact({ revision: header.revision, physical: true });
    return BigInt(header.revision);
  }

  it('recovers without loss when only compaction hit a disconnected subscriber (F9)', async () => {
    const name = `${uniquePrefix('pubsub-compact')}topic`;
    using client = testClient(cluster.endpoints);
    await using proxy = await faultProxy(cluster.endpoints[0]!);
    using subscriberClient = testClient([proxy.endpoint]);
    const topic = new Topic<number>(client, name);
    // Two subscriptions of one client share its watch of the topic: both must recover.
    await using subscription = new Topic<number>(subscriberClient, name).subscribe();
    await using other = new Topic<number>(subscriberClient, name).subscribe();
    await Promise.all([subscription.ready(), other.ready()]);
    const c = collect(subscription);
    const d = collect(other);
    await publishAll(topic, 0, 5);
    await waitFor(() => c.seen.length === 5 && d.seen.length === 5);
    proxy.blackhole();
    await publishAll(topic, 5, 20);
    await compactNow(client);
    // Drop the stalled connection: the watch resumes from a compacted revision.
    proxy.reset();
    proxy.heal();
    await publishAll(topic, 20, 25);
    for (const seen of [c, d]) {
      await waitFor(() => seen.seen.length >= 25, { timeout: 20_000, message: 'all 25 messages' });
      expect(seen.failure).toBeUndefined();
      expect(seen.data()).toEqual(Array.from({ length: 25 }, (_, i) => i));
      expect(inPublishOrder(seen.seen)).toBe(true);
    }
  });

  it('reports COMPACTED to a disconnected subscriber whose messages were trimmed and compacted (F9)', async () => {
    const name = `${uniquePrefix('pubsub-gap')}topic`;
    using client = testClient(cluster.endpoints);
    await using proxy = await faultProxy(cluster.endpoints[0]!);
    using subscriberClient = testClient([proxy.endpoint]);
    const topic = new Topic<number>(client, name, { retention: { maxMessages: 5, trimEvery: 1000 } });
    await using subscription = new Topic<number>(subscriberClient, name).subscribe();
    await subscription.ready();
    const c = collect(subscription);
    await publishAll(topic, 0, 3);
    await waitFor(() => c.seen.length === 3);
    proxy.blackhole();
    const missed = await publishAll(topic, 3, 20);
    await topic.trim();
    await compactNow(client);
    proxy.reset();
    proxy.heal();
    await c.done;
    expect(c.data()).toEqual([0, 1, 2]);
    expect(c.failure).toMatchObject({ code: ErrorCodes.COMPACTED, compactRevision: missed[11]! + 1n });
    // A new subscriber asking for the trimmed and compacted history is told the same.
    const late = collect(topic.subscribe({ from: missed[0]! }));
    await late.done;
    expect(late.failure).toMatchObject({ code: ErrorCodes.COMPACTED, compactRevision: missed[11]! + 1n });
    // ...and one asking for a compacted but retained revision gets the retained messages.
    const retained = collect(topic.subscribe({ from: missed[12]! }));
    await waitFor(() => retained.seen.length === 5);
    expect(retained.data()).toEqual([15, 16, 17, 18, 19]);
    expect(toWire(retained.seen[0]!.revision)).toBe(toWire(missed[12]!));
  });
});
