import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createClient, ops } from '@coordkit/core';
import { type Subscription, Topic } from '@coordkit/pubsub';
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import { interleaved, withRatioTo } from '../lib/interleave.ts';
import { diffCounts, type RpcCounts, readRpcCounts } from '../lib/metrics.ts';
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

/** A raw etcd3 watcher (of a key, or of a prefix ending in `/`) whose `put` events can be awaited one at a time. */
async function rawEventWaiter(client: Etcd3, target: string) {
  const builder = client.watch();
  const watcher = await (target.endsWith('/') ? builder.prefix(target) : builder.key(target)).create();
  let wake: (() => void) | undefined;
  let pending = 0;
  watcher.on('put', () => {
    pending++;
    wake?.();
  });
  return {
    watcher,
    async next(): Promise<void> {
      while (pending === 0) await new Promise<void>((r) => (wake = r));
      pending--;
    },
  };
}

/** A key shaped like a message key (`<prefix>msg/<12 hex ms>-<10 hex random>-000000`). */
function messageLikeKey(prefix: string): string {
  return `${prefix}msg/${Date.now().toString(16).padStart(12, '0')}-${randomBytes(5).toString('hex')}-000000`;
}

const RAW_PUT_TO_EVENT = 'baseline: etcd3 put-to-event';

export const pubsubLatency: Scenario = {
  name: 'pubsub-latency',
  description:
    "Publish-to-receive latency: one publisher client, one subscriber client (from latest), 2,000 sequential publishes per variant, time from the publish call to the subscriber's next() resolving with that message (decoded). Baseline: raw etcd3 put-to-event (one key overwritten, etcd3 watcher on its own client). Floors, both seen by a raw etcd3 prefix watcher: the put of a fresh key with prev_kv (what Topic.publish sends since issue #9) and the create-if-absent txn it sent before. Also the Topic with its retention check (a count of the topic's keys) every 100 publishes, the default before it became a tenth of maxMessages. All five interleaved in 20 alternating chunks of 100 after 50 untimed ops each (2,000 samples, so p99 is the 20th worst).",
  async run(ctx) {
    const publisherClient = createClient({ endpoints: [...ctx.endpoints] });
    const subscriberClient = createClient({ endpoints: [...ctx.endpoints] });
    const writer = raw(ctx.endpoints);
    const watcher = raw(ctx.endpoints);
    try {
      const publisher = new Topic<number>(publisherClient, '/bench/ps/lat');
      const subscription = new Topic<number>(subscriberClient, '/bench/ps/lat').subscribe();
      // The retention check's cost: the same, counting the topic every 100 publishes (the old default).
      const checkedOften = new Topic<number>(publisherClient, '/bench/ps/lat-trim100', {
        retention: { trimEvery: 100 },
      });
      const oftenSubscription = new Topic<number>(subscriberClient, '/bench/ps/lat-trim100').subscribe();
      await Promise.all([subscription.ready(), oftenSubscription.ready()]);
      const messages = subscription[Symbol.asyncIterator]();
      const oftenMessages = oftenSubscription[Symbol.asyncIterator]();
      const putToEvent = await rawEventWaiter(watcher, '/bench/ps/lat-raw');
      const putFloor = await rawEventWaiter(watcher, '/bench/ps/lat-put/');
      const txnFloor = await rawEventWaiter(watcher, '/bench/ps/lat-txn/');
      const results = await interleaved(
        ctx,
        [
          {
            name: 'coordkit Topic publish -> subscription',
            async op(i) {
              await publisher.publish(i);
              const received = await messages.next();
              if (received.done || received.value.data !== i)
                throw new Error(`pubsub-latency: expected ${i}, got ${received.value?.data}`);
            },
          },
          {
            name: 'coordkit Topic, retention checked every 100 publishes',
            async op(i) {
              await checkedOften.publish(i);
              const received = await oftenMessages.next();
              if (received.done || received.value.data !== i)
                throw new Error(`pubsub-latency: expected ${i}, got ${received.value?.data}`);
            },
          },
          {
            name: RAW_PUT_TO_EVENT,
            async op(i) {
              await writer.put('/bench/ps/lat-raw').value(String(i));
              await putToEvent.next();
            },
          },
          {
            name: 'floor: raw put of a fresh key, prev_kv -> etcd3 event',
            async op(i) {
              const key = messageLikeKey('/bench/ps/lat-put/');
              await publisherClient.kv.put({
                key: Buffer.from(key),
                value: Buffer.from(JSON.stringify(i)),
                prev_kv: true,
              });
              await putFloor.next();
            },
          },
          {
            name: 'floor: raw create-if-absent txn -> etcd3 event',
            async op(i) {
              const key = messageLikeKey('/bench/ps/lat-txn/');
              await publisherClient.kv.txn({
                compare: [ops.createRevisionIs(key, 0n)],
                success: [ops.put(key, JSON.stringify(i))],
                failure: [ops.get(key)],
              });
              await txnFloor.next();
            },
          },
        ],
        { ops: 2000, rounds: 20 },
      );
      await subscription.close();
      await oftenSubscription.close();
      await Promise.all([putToEvent, putFloor, txnFloor].map((w) => w.watcher.cancel()));
      const baseline = results.find((r) => r.variant === RAW_PUT_TO_EVENT)!;
      return results.map((r) => (r === baseline ? r : withRatioToRaw(r, baseline)));
    } finally {
      publisherClient.close();
      subscriberClient.close();
      writer.close();
      watcher.close();
    }
  },
};

/** CPU seconds etcd has used so far, from its own Prometheus endpoint. */
async function etcdCpuSeconds(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total '));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

/** One fan-out variant: its 1,000 receivers are set up once; each round publishes `count` messages. */
interface FanoutVariant {
  readonly name: string;
  /** Events every receiver has taken so far, summed over receivers. */
  received(): number;
  /** Messages received out of order so far (receivers that check order). */
  outOfOrder(): number;
  /** Publishes messages `from` .. `from + count - 1`, one at a time. */
  publish(from: number, count: number): Promise<void>;
  /** Numbers measured at setup (create time, Watch streams). */
  readonly setup: Record<string, number>;
}

const SUBSCRIBERS = 1000;

/**
 * Runs fan-out variants alternately (A B C D, then B C D A, ...), `rounds` times each, and sums each
 * variant's rounds: a round publishes `each` messages and ends when every receiver has them all.
 */
async function alternatedFanout(
  ctx: BenchContext,
  variants: readonly FanoutVariant[],
  rounds: number,
  each: number,
): Promise<Result[]> {
  const totals = variants.map(() => ({ seconds: 0, rpcs: {} as RpcCounts, etcdCpu: 0, clientCpu: 0 }));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const index = (round + k) % variants.length;
      const variant = variants[index]!;
      const total = totals[index]!;
      const target = variant.received() + SUBSCRIBERS * each;
      const rpcsBefore = await readRpcCounts(ctx.metricsUrl);
      const etcdCpuBefore = await etcdCpuSeconds(ctx.metricsUrl);
      const clientCpuBefore = process.cpuUsage();
      const start = performance.now();
      await variant.publish(round * each, each);
      while (variant.received() < target) await new Promise((r) => setTimeout(r, 1));
      total.seconds += (performance.now() - start) / 1000;
      const clientCpu = process.cpuUsage(clientCpuBefore);
      total.clientCpu += (clientCpu.user + clientCpu.system) / 1e6;
      total.etcdCpu += (await etcdCpuSeconds(ctx.metricsUrl)) - etcdCpuBefore;
      for (const [method, n] of Object.entries(diffCounts(await readRpcCounts(ctx.metricsUrl), rpcsBefore)))
        total.rpcs[method] = (total.rpcs[method] ?? 0) + n;
      if (variant.received() !== target) throw new Error(`${variant.name}: more events than published`);
    }
  }
  return variants.map((variant, index) => {
    const total = totals[index]!;
    const events = rounds * each * SUBSCRIBERS;
    return {
      variant: variant.name,
      ops: events,
      seconds: total.seconds,
      rpcs: total.rpcs,
      extra: {
        ...variant.setup,
        'out of order': variant.outOfOrder(),
        'etcd CPU µs/event': (total.etcdCpu * 1e6) / events,
        'client CPU µs/event': (total.clientCpu * 1e6) / events,
      },
    };
  });
}

/** Creates `watchers` raw etcd3 watchers of `prefix` on one client. */
async function rawWatchers(
  ctx: BenchContext,
  client: Etcd3,
  prefix: string,
  watchers: number,
): Promise<{ watchers: Watcher[]; setup: Record<string, number> }> {
  const before = await readRpcCounts(ctx.metricsUrl);
  const t0 = performance.now();
  const all = await Promise.all(
    Array.from({ length: watchers }, () => client.watch().prefix(prefix).create()),
  );
  const createMs = performance.now() - t0;
  const streams = diffCounts(await readRpcCounts(ctx.metricsUrl), before).Watch ?? 0;
  return {
    watchers: all,
    setup: { 'create ms': createMs, 'Watch streams': streams, 'etcd watchers': watchers },
  };
}

/** Puts `count` fresh message-like keys with the values `from` .. (the same JSON a Topic stores). */
async function putMessages(writer: Etcd3, prefix: string, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) await writer.put(messageLikeKey(prefix)).value(JSON.stringify(i));
}

const RAW_WATCHERS = 'baseline: etcd3 watchers x 1,000';
const RAW_WATCHERS_JSON = 'baseline: etcd3 watchers x 1,000, each JSON.parse + order check';

export const pubsubFanout: Scenario = {
  name: 'pubsub-fanout',
  description:
    "Fan-out: 1,000 receivers of one topic in one process, 4 rounds x 250 sequential publishes per variant, variants alternating (A B C D, B C D A, ...), summed; events/s = 1,000 x messages / time until every receiver has every message. Same values (JSON numbers) under keys of the same shape; every receiver gets every event. Ours: 1,000 `Topic.subscribe()` on one client, each a `for await` loop checking order; the client shares one etcd watch per topic and parses each message once (1,000 subscriptions get the same frozen object). Baseline (the issue's target): 1,000 etcd3 prefix watchers on one client, each counts its `put` events (no JSON, no order check). Baseline + JSON: the same, each watcher also JSON.parses the value and checks order. Like-for-like: one etcd3 watcher whose event is JSON.parsed once and handed to 1,000 listeners (synchronously, EventEmitter), i.e. the sharing ours does, without async iteration. CPU columns: etcd's and this process's CPU per delivered event.",
  async run(ctx) {
    const rounds = 4;
    const each = 250;
    const publisherClient = createClient({ endpoints: [...ctx.endpoints] });
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const writer = raw(ctx.endpoints);
    const etcd3 = raw(ctx.endpoints);
    const etcd3Json = raw(ctx.endpoints);
    const etcd3Shared = raw(ctx.endpoints);
    const watchers: Watcher[] = [];
    const subscriptions: Subscription<number>[] = [];
    const loops: Promise<void>[] = [];
    try {
      const topic = new Topic<number>(client, '/bench/ps/fan');
      const publisher = new Topic<number>(publisherClient, '/bench/ps/fan');
      let oursReceived = 0;
      let oursOutOfOrder = 0;
      const before = await readRpcCounts(ctx.metricsUrl);
      const t0 = performance.now();
      for (let i = 0; i < SUBSCRIBERS; i++) subscriptions.push(topic.subscribe());
      await Promise.all(subscriptions.map((s) => s.ready()));
      const oursSetup = {
        'create ms': performance.now() - t0,
        'Watch streams': diffCounts(await readRpcCounts(ctx.metricsUrl), before).Watch ?? 0,
        'etcd watchers': 1,
      };
      for (const s of subscriptions) {
        loops.push(
          (async () => {
            let expected = 0;
            for await (const message of s) {
              if (message.data !== expected) oursOutOfOrder++;
              expected = message.data + 1;
              oursReceived++;
            }
          })(),
        );
      }

      let rawReceived = 0;
      const plain = await rawWatchers(ctx, etcd3, '/bench/ps/fan-raw/', SUBSCRIBERS);
      for (const w of plain.watchers) w.on('put', () => rawReceived++);
      watchers.push(...plain.watchers);

      let jsonReceived = 0;
      let jsonOutOfOrder = 0;
      const parsing = await rawWatchers(ctx, etcd3Json, '/bench/ps/fan-json/', SUBSCRIBERS);
      for (const w of parsing.watchers) {
        let expected = 0;
        w.on('put', (kv: IKeyValue) => {
          const value = JSON.parse(kv.value.toString()) as number;
          if (value !== expected) jsonOutOfOrder++;
          expected = value + 1;
          jsonReceived++;
        });
      }
      watchers.push(...parsing.watchers);

      let sharedReceived = 0;
      let sharedOutOfOrder = 0;
      const shared = await rawWatchers(ctx, etcd3Shared, '/bench/ps/fan-one/', 1);
      const fanout = new EventEmitter().setMaxListeners(0);
      shared.watchers[0]!.on('put', (kv) => fanout.emit('message', JSON.parse(kv.value.toString())));
      for (let i = 0; i < SUBSCRIBERS; i++) {
        let expected = 0;
        fanout.on('message', (value: number) => {
          if (value !== expected) sharedOutOfOrder++;
          expected = value + 1;
          sharedReceived++;
        });
      }
      watchers.push(...shared.watchers);

      const results = await alternatedFanout(
        ctx,
        [
          {
            name: 'coordkit Topic x 1,000 subscribers',
            received: () => oursReceived,
            outOfOrder: () => oursOutOfOrder,
            async publish(from, count) {
              for (let i = from; i < from + count; i++) await publisher.publish(i);
            },
            setup: oursSetup,
          },
          {
            name: RAW_WATCHERS,
            received: () => rawReceived,
            outOfOrder: () => 0,
            publish: (from, count) => putMessages(writer, '/bench/ps/fan-raw/', from, count),
            setup: plain.setup,
          },
          {
            name: RAW_WATCHERS_JSON,
            received: () => jsonReceived,
            outOfOrder: () => jsonOutOfOrder,
            publish: (from, count) => putMessages(writer, '/bench/ps/fan-json/', from, count),
            setup: parsing.setup,
          },
          {
            name: 'like-for-like: 1 etcd3 watcher, JSON.parse once, 1,000 listeners',
            received: () => sharedReceived,
            outOfOrder: () => sharedOutOfOrder,
            publish: (from, count) => putMessages(writer, '/bench/ps/fan-one/', from, count),
            setup: shared.setup,
          },
        ],
        rounds,
        each,
      );
      return withRatioTo(
        withRatioTo(results, RAW_WATCHERS, 'x raw events/s'),
        RAW_WATCHERS_JSON,
        'x raw + JSON events/s',
      );
    } finally {
      await Promise.all(subscriptions.map((s) => s.close()));
      await Promise.all(loops);
      await Promise.all(watchers.map((w) => w.cancel()));
      for (const c of [publisherClient, client]) c.close();
      for (const c of [writer, etcd3, etcd3Json, etcd3Shared]) c.close();
    }
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
