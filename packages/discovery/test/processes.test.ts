import { idempotent, Session } from '@coordkit/core';
import { ServiceRegistry, type ServiceWatch, watchService } from '@coordkit/discovery';
import { faultProxy, sharedEndpoints, startEtcd, uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { collectChanges, ids, startInstance, testClient, waitForIds } from './helpers.js';

function registryPrefix(label: string): string {
  return uniquePrefix(label).slice(0, -1);
}

/** What etcd holds for the service right now, as sorted ids. */
async function truth(
  client: ReturnType<typeof testClient>,
  prefix: string,
  service: string,
): Promise<string[]> {
  const keys = await idempotent('read truth', () => client.getAll().prefix(`${prefix}/${service}/`).keys());
  return keys.map((k) => k.slice(k.lastIndexOf('/') + 1)).sort();
}

describe('instances in separate processes', () => {
  it('a SIGKILLed instance disappears after its TTL, a deregistered one at once, and a re-registered one comes back', async () => {
    const prefix = registryPrefix('disc-procs');
    const ttl = 1;
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((id) => startInstance(sharedEndpoints(), prefix, 'api', id, ttl)),
    );
    await using _a = a!;
    await using _b = b!;
    await using _c = c!;
    using client = testClient();
    await using watch = watchService(client, 'api', { prefix });
    const changes = collectChanges(watch.changes());
    await watch.ready;
    expect(ids(watch)).toEqual(['a', 'b', 'c']);
    expect(watch.instances()[0]!.metadata.pid).toBe(a!.process.pid);

    const killedAt = performance.now();
    await a!.kill();
    await waitForIds(watch, ['b', 'c'], 10_000);
    const expiredAfter = performance.now() - killedAt;
    // Gone after the lease TTL (1 s, rounded up by etcd's lessor checks), never kept around.
    expect(expiredAfter).toBeLessThan(ttl * 1000 + 3_000);

    const deregisteredAt = performance.now();
    await b!.command('deregister', 'deregistered');
    await waitForIds(watch, ['c']);
    // At once: well under the TTL the lease would have taken.
    expect(performance.now() - deregisteredAt).toBeLessThan(ttl * 1000);

    await b!.command('register', 'registered');
    await waitForIds(watch, ['b', 'c']);
    expect(changes.summary()).toEqual(['up:a', 'up:b', 'up:c', 'down:a', 'down:b', 'up:b']);
  });
});

/** Registers and deregisters instances in rounds, checking that every watcher matches etcd after each. */
async function churn(
  client: ReturnType<typeof testClient>,
  registry: ServiceRegistry,
  prefix: string,
  watchers: readonly ServiceWatch[],
  rounds: number,
  fault: (round: number) => Promise<void> | void,
) {
  const live = new Map<string, Awaited<ReturnType<ServiceRegistry['register']>>>();
  for (let round = 0; round < rounds; round++) {
    const added = `r${round}`;
    live.set(added, await registry.register({ service: 'api', id: added, address: `h:${round}` }));
    if (round % 3 === 2) {
      const [first] = live.keys();
      await live.get(first!)!.deregister();
      live.delete(first!);
    }
    await fault(round);
    const expected = [...live.keys()].sort();
    expect(await truth(client, prefix, 'api')).toEqual(expected);
    for (const watch of watchers) await waitForIds(watch, expected, 20_000);
  }
  return live;
}

describe('watchers under faults', () => {
  it('stay correct while their connections are reset (F3)', async () => {
    const prefix = registryPrefix('disc-reset');
    using client = testClient();
    await using session = await Session.create(client, { ttl: 5 });
    const registry = new ServiceRegistry(session, { prefix });
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const watcherClients = [testClient([proxy.endpoint]), testClient([proxy.endpoint])];
    try {
      const watchers = watcherClients.map((c) => watchService(c, 'api', { prefix }));
      const logs = watchers.map((w) => collectChanges(w.changes()));
      await Promise.all(watchers.map((w) => w.ready));
      await churn(client, registry, prefix, watchers, 12, async (round) => {
        if (round % 2 === 0) proxy.reset();
      });
      expect(proxy.stats().totalConnections).toBeGreaterThan(2);
      // Exactly the changes that happened, each once: 12 ups and 4 downs.
      for (const log of logs) {
        expect(log.seen.filter((c) => c.type === 'up')).toHaveLength(12);
        expect(log.seen.filter((c) => c.type === 'down')).toHaveLength(4);
      }
      for (const w of watchers) w.close();
    } finally {
      for (const c of watcherClients) c.close();
    }
  });

  it('stay correct while the members of a 3-node cluster are killed in turn (F6)', async () => {
    await using cluster = await startEtcd({ nodes: 3 });
    const prefix = registryPrefix('disc-kill');
    using client = testClient(cluster.endpoints);
    await using session = await Session.create(client, { ttl: 5 });
    const registry = new ServiceRegistry(session, { prefix });
    const watcherClients = [testClient(cluster.endpoints), testClient(cluster.endpoints)];
    try {
      const watchers = watcherClients.map((c) => watchService(c, 'api', { prefix }));
      await Promise.all(watchers.map((w) => w.ready));
      let killed: number | undefined;
      await churn(client, registry, prefix, watchers, 9, async (round) => {
        if (killed !== undefined) {
          await cluster.restart(killed);
          killed = undefined;
        }
        if (round % 3 === 0) {
          killed = round / 3;
          await cluster.kill(killed);
        }
      });
      expect(session.isAlive()).toBe(true);
      for (const w of watchers) w.close();
    } finally {
      for (const c of watcherClients) c.close();
    }
  });

  it('re-read the set after missing compacted history, reporting the difference (F9)', async () => {
    await using cluster = await startEtcd({ nodes: 1 });
    const prefix = registryPrefix('disc-compact');
    using client = testClient(cluster.endpoints);
    await using session = await Session.create(client, { ttl: 5 });
    const registry = new ServiceRegistry(session, { prefix });
    await using proxy = await faultProxy(cluster.endpoints[0]!);
    using watcherClient = testClient([proxy.endpoint]);
    await using watch = watchService(watcherClient, 'api', { prefix });
    const changes = collectChanges(watch.changes());
    await watch.ready;
    const gone = await registry.register({ service: 'api', id: 'gone', address: 'h:1' });
    await registry.register({ service: 'api', id: 'stays', address: 'h:2' });
    await waitForIds(watch, ['gone', 'stays']);
    proxy.blackhole();
    await gone.deregister();
    await registry.register({ service: 'api', id: 'new', address: 'h:3' });
    const { header } = await client.kv.range({ key: Buffer.from('/') });
    await client.kv.compact({ revision: header.revision, physical: true });
    proxy.reset();
    proxy.heal();
    await waitForIds(watch, ['new', 'stays'], 20_000);
    expect(changes.summary()).toEqual(['up:gone', 'up:stays', 'down:gone', 'up:new']);
    expect(changes.failure).toBeUndefined();
  });
});
