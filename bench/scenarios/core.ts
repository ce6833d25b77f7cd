import { createClient, Session, watch } from '@coordkit/core';
import { Etcd3 } from 'etcd3';
import { interleaved, withRatioTo } from '../lib/interleave.ts';
import { diffCounts, type RpcCounts, readRpcCounts } from '../lib/metrics.ts';
import type { Result, Scenario } from '../lib/scenario.ts';
import { percentile } from '../lib/stats.ts';

const raw = (endpoints: readonly string[]) => new Etcd3({ hosts: [...endpoints] });

export const session: Scenario = {
  name: 'session',
  description:
    'Session create + close (lease grant, keepalive stream, revoke), 200 cycles each, interleaved in 10 alternating chunks after 20 untimed cycles.',
  async run(ctx) {
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = raw(ctx.endpoints);
    try {
      return await interleaved(
        ctx,
        [
          {
            name: 'coordkit Session.create + close',
            op: async () => {
              const s = await Session.create(client, { ttl: 10 });
              await s.close();
            },
          },
          {
            name: 'etcd3 lease grant + revoke',
            op: async () => {
              const lease = etcd3.lease(10);
              await lease.grant();
              await lease.revoke();
            },
          },
        ],
        { ops: 200, warmup: 20 },
      );
    } finally {
      client.close();
      etcd3.close();
    }
  },
};

const OURS_WATCH = 'coordkit watch()';
const ETCD3_WATCH = 'etcd3 watcher';

export const watchLatency: Scenario = {
  name: 'watch-latency',
  description:
    'Put-to-event latency: one writer, one watcher on the key (its own client), 2,000 sequential puts per variant, interleaved in 20 alternating chunks after 50 untimed puts. Floor: the put alone.',
  async run(ctx) {
    const writer = raw(ctx.endpoints);
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = raw(ctx.endpoints);
    const ours = watch(client, { key: '/bench/wl/ours' });
    await ours.created();
    const it = ours[Symbol.asyncIterator]();
    const theirs = await etcd3.watch().key('/bench/wl/raw').create();
    let wake: (() => void) | undefined;
    let pending = 0;
    theirs.on('put', () => {
      pending++;
      wake?.();
    });
    try {
      const results = await interleaved(
        ctx,
        [
          {
            name: OURS_WATCH,
            op: async (i) => {
              await writer.put('/bench/wl/ours').value(String(i));
              await it.next();
            },
          },
          {
            name: ETCD3_WATCH,
            op: async (i) => {
              await writer.put('/bench/wl/raw').value(String(i));
              while (pending === 0) await new Promise<void>((r) => (wake = r));
              pending--;
            },
          },
          {
            name: 'floor: put alone',
            op: async (i) => {
              await writer.put('/bench/wl/floor').value(String(i));
            },
          },
        ],
        { ops: 2000, rounds: 20 },
      );
      const base = results.find((r) => r.variant === ETCD3_WATCH)!;
      return results.map((r) =>
        r.variant === OURS_WATCH
          ? {
              ...r,
              extra: {
                'p50 x etcd3 watcher':
                  percentile(r.latenciesMs ?? [], 50) / percentile(base.latenciesMs ?? [], 50),
                'p99 x etcd3 watcher':
                  percentile(r.latenciesMs ?? [], 99) / percentile(base.latenciesMs ?? [], 99),
              },
            }
          : r,
      );
    } finally {
      ours.close();
      await theirs.cancel();
      writer.close();
      client.close();
      etcd3.close();
    }
  },
};

/** One set of 1,000 watchers of one key; a round puts `count` values and waits until all saw them. */
interface FanoutSet {
  readonly name: string;
  readonly key: string;
  received(): number;
  readonly createMs: number;
}

const WATCHERS = 1000;

export const watchFanout: Scenario = {
  name: 'watch-fanout',
  description:
    'Fan-out: 1,000 watchers of one key on one client (coordkit watch(), each a for-await loop; etcd3 watchers, each a put listener), both sets live at once on their own keys; 4 rounds x 50 puts per set, sets alternating, summed; events/s until every watcher saw every put. Also the creation time of each set of 1,000.',
  async run(ctx) {
    const writer = raw(ctx.endpoints);
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = raw(ctx.endpoints);
    let oursReceived = 0;
    let theirsReceived = 0;
    let t0 = performance.now();
    const ours = Array.from({ length: WATCHERS }, () => watch(client, { key: '/bench/fan/ours' }));
    await Promise.all(ours.map((w) => w.created()));
    const oursCreateMs = performance.now() - t0;
    const loops = ours.map(async (w) => {
      for await (const batch of w) oursReceived += batch.events.length;
    });
    t0 = performance.now();
    const theirs = await Promise.all(
      Array.from({ length: WATCHERS }, () => etcd3.watch().key('/bench/fan/raw').create()),
    );
    const theirsCreateMs = performance.now() - t0;
    for (const w of theirs) w.on('put', () => theirsReceived++);
    const sets: FanoutSet[] = [
      {
        name: 'coordkit watch() x 1,000',
        key: '/bench/fan/ours',
        received: () => oursReceived,
        createMs: oursCreateMs,
      },
      {
        name: 'etcd3 watchers x 1,000',
        key: '/bench/fan/raw',
        received: () => theirsReceived,
        createMs: theirsCreateMs,
      },
    ];
    const rounds = 4;
    const each = 50;
    const totals = sets.map(() => ({ seconds: 0, rpcs: {} as RpcCounts }));
    try {
      for (let round = 0; round < rounds; round++) {
        for (let k = 0; k < sets.length; k++) {
          const index = (round + k) % sets.length;
          const set = sets[index]!;
          const target = set.received() + WATCHERS * each;
          const before = await readRpcCounts(ctx.metricsUrl);
          const start = performance.now();
          for (let i = 0; i < each; i++) await writer.put(set.key).value(String(round * each + i));
          while (set.received() < target) await new Promise((r) => setTimeout(r, 1));
          totals[index]!.seconds += (performance.now() - start) / 1000;
          for (const [method, n] of Object.entries(diffCounts(await readRpcCounts(ctx.metricsUrl), before)))
            totals[index]!.rpcs[method] = (totals[index]!.rpcs[method] ?? 0) + n;
        }
      }
      const results: Result[] = sets.map((set, index) => ({
        variant: set.name,
        ops: rounds * each * WATCHERS,
        seconds: totals[index]!.seconds,
        rpcs: totals[index]!.rpcs,
        extra: { 'create 1,000 ms': set.createMs },
      }));
      return withRatioTo(results, 'etcd3 watchers x 1,000', 'x etcd3 events/s');
    } finally {
      for (const w of ours) w.close();
      await Promise.all(loops);
      await Promise.all(theirs.map((w) => w.cancel()));
      writer.close();
      client.close();
      etcd3.close();
    }
  },
};
