import { CoordError, ErrorCodes, Session } from '@coordkit/core';
import { ServiceRegistry } from '@coordkit/discovery';
import { sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { collectChanges, etcdctl, ids, testClient, waitForIds } from './helpers.js';

function registryPrefix(label: string): string {
  return uniquePrefix(label).slice(0, -1);
}

describe('ServiceRegistry', () => {
  it('registers instances under the session lease with the documented JSON value', async () => {
    using client = testClient();
    await using session = await Session.create(client, { ttl: 5 });
    const prefix = registryPrefix('disc-basic');
    const registry = new ServiceRegistry(session, { prefix });
    await using registration = await registry.register({
      service: 'api',
      id: 'a1',
      address: '10.0.0.1:80',
      metadata: { zone: 'z1' },
    });
    const stored = await client.get(`${prefix}/api/a1`).exec();
    const kv = stored.kvs[0]!;
    expect(String(kv.lease)).toBe(session.leaseId);
    const value = JSON.parse(kv.value.toString());
    expect(value).toMatchObject({
      id: 'a1',
      address: '10.0.0.1:80',
      metadata: { zone: 'z1' },
      draining: false,
    });
    expect(new Date(value.registeredAt).getTime()).toBeGreaterThan(0);
    expect(registration.isRegistered()).toBe(true);
    const generated = await registry.register({ service: 'api', address: 'x:1' });
    expect(generated.id).toMatch(/^[0-9a-f-]{36}$/);
    await generated.deregister();
    await generated.deregister();
    expect(await client.get(generated.key).exists()).toBe(false);
  });

  it('watches: snapshot, up/down changes, drain, update, deregister at once, and skips garbage', async () => {
    using client = testClient();
    await using session = await Session.create(client, { ttl: 5 });
    const prefix = registryPrefix('disc-watch');
    const registry = new ServiceRegistry(session, { prefix });
    const a = await registry.register({ service: 'api', id: 'a', address: 'h:1' });
    const errors: CoordError[] = [];
    await using watch = registry.watch('api', { onError: (e) => errors.push(e) });
    const changes = collectChanges(watch.changes());
    await watch.ready;
    expect(ids(watch)).toEqual(['a']);
    const b = await registry.register({ service: 'api', id: 'b', address: 'h:2' });
    await client.put(`${prefix}/api/garbage`).value('not json');
    await client.put(`${prefix}/api/no-address`).value('{"id":"no-address"}');
    // A service whose name starts like this one is not part of it.
    await registry.register({ service: 'api2', id: 'other', address: 'h:9' });
    const c = await registry.register({ service: 'api', id: 'c', address: 'h:3' });
    await waitForIds(watch, ['a', 'b', 'c']);
    expect(errors.map((e) => [e.code, e.key])).toEqual([
      [ErrorCodes.DECODE_FAILED, `${prefix}/api/garbage`],
      [ErrorCodes.DECODE_FAILED, `${prefix}/api/no-address`],
    ]);
    await b.drain();
    await waitForIds(watch, ['a', 'c']);
    expect(watch.allInstances().find((i) => i.id === 'b')?.draining).toBe(true);
    await c.update({ version: 2 });
    await waitFor(() => watch.instances().find((i) => i.id === 'c')?.metadata.version === 2);
    await a.deregister();
    // Deregistering deletes the key: gone from the watcher at once, not after the 5 s TTL.
    await waitForIds(watch, ['c'], 2_000);
    await b.deregister();
    await c.deregister();
    await waitForIds(watch, []);
    await waitFor(() => changes.seen.length === 7);
    expect(changes.summary()).toEqual(['up:a', 'up:b', 'up:c', 'down:b', 'up:c', 'down:a', 'down:c']);
    expect(changes.seen[4]!.instance.metadata).toEqual({ version: 2 });
    watch.close();
    await changes.done;
    expect(changes.failure).toBeUndefined();
  });

  it('round robin spreads picks evenly; random picks only instances in rotation', async () => {
    using client = testClient();
    await using session = await Session.create(client, { ttl: 5 });
    const registry = new ServiceRegistry(session, { prefix: registryPrefix('disc-pick') });
    for (const id of ['x', 'y', 'z']) await registry.register({ service: 'svc', id, address: `${id}:1` });
    await using watch = registry.watch('svc');
    await watch.ready;
    const counts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const id = watch.pick()!.id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ x: 100, y: 100, z: 100 });
    const random = new Map<string, number>();
    for (let i = 0; i < 600; i++) {
      const id = watch.pick({ strategy: 'random' })!.id;
      random.set(id, (random.get(id) ?? 0) + 1);
    }
    expect([...random.keys()].sort()).toEqual(['x', 'y', 'z']);
    for (const n of random.values()) expect(n).toBeGreaterThan(100);
    const empty = registry.watch('nobody');
    await empty.ready;
    expect(empty.pick()).toBeUndefined();
    empty.close();
  });

  it('keepRegistered registers again through a fresh session after `etcdctl lease revoke` (F4)', async () => {
    using client = testClient();
    await using session = await Session.create(client, { ttl: 5 });
    const prefix = registryPrefix('disc-keep');
    const registry = new ServiceRegistry(session, { prefix });
    await using watcherSession = await Session.create(client, { ttl: 5 });
    await using watch = new ServiceRegistry(watcherSession, { prefix }).watch('api');
    const changes = collectChanges(watch.changes());
    await watch.ready;
    await using kept = await registry.register({
      service: 'api',
      id: 'kept',
      address: 'h:1',
      keepRegistered: true,
    });
    await using plain = await registry.register({ service: 'api', id: 'plain', address: 'h:2' });
    await waitForIds(watch, ['kept', 'plain']);
    const firstLease = kept.leaseId;
    await etcdctl(sharedEndpoints(), ['lease', 'revoke', session.leaseIdHex]);
    await waitFor(() => kept.isRegistered() && kept.leaseId !== firstLease, { message: 're-registration' });
    await waitForIds(watch, ['kept']);
    expect(plain.signal.aborted).toBe(true);
    expect(CoordError.is(plain.signal.reason)).toBe(true);
    expect(kept.signal.aborted).toBe(false);
    expect(watch.instances()[0]!.leaseId).toBe(kept.leaseId);
    expect(changes.summary()).toEqual(['up:kept', 'up:plain', 'down:kept', 'down:plain', 'up:kept']);
    // The replacement keeps working: metadata updates go through the new session.
    await kept.update({ after: 'revoke' });
    await waitFor(() => watch.instances()[0]?.metadata.after === 'revoke');
    await kept.deregister();
    await waitForIds(watch, []);
  });

  it('keepRegistered writes the key again when someone deletes it; a takeover of the id ends the old handle', async () => {
    using client = testClient();
    await using session = await Session.create(client, { ttl: 5 });
    await using otherSession = await Session.create(client, { ttl: 5 });
    const prefix = registryPrefix('disc-takeover');
    const registry = new ServiceRegistry(session, { prefix });
    await using kept = await registry.register({
      service: 'api',
      id: 'k',
      address: 'h:1',
      keepRegistered: true,
    });
    await client.delete().key(kept.key);
    await waitFor(async () => (await client.get(kept.key).exists()) && kept.isRegistered(), {
      message: 'the deleted key to be written again',
    });
    expect(kept.leaseId).toBe(session.leaseId);
    const taker = await new ServiceRegistry(otherSession, { prefix }).register({
      service: 'api',
      id: 'k',
      address: 'h:2',
    });
    await waitFor(() => kept.signal.aborted, { message: 'the old handle to see the takeover' });
    expect(kept.signal.reason).toMatchObject({ code: ErrorCodes.CONFLICT });
    await expect(kept.update({ stale: true })).rejects.toMatchObject({ code: ErrorCodes.CONFLICT });
    // The old handle's deregistration leaves the new registration alone.
    await kept.deregister();
    const stored = await client.get(taker.key).json();
    expect(stored).toMatchObject({ address: 'h:2' });
    await taker.deregister();
    expect(await client.get(taker.key).exists()).toBe(false);
  });

  it('rejects bad input before writing anything', async () => {
    using client = testClient();
    await using session = await Session.create(client, { ttl: 5 });
    const prefix = registryPrefix('disc-args');
    const registry = new ServiceRegistry(session, { prefix });
    await expect(registry.register({ service: 'a/b', address: 'h:1' })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_ARGUMENT,
      message: expect.stringContaining('service'),
    });
    await expect(registry.register({ service: 'a', id: '', address: 'h:1' })).rejects.toThrow(/id/);
    await expect(registry.register({ service: 'a', address: '' })).rejects.toThrow(/address/);
    await expect(
      registry.register({ service: 'a', address: 'h:1', metadata: [] as unknown as Record<string, unknown> }),
    ).rejects.toThrow(/metadata/);
    expect(() => registry.watch('')).toThrow(CoordError);
    expect(await client.getAll().prefix(`${prefix}/`).count()).toBe(0);
  });
});
