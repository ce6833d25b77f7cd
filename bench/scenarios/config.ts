import { ConfigWatch } from '@coordkit/config-watch';
import { createClient } from '@coordkit/core';
import { Etcd3 } from 'etcd3';
import { diffCounts, readRpcCounts } from '../lib/metrics.ts';
import type { BenchContext, Result, Scenario } from '../lib/scenario.ts';
import { percentile } from '../lib/stats.ts';

const WATCHERS = 100;
const PUTS = 200;

/**
 * Times each put until every one of the watchers reported it: every watcher's own delay goes into
 * the latency sample, the slowest watcher's into `last of 100`.
 */
function rounds(watchers: number) {
  let startedAt = 0;
  let seen = 0;
  let done: (() => void) | undefined;
  const perWatcher: number[] = [];
  const slowest: number[] = [];
  return {
    perWatcher,
    slowest,
    received(): void {
      const now = performance.now();
      perWatcher.push(now - startedAt);
      if (++seen === watchers) {
        slowest.push(now - startedAt);
        done?.();
      }
    },
    async run(put: () => Promise<unknown>): Promise<void> {
      seen = 0;
      const all = new Promise<void>((resolve) => (done = resolve));
      startedAt = performance.now();
      await put();
      await all;
    },
  };
}

async function measureRounds(
  ctx: BenchContext,
  variant: string,
  round: ReturnType<typeof rounds>,
  put: (i: number) => Promise<unknown>,
  extra: Record<string, number>,
): Promise<Result> {
  return ctx.measure(variant, PUTS * WATCHERS, async (lat) => {
    for (let i = 0; i < PUTS; i++) await round.run(() => put(i));
    lat.push(...round.perWatcher);
    return {
      ...extra,
      'last of 100 p50 ms': percentile(round.slowest, 50),
      'last of 100 p99 ms': percentile(round.slowest, 99),
    };
  });
}

export const configWatchScenario: Scenario = {
  name: 'config-watch',
  description: `Put-to-change propagation: ${WATCHERS} ConfigWatch instances on one client (core multiplexes their watches on one Watch stream), ${PUTS} sequential puts of one key by another client; latency per watcher from the put's start to its changes() loop receiving the change (ops = puts x watchers). Baseline: ${WATCHERS} raw etcd3 prefix watchers on one client.`,
  async run(ctx) {
    const writer = new Etcd3({ hosts: [...ctx.endpoints] });
    const results: Result[] = [];
    try {
      {
        const client = createClient({ endpoints: [...ctx.endpoints] });
        const prefix = '/bench/config/ours/';
        await writer.put(`${prefix}pool/max`).value('0');
        const before = await readRpcCounts(ctx.metricsUrl);
        const t0 = performance.now();
        const watchers = await Promise.all(
          Array.from({ length: WATCHERS }, () => ConfigWatch.open(client, prefix)),
        );
        const createMs = performance.now() - t0;
        const streams = diffCounts(await readRpcCounts(ctx.metricsUrl), before).Watch ?? 0;
        const round = rounds(WATCHERS);
        const loops = watchers.map(async (w) => {
          for await (const _change of w.changes()) round.received();
        });
        const result = await measureRounds(
          ctx,
          `coordkit ConfigWatch x ${WATCHERS}`,
          round,
          (i) =>
            writer
              .put(`${prefix}pool/max`)
              .value(String(i + 1))
              .exec(),
          { 'open 100 ms': createMs, 'Watch streams': streams },
        );
        const stale = watchers.filter(
          (w) => (w.value as { pool?: { max?: unknown } }).pool?.max !== PUTS,
        ).length;
        results.push({ ...result, extra: { ...result.extra, 'watchers with stale value': stale } });
        await Promise.all(watchers.map((w) => w.close()));
        await Promise.all(loops);
        client.close();
      }
      {
        const etcd3 = new Etcd3({ hosts: [...ctx.endpoints] });
        const prefix = '/bench/config/raw/';
        const before = await readRpcCounts(ctx.metricsUrl);
        const t0 = performance.now();
        const watchers = await Promise.all(
          Array.from({ length: WATCHERS }, () => etcd3.watch().prefix(prefix).create()),
        );
        const createMs = performance.now() - t0;
        const streams = diffCounts(await readRpcCounts(ctx.metricsUrl), before).Watch ?? 0;
        const round = rounds(WATCHERS);
        for (const w of watchers) w.on('put', () => round.received());
        results.push(
          await measureRounds(
            ctx,
            `baseline: etcd3 watchers x ${WATCHERS}`,
            round,
            (i) =>
              writer
                .put(`${prefix}pool/max`)
                .value(String(i + 1))
                .exec(),
            { 'open 100 ms': createMs, 'Watch streams': streams, 'watchers with stale value': 0 },
          ),
        );
        await Promise.all(watchers.map((w) => w.cancel()));
        etcd3.close();
      }
      const [ours, baseline] = results as [Result, Result];
      const ratio = (q: number) =>
        percentile(ours.latenciesMs ?? [], q) / percentile(baseline.latenciesMs ?? [], q);
      return [
        { ...ours, extra: { ...ours.extra, 'p50 x raw': ratio(50), 'p99 x raw': ratio(99) } },
        baseline,
      ];
    } finally {
      writer.close();
    }
  },
};
