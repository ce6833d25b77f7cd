import { createClient, Session } from '@coordkit/core';
import { Queue } from '@coordkit/queue';
import { faultProxy, sharedEndpoints, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { countRequests, keysUnder, queueName, testClient } from './helpers.js';

describe('an enqueue whose reply is lost (F12)', () => {
  it('is retried with the same id and lands exactly once', async () => {
    const name = queueName('q-f12');
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint], requestTimeout: 300 });
    using direct = testClient();
    try {
      const session = await Session.create(client, { ttl: 10 });
      await using queue = new Queue<string>(session, name);
      // A first enqueue while the network is healthy also takes the enqueue-marker lease.
      await queue.enqueue('warm-up', { id: 'warm-up' });
      // Replies arrive after the request deadline: the first attempt applies but looks unanswered.
      proxy.delay(600);
      const sent = countRequests(client);
      const enqueued = queue.enqueue('payload', { id: 'invoice-7' });
      await waitFor(async () => (await direct.get(`${name}/jobs/invoice-7`).string()) !== null, {
        message: 'the first attempt to apply',
      });
      // The first attempt's deadline passed without a reply: the queue re-sent it.
      await waitFor(() => sent.txn >= 2, { message: 'a retry of the enqueue' });
      proxy.heal();
      const result = await enqueued;
      // The retry found the job its own lost attempt wrote.
      expect(result).toMatchObject({ id: 'invoice-7', duplicate: true });
      const keys = Object.keys(await keysUnder(direct, `${name}/`));
      expect(keys.filter((k) => k.includes('/jobs/'))).toEqual([
        `${name}/jobs/invoice-7`,
        `${name}/jobs/warm-up`,
      ]);
      expect(keys.filter((k) => k.includes('/ready/'))).toHaveLength(2);
      // A caller retrying on its own with the same id is just as safe.
      expect((await queue.enqueue('payload', { id: 'invoice-7' })).duplicate).toBe(true);
      expect((await queue.stats()).ready).toBe(2);
      await session.close();
    } finally {
      client.close();
    }
  });
});
