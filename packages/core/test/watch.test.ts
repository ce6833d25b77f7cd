import { CoordError, createClient, ErrorCodes, type WatchBatch, watch } from '@coordkit/core';
import { faultProxy, sharedEndpoints, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { sharedClient } from './helpers.js';

/** Collects batches from a watch in the background until stopped. */
function collect(iterable: AsyncIterable<WatchBatch>) {
  const batches: WatchBatch[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const batch of iterable) batches.push(batch);
    } catch (err) {
      error = err;
    }
  })();
  return {
    batches,
    done,
    get error() {
      return error;
    },
    revisions: () => batches.flatMap((b) => b.events.map((e) => e.revision)),
    keys: () => batches.flatMap((b) => b.events.map((e) => e.key)),
  };
}

/** Asserts that `seen` is exactly the strictly increasing sequence `expected`. */
function expectExactlyOnceInOrder(seen: bigint[], expected: bigint[]) {
  for (let i = 1; i < seen.length; i++) expect(seen[i]! > seen[i - 1]!).toBe(true);
  expect(seen.length).toBe(expected.length);
  expect(seen).toEqual(expected);
}

describe('watch', () => {
  it('delivers a transaction as one batch, in revision order, and stops when the loop is left', async () => {
    using client = sharedClient();
    const prefix = uniquePrefix('watch-basic');
    const w = watch(client, { prefix });
    const createdAt = await w.created();
    await client.put(`${prefix}a`).value('1');
    await client
      .if(`${prefix}a`, 'Version', '>', 0)
      .then(client.put(`${prefix}b`).value('2'), client.put(`${prefix}c`).value('3'))
      .commit();
    await client.delete().key(`${prefix}a`);
    const seen: WatchBatch[] = [];
    for await (const batch of w) {
      seen.push(batch);
      if (seen.length === 3) break;
    }
    expect(seen[0]!.revision > createdAt).toBe(true);
    expect(seen.map((b) => b.events.map((e) => `${e.type}:${e.key.slice(prefix.length)}`))).toEqual([
      ['put:a'],
      ['put:b', 'put:c'],
      ['delete:a'],
    ]);
    expect(seen[1]!.events[0]!.value?.toString()).toBe('2');
    expect(seen[2]!.events[0]!.value).toBeUndefined();
    // The loop was left: a later write is not buffered anywhere, and a second loop ends at once.
    const again = await w[Symbol.asyncIterator]().next();
    expect(again.done).toBe(true);
  });

  it('replays from a revision, with previous values when asked', async () => {
    using client = sharedClient();
    const prefix = uniquePrefix('watch-from');
    const first = await client.put(`${prefix}k`).value('v1').exec();
    await client.put(`${prefix}k`).value('v2');
    const w = watch(
      client,
      { key: `${prefix}k` },
      { fromRevision: BigInt(first.header.revision), prevKv: true },
    );
    const seen: WatchBatch[] = [];
    for await (const batch of w) {
      seen.push(batch);
      if (seen.length === 2) break;
    }
    expect(seen.map((b) => b.events[0]!.value?.toString())).toEqual(['v1', 'v2']);
    expect(seen[1]!.events[0]!.prev?.value.toString()).toBe('v1');
    expect(seen[1]!.events[0]!.version).toBe(2n);
  });

  it('client.close() ends every watch loop with CLOSED instead of leaving the stream running', async () => {
    const client = createClient({ endpoints: sharedEndpoints() });
    const w = watch(client, { prefix: uniquePrefix('watch-close') });
    await w.created();
    const got = collect(w);
    client.close();
    await got.done;
    expect(CoordError.is(got.error, ErrorCodes.CLOSED)).toBe(true);
  });

  it('rejects bad targets with INVALID_ARGUMENT', () => {
    using client = sharedClient();
    expect(() => watch(client, { prefix: '' })).toThrow(CoordError);
    expect(() => watch(client, { key: 'k' }, { fromRevision: -1n })).toThrow(/fromRevision/);
  });

  it('F3/F11: connection resets during a write stream lose and repeat nothing', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const watcher = createClient({ endpoints: [proxy.endpoint] });
    using writer = sharedClient();
    const prefix = uniquePrefix('watch-reset');
    try {
      const w = watch(watcher, { prefix });
      await w.created();
      const got = collect(w);
      const written: bigint[] = [];
      for (let i = 0; i < 300; i++) {
        const res = await writer.put(`${prefix}${i}`).value(String(i)).exec();
        written.push(BigInt(res.header.revision));
        if (i % 60 === 30) proxy.reset();
      }
      await waitFor(() => got.revisions().length >= written.length, {
        timeout: 15_000,
        message: 'all events',
      });
      w.close();
      await got.done;
      expectExactlyOnceInOrder(got.revisions(), written);
    } finally {
      watcher.close();
    }
  });

  it('F10: resets during a throttled catch-up of 3,000 revisions resume from the last delivered event', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const watcher = createClient({ endpoints: [proxy.endpoint] });
    using writer = sharedClient();
    const prefix = uniquePrefix('watch-catchup');
    const payload = 'x'.repeat(200);
    try {
      const written: bigint[] = [];
      for (let i = 0; i < 3000; i += 50) {
        const batch = Array.from({ length: 50 }, (_, j) =>
          writer
            .put(`${prefix}${i + j}`)
            .value(payload)
            .exec(),
        );
        for (const res of await Promise.all(batch)) written.push(BigInt(res.header.revision));
      }
      written.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      // ~1 MB of events at 250 KB/s: the catch-up lasts seconds, long enough to be cut several times.
      proxy.throttle(250_000);
      const w = watch(watcher, { prefix }, { fromRevision: written[0]! });
      const got = collect(w);
      for (const fraction of [0.2, 0.45, 0.7]) {
        await waitFor(() => got.revisions().length >= written.length * fraction, { timeout: 20_000 });
        proxy.reset();
      }
      await waitFor(() => got.revisions().length >= written.length, { timeout: 30_000, message: 'catch-up' });
      w.close();
      await got.done;
      expectExactlyOnceInOrder(got.revisions(), written);
    } finally {
      proxy.heal();
      watcher.close();
    }
  });

  it('F9: history compacted while disconnected is reported as COMPACTED, or re-read with resync', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const watcher = createClient({ endpoints: [proxy.endpoint] });
    using writer = sharedClient();
    const prefix = uniquePrefix('watch-compact');
    try {
      const strict = watch(watcher, { prefix });
      const resyncing = watch(watcher, { prefix }, { resync: true });
      await Promise.all([strict.created(), resyncing.created()]);
      const strictGot = collect(strict);
      const resyncGot = collect(resyncing);
      await writer.put(`${prefix}a`).value('1');
      await waitFor(() => strictGot.batches.length === 1 && resyncGot.batches.length === 1);
      proxy.blackhole();
      await writer.put(`${prefix}b`).value('2');
      const last = await writer.put(`${prefix}a`).value('3').exec();
      await writer.kv.compact({ revision: last.header.revision, physical: true });
      proxy.reset();
      proxy.heal();
      await strictGot.done;
      expect(CoordError.is(strictGot.error, ErrorCodes.COMPACTED)).toBe(true);
      expect((strictGot.error as CoordError).compactRevision).toBe(BigInt(last.header.revision));
      await waitFor(() => resyncGot.batches.length === 2, { timeout: 10_000 });
      const resync = resyncGot.batches[1]!;
      expect(resync.resync).toBe(true);
      expect(
        Object.fromEntries(resync.events.map((e) => [e.key.slice(prefix.length), e.value?.toString()])),
      ).toEqual({
        a: '3',
        b: '2',
      });
      // And it keeps following changes after the resync.
      await writer.put(`${prefix}c`).value('4');
      await waitFor(() => resyncGot.batches.length === 3);
      expect(resyncGot.batches[2]!.events[0]!.key).toBe(`${prefix}c`);
      resyncing.close();
    } finally {
      watcher.close();
    }
  });

  it('F6: a watcher on a 3-node cluster sees every revision once while each member is killed in turn', async () => {
    await using cluster = await startEtcd({ nodes: 3 });
    const watcher = createClient({ endpoints: [...cluster.endpoints] });
    const writer = createClient({ endpoints: [...cluster.endpoints] });
    const prefix = uniquePrefix('watch-f6');
    try {
      const w = watch(watcher, { prefix });
      await w.created();
      const got = collect(w);
      let n = 0;
      const writeSome = async (count: number) => {
        for (let i = 0; i < count; i++) {
          await waitFor(
            async () => {
              try {
                await writer.put(`${prefix}${String(n).padStart(5, '0')}`).value('v');
                return true;
              } catch {
                return false; // unknown outcome is fine: ground truth is read back at the end
              }
            },
            { timeout: 10_000 },
          );
          n++;
        }
      };
      await writeSome(50);
      for (let member = 0; member < 3; member++) {
        await cluster.kill(member);
        await writeSome(50);
        await cluster.restart(member);
        await writeSome(20);
      }
      const truth = await writer.getAll().prefix(prefix).exec();
      const expected = truth.kvs.map((kv) => BigInt(kv.create_revision)).sort((a, b) => (a < b ? -1 : 1));
      await waitFor(() => got.revisions().length >= expected.length, {
        timeout: 20_000,
        message: 'all events',
      });
      w.close();
      await got.done;
      expectExactlyOnceInOrder(got.revisions(), expected);
    } finally {
      watcher.close();
      writer.close();
    }
  });

  it('shares one gRPC watch stream among 1,000 watchers of a client', async () => {
    await using cluster = await startEtcd({ nodes: 1 });
    const client = createClient({ endpoints: [...cluster.endpoints] });
    const watchStreams = async () => {
      const text = await (await fetch(cluster.metricsUrl(0))).text();
      const line = text
        .split('\n')
        .find((l) => l.startsWith('grpc_server_started_total{') && l.includes('grpc_method="Watch"'));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    try {
      const before = await watchStreams();
      const watches = Array.from({ length: 1000 }, (_, i) => watch(client, { key: `/shared/${i}` }));
      await Promise.all(watches.map((w) => w.created()));
      await client.put('/shared/999').value('x');
      const last = watches[999]![Symbol.asyncIterator]();
      expect((await last.next()).value?.events[0]?.key).toBe('/shared/999');
      expect((await watchStreams()) - before).toBe(1);
      for (const w of watches) w.close();
    } finally {
      client.close();
    }
  });
});
