import { CasCounter } from '@coordkit/cas-counter';
import { createClient, ops } from '@coordkit/core';
import { Etcd3 } from 'etcd3';
import { interleaved, withRatioTo } from '../lib/interleave.ts';
import type { Result, Scenario } from '../lib/scenario.ts';

const FLOOR = 'floor: raw put loop';

export const counterUncontended: Scenario = {
  name: 'counter-uncontended',
  description:
    'One client, 2,000 sequential increments of one counter per variant, interleaved in 10 alternating chunks. Floor: a raw etcd3 put loop (no read, no compare); also a raw guarded txn (compare mod revision, put), the least any exact counter sends.',
  async run(ctx) {
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = new Etcd3({ hosts: [...ctx.endpoints] });
    const counter = new CasCounter(client, '/bench/counter/solo');
    try {
      let rawRevision = BigInt((await etcd3.put('/bench/counter/raw-txn').value('0').exec()).header.revision);
      const results = await interleaved(
        ctx,
        [
          {
            name: 'coordkit CasCounter.increment',
            async op() {
              await counter.increment();
            },
          },
          {
            name: FLOOR,
            async op(i) {
              await etcd3.put('/bench/counter/floor').value(String(i));
            },
          },
          {
            name: 'raw guarded txn (compare mod revision, put)',
            async op(i) {
              const res = await client.kv.txn({
                compare: [ops.modRevisionIs('/bench/counter/raw-txn', rawRevision)],
                success: [ops.put('/bench/counter/raw-txn', String(i))],
                failure: [ops.get('/bench/counter/raw-txn')],
              });
              rawRevision = BigInt(res.header.revision);
            },
          },
        ],
        { ops: 2000 },
      );
      return withRatioTo(results, FLOOR, 'x put loop');
    } finally {
      await counter.close();
      client.close();
      etcd3.close();
    }
  },
};

async function contended(
  ctx: Parameters<Scenario['run']>[0],
  shards: number,
  label: string,
): Promise<Result> {
  const clients = 16;
  const each = 100;
  const workers = Array.from({ length: clients }, () => {
    const client = createClient({ endpoints: [...ctx.endpoints] });
    return { client, counter: new CasCounter(client, `/bench/counter/${label}`, { shards }) };
  });
  try {
    await Promise.all(workers.map((w) => w.counter.increment()));
    const result = await ctx.measure(
      `coordkit CasCounter, 16 clients, ${shards === 1 ? 'one key' : `${shards} shards`}`,
      clients * each,
      async (lat) => {
        await Promise.all(
          workers.map(async ({ counter }) => {
            for (let i = 0; i < each; i++) {
              const t = performance.now();
              await counter.increment();
              lat.push(performance.now() - t);
            }
          }),
        );
        const final = await workers[0]!.counter.get();
        return { 'final value ok': final === BigInt(clients * each + clients) ? 1 : 0 };
      },
    );
    const txns = result.rpcs?.Txn ?? 0;
    return { ...result, extra: { ...result.extra, 'commits/increment': txns / result.ops } };
  } finally {
    for (const w of workers) {
      await w.counter.close();
      w.client.close();
    }
  }
}

export const counterContended: Scenario = {
  name: 'counter-contended',
  description:
    '16 clients x 100 increments on one counter key, then on a 16-shard counter; transactions (commits and conflicts) per increment.',
  async run(ctx) {
    return [await contended(ctx, 1, 'single'), await contended(ctx, 16, 'sharded')];
  },
};
