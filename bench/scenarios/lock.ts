import { createClient, ops, Session } from '@coordkit/core';
import { Mutex } from '@coordkit/lock';
import { Etcd3 } from 'etcd3';
import type { Result, Scenario } from '../lib/scenario.ts';

export const lockUncontended: Scenario = {
  name: 'lock-uncontended',
  description:
    'Uncontended acquire + release of one lock name, 1,000 sequential cycles, one shared session (no lease grant per cycle). Floor: the raw two transactions a fenced lock needs (create-if-absent + guarded delete).',
  async run(ctx) {
    const n = 1000;
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = new Etcd3({ hosts: [...ctx.endpoints] });
    const results: Result[] = [];
    try {
      const session = await Session.create(client, { ttl: 10 });
      const mutex = new Mutex(session, '/bench/lock/ours');
      for (let i = 0; i < 50; i++) await (await mutex.lock()).release(); // warm-up
      results.push(
        await ctx.measure('coordkit Mutex lock + release', n, async (lat) => {
          for (let i = 0; i < n; i++) {
            const t = performance.now();
            const handle = await mutex.lock();
            await handle.release();
            lat.push(performance.now() - t);
          }
        }),
      );
      const key = `/bench/lock/floor/${session.leaseIdHex}`;
      results.push(
        await ctx.measure('floor: raw txn create + guarded delete', n, async (lat) => {
          for (let i = 0; i < n; i++) {
            const t = performance.now();
            const res = await client.kv.txn({
              compare: [ops.createRevisionIs(key, 0n)],
              success: [
                ops.put(key, '', session.leaseId),
                ops.range('/bench/lock/floor/', { order: 'newest-first', limit: 2, keysOnly: true }),
              ],
              failure: [ops.get(key)],
            });
            await client.kv.txn({
              compare: [ops.createRevisionIs(key, BigInt(res.header.revision))],
              success: [ops.delete(key)],
              failure: [],
            });
            lat.push(performance.now() - t);
          }
        }),
      );
      await session.close();
      results.push(
        await ctx.measure('etcd3 client.lock().do()', n, async (lat) => {
          for (let i = 0; i < n; i++) {
            const t = performance.now();
            await etcd3.lock('/bench/lock/etcd3').do(async () => undefined);
            lat.push(performance.now() - t);
          }
        }),
      );
      return results;
    } finally {
      client.close();
      etcd3.close();
    }
  },
};

export const lockContended: Scenario = {
  name: 'lock-contended',
  description:
    "16 clients (own client + session each) contend for one lock, 40 acquisitions each; handoff latency = release by the holder to acquisition by the next; FIFO overtakes counted against each waiter's queue position (create revision).",
  async run(ctx) {
    const clients = 16;
    const rounds = 40;
    const workers = await Promise.all(
      Array.from({ length: clients }, async () => {
        const client = createClient({ endpoints: [...ctx.endpoints] });
        const session = await Session.create(client, { ttl: 10 });
        return { client, session, mutex: new Mutex(session, '/bench/lock/contended') };
      }),
    );
    let releasedAt = 0;
    let overtakes = 0;
    let lastToken = 0n;
    try {
      const result = await ctx.measure('coordkit Mutex, 16-way', clients * rounds, async (lat) => {
        await Promise.all(
          workers.map(async ({ mutex }) => {
            for (let i = 0; i < rounds; i++) {
              const handle = await mutex.lock();
              if (releasedAt > 0) lat.push(performance.now() - releasedAt);
              // Fencing tokens are queue positions: a grant with a lower token than an earlier grant overtook it.
              if (handle.fencingToken < lastToken) overtakes++;
              lastToken = handle.fencingToken;
              releasedAt = performance.now();
              await handle.release();
            }
          }),
        );
        return { 'FIFO overtakes': overtakes };
      });
      return [result];
    } finally {
      for (const w of workers) {
        await w.session.close();
        w.client.close();
      }
    }
  },
};
