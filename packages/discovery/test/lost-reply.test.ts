import { createClient, Session } from '@coordkit/core';
import { ServiceRegistry } from '@coordkit/discovery';
import { faultProxy, sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { testClient } from './helpers.js';

describe('a registration write whose reply is lost (F12)', () => {
  it('is retried and recognised as its own write, not reported as a conflict', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint], requestTimeout: 300 });
    using direct = testClient();
    try {
      const session = await Session.create(client, { ttl: 10 });
      const registry = new ServiceRegistry(session, { prefix: `${uniquePrefix('disc-f12')}services` });
      await using registration = await registry.register({ service: 'api', address: '10.0.0.1:80' });
      const before = (await direct.get(registration.key).exec()).kvs[0]!.mod_revision;
      let txns = 0;
      const txn = client.kv.txn.bind(client.kv);
      client.kv.txn = (...args) => {
        txns++;
        return txn(...args);
      };
      // Replies now arrive after the deadline: the first attempt applies but looks unanswered.
      proxy.delay(600);
      const updating = registration.update({ version: 2 });
      await waitFor(async () => (await direct.get(registration.key).exec()).kvs[0]!.mod_revision !== before, {
        message: 'the first attempt to apply',
      });
      // Heal only once the write was re-sent, so the answer that counts is the retry's.
      await waitFor(() => txns >= 2, { message: 'a retry of the write' });
      proxy.heal();
      await updating;
      const stored = JSON.parse((await direct.get(registration.key).string())!);
      expect(stored.metadata).toEqual({ version: 2 });
      expect(registration.isRegistered()).toBe(true);
      await session.close();
    } finally {
      client.close();
    }
  });
});
