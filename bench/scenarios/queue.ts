import { createClient, ops, Session } from '@coordkit/core';
import { Queue } from '@coordkit/queue';
import { Etcd3 } from 'etcd3';
import { readRpcCounts, unaryTotal } from '../lib/metrics.ts';
import type { BenchContext, Result, Scenario } from '../lib/scenario.ts';

const JOBS = 2000;
const BATCH = 42;

interface Consumer {
  readonly client: ReturnType<typeof createClient>;
  readonly session: Session;
  readonly queue: Queue<number>;
}

async function openConsumers(ctx: BenchContext, name: string, count: number): Promise<Consumer[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = createClient({ endpoints: [...ctx.endpoints] });
      const session = await Session.create(client, { ttl: 10 });
      return { client, session, queue: new Queue<number>(session, name) };
    }),
  );
}

async function closeConsumers(consumers: readonly Consumer[]): Promise<void> {
  for (const c of consumers) {
    await c.queue.close();
    await c.session.close();
    c.client.close();
  }
}

async function fill(queue: Queue<number>, jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i += BATCH) {
    await queue.enqueueBatch(Array.from({ length: Math.min(BATCH, jobs - i) }, (_, j) => ({ data: i + j })));
  }
}

/** Consumers dequeue + ack until `jobs` were acked; latency is dequeue start to ack done. */
async function drain(ctx: BenchContext, variant: string, consumers: readonly Consumer[], jobs: number) {
  const result = await ctx.measure(variant, jobs, async (lat) => {
    let acked = 0;
    let duplicates = 0;
    const seen = new Set<number>();
    const done = new AbortController();
    await Promise.all(
      consumers.map(async ({ queue }) => {
        while (!done.signal.aborted) {
          const t = performance.now();
          let job: Awaited<ReturnType<typeof queue.dequeue>>;
          try {
            job = await queue.dequeue({ signal: done.signal });
          } catch (err) {
            if (done.signal.aborted) return;
            throw err;
          }
          await job.ack();
          lat.push(performance.now() - t);
          if (seen.has(job.data)) duplicates++;
          seen.add(job.data);
          if (++acked === jobs) done.abort();
        }
      }),
    );
    return { 'jobs seen twice': duplicates };
  });
  // Each ack is one transaction; what is left is what the claims cost.
  const txns = result.rpcs?.Txn ?? 0;
  return {
    ...result,
    extra: {
      ...result.extra,
      'claim txns/dequeue': (txns - jobs) / jobs,
      'txns/job (claim + ack)': txns / jobs,
    },
  };
}

/** Unary RPCs `count` consumers send in 2 s while blocked in dequeue() on an empty queue. */
async function idle(ctx: BenchContext, consumers: readonly Consumer[]): Promise<Result> {
  const stop = new AbortController();
  const waits = consumers.map((c) => c.queue.dequeue({ signal: stop.signal }).catch(() => undefined));
  // Wait until the consumers are parked (their first read done and their RPC count flat for 300 ms).
  let last = unaryTotal(await readRpcCounts(ctx.metricsUrl));
  for (let flat = 0; flat < 3; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = unaryTotal(await readRpcCounts(ctx.metricsUrl));
    flat = now === last ? flat + 1 : 0;
    last = now;
  }
  const result = await ctx.measure(`coordkit ${consumers.length} idle consumers, 2 s`, 1, async () => {
    await new Promise((r) => setTimeout(r, 2000));
    return undefined;
  });
  stop.abort();
  await Promise.all(waits);
  return { ...result, extra: { ...result.extra, 'idle unary RPCs in 2 s': unaryTotal(result.rpcs ?? {}) } };
}

/** etcd's recipe queue (Go `recipes/queue.go`): put a sortable key; dequeue = read first key, delete it guarded by its mod revision. */
async function recipeDrain(
  ctx: BenchContext,
  prefix: string,
  consumers: number,
  jobs: number,
): Promise<Result> {
  const clients = Array.from({ length: consumers }, () => new Etcd3({ hosts: [...ctx.endpoints] }));
  try {
    const result = await ctx.measure(
      `baseline: etcd recipe queue, ${consumers} consumer(s)`,
      jobs,
      async (lat) => {
        let taken = 0;
        let conflicts = 0;
        await Promise.all(
          clients.map(async (etcd3) => {
            for (;;) {
              const t = performance.now();
              const head = await etcd3.getAll().prefix(prefix).sort('Key', 'Ascend').limit(1).exec();
              const kv = head.kvs[0];
              if (!kv) return; // pre-filled: empty means every job was taken
              const res = await etcd3.kv.txn({
                compare: [ops.modRevisionIs(kv.key.toString(), BigInt(kv.mod_revision))],
                success: [ops.delete(kv.key.toString())],
                failure: [],
              });
              if (!res.succeeded) {
                conflicts++;
                continue;
              }
              taken++;
              lat.push(performance.now() - t);
            }
          }),
        );
        return { 'jobs taken': taken, 'lost races/dequeue': conflicts / jobs };
      },
    );
    const txns = result.rpcs?.Txn ?? 0;
    return {
      ...result,
      extra: { ...result.extra, 'claim txns/dequeue': txns / jobs, 'txns/job (claim + ack)': txns / jobs },
    };
  } finally {
    for (const c of clients) c.close();
  }
}

async function recipeFill(etcd3: Etcd3, prefix: string, jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i += BATCH) {
    await Promise.all(
      Array.from({ length: Math.min(BATCH, jobs - i) }, (_, j) =>
        etcd3.put(`${prefix}${String(i + j).padStart(8, '0')}`).value(String(i + j)),
      ),
    );
  }
}

export const queueScenario: Scenario = {
  name: 'queue',
  description: `Queue: ${JOBS} sequential enqueue() calls, then ${JOBS} jobs by enqueueBatch (${BATCH} per call); dequeue + ack of ${JOBS} pre-filled jobs by 1 consumer and by 16 consumers (own client + session each); unary RPCs of the 16 consumers blocked in dequeue() on an empty queue for 2 s. Baseline: etcd's recipe queue (put a sortable key; read the first key, delete it in a txn guarded by its mod revision) with 1 and 16 consumers (own client each).`,
  async run(ctx) {
    const results: Result[] = [];
    const producerClient = createClient({ endpoints: [...ctx.endpoints] });
    const producerSession = await Session.create(producerClient, { ttl: 10 });
    const etcd3 = new Etcd3({ hosts: [...ctx.endpoints] });
    try {
      const producer = new Queue<number>(producerSession, '/bench/queue/enqueue');
      await producer.enqueue(-1); // warm-up
      results.push(
        await ctx.measure('coordkit enqueue', JOBS, async (lat) => {
          for (let i = 0; i < JOBS; i++) {
            const t = performance.now();
            await producer.enqueue(i);
            lat.push(performance.now() - t);
          }
          return undefined;
        }),
      );
      results.push(
        await ctx.measure(`coordkit enqueueBatch (${BATCH}/call)`, JOBS, async () => {
          await fill(producer, JOBS);
          return undefined;
        }),
      );
      results.push(
        await ctx.measure('baseline: etcd3 put (recipe enqueue)', JOBS, async (lat) => {
          for (let i = 0; i < JOBS; i++) {
            const t = performance.now();
            await etcd3.put(`/bench/queue/recipe-enqueue/${String(i).padStart(8, '0')}`).value(String(i));
            lat.push(performance.now() - t);
          }
          return undefined;
        }),
      );
      await producer.close();

      for (const count of [1, 16]) {
        const name = `/bench/queue/drain-${count}`;
        await fill(new Queue<number>(producerSession, name), JOBS);
        const consumers = await openConsumers(ctx, name, count);
        try {
          results.push(await drain(ctx, `coordkit dequeue + ack, ${count} consumer(s)`, consumers, JOBS));
          if (count === 16) results.push(await idle(ctx, consumers));
        } finally {
          await closeConsumers(consumers);
        }
      }
      for (const count of [1, 16]) {
        const prefix = `/bench/queue/recipe-${count}/`;
        await recipeFill(etcd3, prefix, JOBS);
        results.push(await recipeDrain(ctx, prefix, count, JOBS));
      }
      const rate = (variant: string) => {
        const r = results.find((x) => x.variant === variant);
        return r ? r.ops / r.seconds : Number.NaN;
      };
      const scaling =
        rate('coordkit dequeue + ack, 16 consumer(s)') / rate('coordkit dequeue + ack, 1 consumer(s)');
      return results.map((r) =>
        r.variant === 'coordkit dequeue + ack, 16 consumer(s)'
          ? { ...r, extra: { ...r.extra, 'x 1 consumer': scaling } }
          : r,
      );
    } finally {
      await producerSession.close();
      producerClient.close();
      etcd3.close();
    }
  },
};
