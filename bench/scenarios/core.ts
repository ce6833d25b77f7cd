import { createClient, Session, watch } from '@coordkit/core';
import { Etcd3 } from 'etcd3';
import type { Scenario } from '../lib/scenario.ts';

const raw = (endpoints: readonly string[]) => new Etcd3({ hosts: [...endpoints] });

export const session: Scenario = {
  name: 'session',
  description: 'Session create + close (lease grant, keepalive stream, revoke), 200 sequential cycles.',
  async run(ctx) {
    const n = 200;
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = raw(ctx.endpoints);
    try {
      const ours = await ctx.measure('coordkit Session.create + close', n, async (lat) => {
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          const s = await Session.create(client, { ttl: 10 });
          await s.close();
          lat.push(performance.now() - t);
        }
      });
      const theirs = await ctx.measure('etcd3 lease grant + revoke', n, async (lat) => {
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          const lease = etcd3.lease(10);
          await lease.grant();
          await lease.revoke();
          lat.push(performance.now() - t);
        }
      });
      return [ours, theirs];
    } finally {
      client.close();
      etcd3.close();
    }
  },
};

export const watchLatency: Scenario = {
  name: 'watch-latency',
  description: 'Put-to-event latency: one writer, one watcher on the key, 1,000 sequential puts.',
  async run(ctx) {
    const n = 1000;
    const writer = raw(ctx.endpoints);
    const client = createClient({ endpoints: [...ctx.endpoints] });
    const etcd3 = raw(ctx.endpoints);
    try {
      const ours = await ctx.measure('coordkit watch()', n, async (lat) => {
        const w = watch(client, { key: '/bench/wl/ours' });
        await w.created();
        const it = w[Symbol.asyncIterator]();
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await writer.put('/bench/wl/ours').value(String(i));
          await it.next();
          lat.push(performance.now() - t);
        }
        w.close();
      });
      const theirs = await ctx.measure('etcd3 watcher', n, async (lat) => {
        const w = await etcd3.watch().key('/bench/wl/raw').create();
        let wake: (() => void) | undefined;
        let pending = 0;
        w.on('put', () => {
          pending++;
          wake?.();
        });
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await writer.put('/bench/wl/raw').value(String(i));
          while (pending === 0) await new Promise<void>((r) => (wake = r));
          pending--;
          lat.push(performance.now() - t);
        }
        await w.cancel();
      });
      const floor = await ctx.measure('floor: put alone', n, async (lat) => {
        for (let i = 0; i < n; i++) {
          const t = performance.now();
          await writer.put('/bench/wl/floor').value(String(i));
          lat.push(performance.now() - t);
        }
      });
      return [ours, theirs, floor];
    } finally {
      writer.close();
      client.close();
      etcd3.close();
    }
  },
};

export const watchFanout: Scenario = {
  name: 'watch-fanout',
  description:
    'Fan-out: 1,000 watchers of one key on one client, 200 puts; events/s until every watcher saw every put. Also watcher creation time for the 1,000.',
  async run(ctx) {
    const watchers = 1000;
    const puts = 200;
    const writer = raw(ctx.endpoints);
    const results = [];
    {
      const client = createClient({ endpoints: [...ctx.endpoints] });
      let received = 0;
      let createMs = 0;
      const all: Array<ReturnType<typeof watch>> = [];
      const t0 = performance.now();
      for (let i = 0; i < watchers; i++) all.push(watch(client, { key: '/bench/fan/ours' }));
      await Promise.all(all.map((w) => w.created()));
      createMs = performance.now() - t0;
      const loops = all.map(async (w) => {
        for await (const batch of w) {
          received += batch.events.length;
        }
      });
      results.push(
        await ctx.measure('coordkit watch() x 1,000', watchers * puts, async () => {
          for (let i = 0; i < puts; i++) await writer.put('/bench/fan/ours').value(String(i));
          while (received < watchers * puts) await new Promise((r) => setTimeout(r, 5));
          return { 'create 1,000 ms': createMs };
        }),
      );
      for (const w of all) w.close();
      await Promise.all(loops);
      client.close();
    }
    {
      const etcd3 = raw(ctx.endpoints);
      let received = 0;
      const t0 = performance.now();
      const all = await Promise.all(
        Array.from({ length: watchers }, () => etcd3.watch().key('/bench/fan/raw').create()),
      );
      const createMs = performance.now() - t0;
      for (const w of all) w.on('put', () => received++);
      results.push(
        await ctx.measure('etcd3 watchers x 1,000', watchers * puts, async () => {
          for (let i = 0; i < puts; i++) await writer.put('/bench/fan/raw').value(String(i));
          while (received < watchers * puts) await new Promise((r) => setTimeout(r, 5));
          return { 'create 1,000 ms': createMs };
        }),
      );
      await Promise.all(all.map((w) => w.cancel()));
      etcd3.close();
    }
    writer.close();
    return results;
  },
};
