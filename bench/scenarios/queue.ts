import { createClient, ops, Session } from '@coordkit/core';
import { Queue } from '@coordkit/queue';
import { Etcd3 } from 'etcd3';
import { type RpcCounts, readRpcCounts, unaryTotal } from '../lib/metrics.ts';
import type { BenchContext, Result, Scenario } from '../lib/scenario.ts';

const JOBS = 2000;
const BATCH = 42;
/** Jobs per drain round; the 1- and 16-consumer variants alternate ROUNDS times each. */
const ROUND_JOBS = 1000;
const ROUNDS = 4;
/** The recipe's 16 consumers are slow (every lost race is two more requests): fewer, smaller rounds. */
const RECIPE_ROUND_JOBS = 500;
const RECIPE_ROUNDS = 2;
const ONE = 'coordkit dequeue + ack, 1 consumer(s)';
const SIXTEEN = 'coordkit dequeue + ack, 16 consumer(s)';

interface Consumer {
  readonly client: ReturnType<typeof createClient>;
  readonly session: Session;
}

async function openConsumers(ctx: BenchContext, count: number): Promise<Consumer[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = createClient({ endpoints: [...ctx.endpoints] });
      return { client, session: await Session.create(client, { ttl: 10 }) };
    }),
  );
}

async function closeConsumers(consumers: readonly Consumer[]): Promise<void> {
  for (const c of consumers) {
    await c.session.close();
    c.client.close();
  }
}

async function fill(queue: Queue<number>, jobs: number): Promise<void> {
  for (let i = 0; i < jobs; i += BATCH) {
    await queue.enqueueBatch(Array.from({ length: Math.min(BATCH, jobs - i) }, (_, j) => ({ data: i + j })));
  }
}

/** CPU seconds etcd has used so far, from its own Prometheus endpoint. */
async function etcdCpuSeconds(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total '));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

/** One timed round of a drain variant, and what it cost. */
interface Round {
  readonly result: Result;
  readonly etcdCpu: number;
  readonly clientCpu: number;
}

/** Times `fn` like `ctx.measure`, adding the CPU etcd and this process used meanwhile. */
async function measuredRound(
  ctx: BenchContext,
  variant: string,
  jobs: number,
  fn: (latencies: number[]) => Promise<Record<string, number> | undefined>,
): Promise<Round> {
  const etcdBefore = await etcdCpuSeconds(ctx.metricsUrl);
  const clientBefore = process.cpuUsage();
  const result = await ctx.measure(variant, jobs, fn);
  const client = process.cpuUsage(clientBefore);
  return {
    result,
    etcdCpu: (await etcdCpuSeconds(ctx.metricsUrl)) - etcdBefore,
    clientCpu: (client.user + client.system) / 1e6,
  };
}

/** Sums a variant's rounds into one row: ops/s is all jobs over all timed seconds. */
function summed(
  rounds: readonly Round[],
  extra: (rpcs: RpcCounts, jobs: number, counts: Record<string, number>) => Record<string, number>,
): Result {
  const first = rounds[0]!.result;
  const rpcs: RpcCounts = {};
  let ops = 0;
  let seconds = 0;
  let etcdCpu = 0;
  let clientCpu = 0;
  const latencies: number[] = [];
  const extras: Record<string, number> = {};
  for (const round of rounds) {
    ops += round.result.ops;
    seconds += round.result.seconds;
    etcdCpu += round.etcdCpu;
    clientCpu += round.clientCpu;
    latencies.push(...(round.result.latenciesMs ?? []));
    for (const [method, n] of Object.entries(round.result.rpcs ?? {})) rpcs[method] = (rpcs[method] ?? 0) + n;
    for (const [name, n] of Object.entries(round.result.extra ?? {})) extras[name] = (extras[name] ?? 0) + n;
  }
  return {
    variant: first.variant,
    ops,
    seconds,
    latenciesMs: latencies,
    rpcs,
    extra: {
      ...extra(rpcs, ops, extras),
      'etcd CPU ms/job': (etcdCpu * 1000) / ops,
      'client CPU ms/job': (clientCpu * 1000) / ops,
      // Of the machine's 2 cores: near 2, the variant is bound by CPU rather than by round trips.
      'cores busy': (etcdCpu + clientCpu) / seconds,
    },
  };
}

/**
 * One round: fresh queue handles on a queue pre-filled (untimed) with `jobs` jobs; the consumers
 * dequeue + ack until every job was acked. Latency is dequeue start to ack done.
 */
async function drainRound(
  ctx: BenchContext,
  producer: Session,
  variant: string,
  consumers: readonly Consumer[],
  name: string,
  jobs: number,
): Promise<Round> {
  const filler = new Queue<number>(producer, name);
  await fill(filler, jobs);
  await filler.close();
  const queues = consumers.map((c) => new Queue<number>(c.session, name));
  try {
    return await measuredRound(ctx, variant, jobs, async (lat) => {
      let acked = 0;
      let duplicates = 0;
      const seen = new Set<number>();
      const done = new AbortController();
      await Promise.all(
        queues.map(async (queue) => {
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
  } finally {
    for (const queue of queues) await queue.close();
  }
}

/** Each ack is one transaction; what is left is what the claims cost. */
function claimCost(rpcs: RpcCounts, jobs: number, counts: Record<string, number>): Record<string, number> {
  const txns = rpcs.Txn ?? 0;
  return {
    'jobs seen twice': counts['jobs seen twice'] ?? 0,
    'claim txns/dequeue': (txns - jobs) / jobs,
    'txns/job (claim + ack)': txns / jobs,
  };
}

/** The recipe's dequeue is one read and one guarded delete, repeated after each lost race. */
function recipeCost(rpcs: RpcCounts, jobs: number, counts: Record<string, number>): Record<string, number> {
  const txns = rpcs.Txn ?? 0;
  return {
    'claim txns/dequeue': txns / jobs,
    'txns/job (claim + ack)': txns / jobs,
    'jobs taken': counts['jobs taken'] ?? 0,
    'lost races/dequeue': (counts['lost races'] ?? 0) / jobs,
  };
}

/** 16 consumers / 1 consumer, overall and for each 1-then-16 pair of rounds (how much a pair varies). */
function scaling(one: readonly Round[], sixteen: readonly Round[]): Record<string, number> {
  const rate = (rounds: readonly Round[]) =>
    rounds.reduce((n, r) => n + r.result.ops, 0) / rounds.reduce((s, r) => s + r.result.seconds, 0);
  const pairs = sixteen.map((r, i) => rate([r]) / rate([one[i]!]));
  return {
    'x 1 consumer': rate(sixteen) / rate(one),
    'x 1 consumer, lowest pair': Math.min(...pairs),
    'x 1 consumer, highest pair': Math.max(...pairs),
  };
}

/** Unary RPCs `count` consumers send in 2 s while blocked in dequeue() on an empty queue. */
async function idle(ctx: BenchContext, consumers: readonly Consumer[], name: string): Promise<Result> {
  const queues = consumers.map((c) => new Queue<number>(c.session, name));
  const stop = new AbortController();
  const waits = queues.map((queue) => queue.dequeue({ signal: stop.signal }).catch(() => undefined));
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
  for (const queue of queues) await queue.close();
  return { ...result, extra: { ...result.extra, 'idle unary RPCs in 2 s': unaryTotal(result.rpcs ?? {}) } };
}

/** etcd's recipe queue (Go `recipes/queue.go`): put a sortable key; dequeue = read first key, delete it guarded by its mod revision. */
async function recipeRound(
  ctx: BenchContext,
  clients: readonly Etcd3[],
  prefix: string,
  jobs: number,
): Promise<Round> {
  await recipeFill(clients[0]!, prefix, jobs);
  return measuredRound(
    ctx,
    `baseline: etcd recipe queue, ${clients.length} consumer(s)`,
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
      return { 'jobs taken': taken, 'lost races': conflicts };
    },
  );
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

/** Runs `a` and `b` alternately (a b, b a, a b, ...) `rounds` times each, so machine drift hits both alike. */
async function alternate(
  rounds: number,
  a: (round: number) => Promise<Round>,
  b: (round: number) => Promise<Round>,
): Promise<[Round[], Round[]]> {
  const as: Round[] = [];
  const bs: Round[] = [];
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      as.push(await a(round));
      bs.push(await b(round));
    } else {
      bs.push(await b(round));
      as.push(await a(round));
    }
  }
  return [as, bs];
}

export const queueScenario: Scenario = {
  name: 'queue',
  description: `Queue: ${JOBS} sequential enqueue() calls, then ${JOBS} jobs by enqueueBatch (${BATCH} per call); dequeue + ack by 1 consumer and by 16 consumers (own client + session each, kept for all rounds; fresh queue handles each round) of ${ROUND_JOBS} jobs pre-filled (untimed) before each round, the two variants alternating 1 16 16 1 1 16 16 1 (${ROUNDS} rounds each, summed; "lowest/highest pair" is the ratio of the slowest and fastest 1-then-16 pair); unary RPCs of the 16 consumers blocked in dequeue() on an empty queue for 2 s. CPU used by etcd and by the one process running every consumer, per job. Baseline: etcd's recipe queue (put a sortable key; read the first key, delete it in a txn guarded by its mod revision) with 1 and 16 consumers (own client each), alternating the same way, ${RECIPE_ROUNDS} rounds of ${RECIPE_ROUND_JOBS} jobs each.`,
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

      const one = await openConsumers(ctx, 1);
      const sixteen = await openConsumers(ctx, 16);
      const recipeClients = (n: number) =>
        Array.from({ length: n }, () => new Etcd3({ hosts: [...ctx.endpoints] }));
      const recipeOne = recipeClients(1);
      const recipeSixteen = recipeClients(16);
      try {
        const [oneRounds, sixteenRounds] = await alternate(
          ROUNDS,
          (round) => drainRound(ctx, producerSession, ONE, one, `/bench/queue/drain-1-${round}`, ROUND_JOBS),
          (round) =>
            drainRound(ctx, producerSession, SIXTEEN, sixteen, `/bench/queue/drain-16-${round}`, ROUND_JOBS),
        );
        results.push(summed(oneRounds, claimCost));
        results.push(
          summed(sixteenRounds, (rpcs, jobs, counts) => ({
            ...claimCost(rpcs, jobs, counts),
            ...scaling(oneRounds, sixteenRounds),
          })),
        );
        results.push(await idle(ctx, sixteen, '/bench/queue/idle'));
        const [recipeOneRounds, recipeSixteenRounds] = await alternate(
          RECIPE_ROUNDS,
          (round) => recipeRound(ctx, recipeOne, `/bench/queue/recipe-1-${round}/`, RECIPE_ROUND_JOBS),
          (round) => recipeRound(ctx, recipeSixteen, `/bench/queue/recipe-16-${round}/`, RECIPE_ROUND_JOBS),
        );
        results.push(summed(recipeOneRounds, recipeCost));
        results.push(
          summed(recipeSixteenRounds, (rpcs, jobs, counts) => ({
            ...recipeCost(rpcs, jobs, counts),
            ...scaling(recipeOneRounds, recipeSixteenRounds),
          })),
        );
      } finally {
        await closeConsumers([...one, ...sixteen]);
        for (const c of [...recipeOne, ...recipeSixteen]) c.close();
      }
      return results;
    } finally {
      await producerSession.close();
      producerClient.close();
      etcd3.close();
    }
  },
};
