import { ConfigWatch } from '@coordkit/config-watch';
import { toWire } from '@coordkit/core';
import { faultProxy, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { collect, testClient } from './helpers.js';

describe('ConfigWatch after compaction (F9)', () => {
  it('converges to the exact current state with one change when history was compacted while it was cut off', async () => {
    // Its own etcd: compacting the shared one would break other tests' watches.
    await using cluster = await startEtcd({ nodes: 1 });
    await using proxy = await faultProxy(cluster.endpoints[0]!);
    using writer = testClient(cluster.endpoints);
    using watcherClient = testClient([proxy.endpoint]);
    const prefix = uniquePrefix('cfg-compact');
    await writer.put(`${prefix}a`).value('1');
    await writer.put(`${prefix}b`).value('2');
    await writer.put(`${prefix}c`).value('3');
    await using watcher = await ConfigWatch.open(watcherClient, prefix);
    const changes = collect(watcher.changes());
    const openedAt = watcher.revision;

    proxy.blackhole();
    await writer.put(`${prefix}a`).value('10');
    await writer.delete().key(`${prefix}b`);
    await writer.put(`${prefix}d/e`).value('"x"');
    await writer.put(`${prefix}a`).value('11');
    await writer.put(`${prefix}c`).value('3');
    const last = await writer.put(`${prefix}f`).value('true');
    await writer.kv.compact({ revision: toWire(BigInt(last.header.revision)), physical: true });
    // Cut the stream (dropping every event held in the blackhole), then let it reconnect: the watch must
    // resume from a compacted revision and re-read instead.
    proxy.reset();
    proxy.heal();

    const expected = { a: 11, c: 3, d: { e: 'x' }, f: true };
    await waitFor(() => changes.seen.length >= 1, { timeout: 20_000, message: 'the resync change' });
    expect(changes.seen).toHaveLength(1);
    expect(changes.seen[0]!.value).toEqual(expected);
    expect(changes.seen[0]!.previous).toEqual({ a: 1, b: 2, c: 3 });
    expect(changes.seen[0]!.changed).toEqual(['a', 'b', 'd/e', 'f']);
    expect(changes.seen[0]!.revision >= BigInt(last.header.revision)).toBe(true);
    expect(watcher.value).toEqual(expected);
    expect(watcher.revision > openedAt).toBe(true);

    // Watching continues normally after the resync, with no extra change in between.
    const marker = await writer.put(`${prefix}g`).value('1');
    await waitFor(() => changes.seen.length >= 2, { message: 'the change after the resync' });
    expect(changes.seen).toHaveLength(2);
    expect(changes.seen[1]!.changed).toEqual(['g']);
    expect(changes.seen[1]!.revision).toBe(BigInt(marker.header.revision));
    expect(changes.failure).toBeUndefined();
  });
});
