import { createClient, ops } from '@coordkit/core';
import { type Subscription, Topic } from '@coordkit/pubsub';
import { Etcd3 } from 'etcd3';
import { diffCounts, readRpcCounts } from '../lib/metrics.ts';
import type { BenchContext, Result, Scenario } from '../lib/scenario.ts';
import { percentile } from '../lib/stats.ts';

const raw = (endpoints: readonly string[]) => new Etcd3({ hosts: [...endpoints] });

/**
 * The same-run baseline other scenarios compare against: one raw etcd3 writer, one raw etcd3 watcher
 * on its own client, `n` sequential puts, time from the put's start to the watcher's event.
 */
export async function measureRawPutToEvent(
  ctx: BenchContext,
  n: number,
  key: string,
  variant = 'baseline: etcd3 put-to-event',
): Promise<Result> {
  const writer = raw(ctx.endpoints);
  const watcher = raw(ctx.endpoints);
  try {
    const w = await watcher.watch().key(key).create();
    let wake: (() => void) | undefined;
    let pending = 0;
    w.on('put', () => {
      pending++;
      wake?.();
    });
    await writer.put(key).value('warm-up');
    while (pending === 0) await new Promise<void>((r) => (wake = r));
    pending = 0;
    const result = await ctx.measure(variant, n, async (lat) => {
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await writer.put(key).value(String(i));
        while (pending === 0) await new Promise<void>((r) => (wake = r));
        pending--;
        lat.push(performance.now() - t);
      }
      return undefined;
    });
    await w.cancel();
    return result;
  } finally {
    writer.close();
    watcher.close();
  }
}

/**
 * What a publish costs at the etcd level without the library: a raw create-if-absent transaction of
 * a new key (the write `Topic.publish` sends), seen by a raw etcd3 prefix watcher.
 */
async function measureRawTxnToEvent(ctx: BenchContext, n: number, prefix: string): Promise<Result> {
  const writer = createClient({ endpoints: [...ctx.endpoints] });
  const watcher = raw(ctx.endpoints);
  try {
    const w = await watcher.watch().prefix(prefix).create();
    let wake: (() => void) | undefined;
    let pending = 0;
    w.on('put', () => {
      pending++;
      wake?.();
    });
    const result = await ctx.measure('floor: raw create-if-absent txn -> etcd3 event', n, async (lat) => {
      for (let i = 0; i < n; i++) {
        const key = `${prefix}${String(i).padStart(8, '0')}`;
        const t = performance.now();
        await writer.kv.txn({
          compare: [ops.createRevisionIs(key, 0n)],
          success: [ops.put(key, JSON.stringify(i))],
          failure: [ops.get(key)],
        });
        while (pending === 0) await new Promise<void>((r) => (wake = r));
        pending--;
        lat.push(performance.now() - t);
      }
      return undefined;
    });
    await w.cancel();
    return result;
  } finally {
    writer.close();
    watcher.close();
  }
}

export const pubsubLatency: Scenario = {
  name: 'pubsub-latency',
  description:
    'Publish-to-receive latency: one publisher client, one subscriber client (from latest), 500 sequential publishes; baseline: raw etcd3 put-to-event on the same etcd in the same run; floor: the raw create-if-absent transaction a publish sends, seen by a raw etcd3 watcher.',
  async run(ctx) {
    const n = 500;
    const publisherClient = createClient({ endpoints: [...ctx.endpoints] });
    const subscriberClient = createClient({ endpoints: [...ctx.endpoints] });
    try {
      const publisher = new Topic<number>(publisherClient, '/bench/ps/lat');
      const subscription = new Topic<number>(subscriberClient, '/bench/ps/lat').subscribe();
      await subscription.ready();
      const messages = subscription[Symbol.asyncIterator]();
      await publisher.publish(-1); // warm-up
      await messages.next();
      const ours = await ctx.measure('coordkit Topic publish -> subscription', n, async (lat) => {
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await publisher.publish(i);
          const received = await messages.next();
          if (received.done || received.value.data !== i)
            throw new Error(`pubsub-latency: got ${received.value}`);
          lat.push(performance.now() - t);
        }
        return undefined;
      });
      await subscription.close();
      const baseline = await measureRawPutToEvent(ctx, n, '/bench/ps/lat-raw');
      const txnFloor = await measureRawTxnToEvent(ctx, n, '/bench/ps/lat-txn/');
      return [withRatioToRaw(ours, baseline), baseline, withRatioToRaw(txnFloor, baseline)];
    } finally {
      publisherClient.close();
      subscriberClient.close();
    }
  },
};

export const pubsubFanout: Scenario = {
  name: 'pubsub-fanout',
  description:
    'Fan-out: 1,000 subscribers of one topic on one client, 500 sequential publishes; events/s until every subscriber saw every message. Baseline: 1,000 raw etcd3 prefix watchers, 500 puts of new keys.',
  async run(ctx) {
    const subscribers = 1000;
    const messages = 500;
    const results: Result[] = [];
    {
      const publisherClient = createClient({ endpoints: [...ctx.endpoints] });
      const client = createClient({ endpoints: [...ctx.endpoints] });
      const topic = new Topic<number>(client, '/bench/ps/fan');
      const publisher = new Topic<number>(publisherClient, '/bench/ps/fan');
      let received = 0;
      let outOfOrder = 0;
      const before = await readRpcCounts(ctx.metricsUrl);
      const t0 = performance.now();
      const all: Subscription<number>[] = [];
      for (let i = 0; i < subscribers; i++) all.push(topic.subscribe());
      await Promise.all(all.map((s) => s.ready()));
      const createMs = performance.now() - t0;
      const streams = diffCounts(await readRpcCounts(ctx.metricsUrl), before).Watch ?? 0;
      const loops = all.map(async (s) => {
        let expected = 0;
        for await (const message of s) {
          if (message.data !== expected) outOfOrder++;
          expected = message.data + 1;
          received++;
        }
      });
      results.push(
        await ctx.measure('coordkit Topic x 1,000 subscribers', subscribers * messages, async () => {
          for (let i = 0; i < messages; i++) await publisher.publish(i);
          while (received < subscribers * messages) await new Promise((r) => setTimeout(r, 5));
          return { 'create 1,000 ms': createMs, 'Watch streams': streams, 'out of order': outOfOrder };
        }),
      );
      await Promise.all(all.map((s) => s.close()));
      await Promise.all(loops);
      client.close();
      publisherClient.close();
    }
    {
      const writer = raw(ctx.endpoints);
      const etcd3 = raw(ctx.endpoints);
      let received = 0;
      const before = await readRpcCounts(ctx.metricsUrl);
      const t0 = performance.now();
      const all = await Promise.all(
        Array.from({ length: subscribers }, () => etcd3.watch().prefix('/bench/ps/fan-raw/').create()),
      );
      const createMs = performance.now() - t0;
      const streams = diffCounts(await readRpcCounts(ctx.metricsUrl), before).Watch ?? 0;
      for (const w of all) w.on('put', () => received++);
      results.push(
        await ctx.measure('baseline: etcd3 watchers x 1,000', subscribers * messages, async () => {
          for (let i = 0; i < messages; i++) {
            await writer.put(`/bench/ps/fan-raw/${String(i).padStart(6, '0')}`).value(String(i));
          }
          while (received < subscribers * messages) await new Promise((r) => setTimeout(r, 5));
          return { 'create 1,000 ms': createMs, 'Watch streams': streams, 'out of order': 0 };
        }),
      );
      await Promise.all(all.map((w) => w.cancel()));
      etcd3.close();
      writer.close();
    }
    const [ours, baseline] = results as [Result, Result];
    const ratio = ours.ops / ours.seconds / (baseline.ops / baseline.seconds);
    return [{ ...ours, extra: { ...ours.extra, 'x raw events/s': ratio } }, baseline];
  },
};

/** Adds the p50 and p99 ratios against the raw put-to-event baseline as extra columns. */
export function withRatioToRaw(result: Result, baseline: Result): Result {
  const p = (r: Result, q: number) => percentile(r.latenciesMs ?? [], q);
  return {
    ...result,
    extra: {
      ...result.extra,
      'p50 x raw': p(result, 50) / p(baseline, 50),
      'p99 x raw': p(result, 99) / p(baseline, 99),
    },
  };
}
