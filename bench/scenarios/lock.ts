import { createClient, ops, Session } from '@coordkit/core';
import { Mutex } from '@coordkit/lock';
import { Etcd3 } from 'etcd3';
import { interleaved, withRatioTo } from '../lib/interleave.ts';
import type { Scenario } from '../lib/scenario.ts';

const FLOOR = 'floor: raw txn create + guarded delete';
const ETCD3 = 'etcd3 client.lock().do()';

export const lockUncontended: Scenario = {
  name: 'lock-uncontended',
  description:
    'Uncontended acquire + release of one lock name, 2,000 cycles per variant, one shared session (no lease grant per cycle); variants interleaved in 20 alternating chunks of 100. Floor: the raw two transactions a fenced lock needs (create-if-absent + guarded delete).',
  async run(ctx) {
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = new Etcd3({ hosts: [...ctx.endpoints] });
    const session = await Session.create(client, { ttl: 10 });
    try {
      const mutex = new Mutex(session, '/bench/lock/ours');
      const key = `/bench/lock/floor/${session.leaseIdHex}`;
      const results = await interleaved(
        ctx,
        [
          {
            name: 'coordkit Mutex lock + release',
            async op() {
              const handle = await mutex.lock();
              await handle.release();
            },
          },
          {
            name: FLOOR,
            async op() {
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
            },
          },
          {
            name: ETCD3,
            async op() {
              await etcd3.lock('/bench/lock/etcd3').do(async () => undefined);
            },
          },
        ],
        { ops: 2000, rounds: 20 },
      );
      return withRatioTo(withRatioTo(results, FLOOR, 'x floor'), ETCD3, 'x etcd3 lock');
    } finally {
      await session.close();
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
