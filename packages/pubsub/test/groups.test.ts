import { Topic } from '@coordkit/pubsub';
import { uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { testClient } from './helpers.js';

describe('durable groups', () => {
  it('resume after the last acknowledged message, committing in batches', async () => {
    const name = `${uniquePrefix('pubsub-group')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    for (let i = 0; i < 10; i++) await topic.publish(i);
    const first: number[] = [];
    {
      await using subscription = topic.subscribe({ group: 'billing', from: 'earliest' });
      for await (const message of subscription) {
        first.push(message.data);
        if (message.data === 4) break;
      }
    }
    expect(first).toEqual([0, 1, 2, 3, 4]);
    for (let i = 10; i < 300; i++) await topic.publish(i);
    const second: number[] = [];
    {
      // `from` is ignored once the group has a position.
      await using subscription = topic.subscribe({ group: 'billing', from: 'latest' });
      for await (const message of subscription) {
        second.push(message.data);
        if (message.data === 299) break;
      }
    }
    // The message in hand when the loop was left (4) was not acknowledged: delivered again, nothing lost.
    expect(second).toEqual(Array.from({ length: 296 }, (_, i) => 4 + i));
    const stored = await client.get(`${name}/groups/billing`).exec();
    const kv = stored.kvs[0]!;
    // 300 acknowledgements, a handful of commits.
    expect(Number(kv.version)).toBeLessThan(30);
    expect(BigInt(kv.value.toString())).toBeGreaterThan(0n);
  });

  it('a new group starting at latest remembers its start, so nothing published before its first message is lost', async () => {
    const name = `${uniquePrefix('pubsub-newgroup')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    await topic.publish(-1);
    const subscription = topic.subscribe({ group: 'g' });
    await subscription.ready();
    await subscription.close();
    await topic.publish(0);
    await topic.publish(1);
    await using again = topic.subscribe({ group: 'g' });
    const seen: number[] = [];
    for await (const message of again) {
      seen.push(message.data);
      if (seen.length === 2) break;
    }
    expect(seen).toEqual([0, 1]);
  });

  it('commits the position on its interval while the loop is idle', async () => {
    const name = `${uniquePrefix('pubsub-interval')}topic`;
    using client = testClient();
    const topic = new Topic<number>(client, name);
    await using subscription = topic.subscribe({ group: 'g', commitInterval: 50 });
    await subscription.ready();
    const iterator = subscription[Symbol.asyncIterator]();
    const { revision } = await topic.publish(1);
    await topic.publish(2);
    expect((await iterator.next()).value?.data).toBe(1);
    // Asking for message 2 acknowledges message 1.
    expect((await iterator.next()).value?.data).toBe(2);
    await waitFor(async () => (await client.get(`${name}/groups/g`).string()) === revision.toString(), {
      message: 'the position of message 1 to be committed',
    });
  });
});
