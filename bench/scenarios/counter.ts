import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { CasCounter } from '@coordkit/cas-counter';
import { createClient, ops } from '@coordkit/core';
import { Etcd3 } from 'etcd3';
import { interleaved, withRatioTo } from '../lib/interleave.ts';
import type { RpcCounts } from '../lib/metrics.ts';
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

/** What one round of a concurrent variant measured. */
interface RoundResult {
  readonly latencies: readonly number[];
  /** CPU seconds the clients used (their process or processes), etcd excluded. */
  readonly clientCpu: number;
}

/** One concurrent variant: 16 clients, each running `each` increments one after the other per round. */
interface ConcurrentVariant {
  readonly name: string;
  round(each: number, round: number): Promise<RoundResult>;
  /** Checked after the last round (e.g. the counter's final value); a column of the table. */
  check?(): Promise<Record<string, number>>;
}

const CLIENTS = 16;
/** Client processes of the multi-process variants: one Node process cannot drive etcd to its limit. */
const PROCESSES = 4;

/** CPU seconds the whole machine has spent busy so far (all cores, every process), from /proc/stat. */
async function machineCpuSeconds(): Promise<number> {
  const first = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = first.trim().split(/\s+/).slice(1).map(Number);
  return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100;
}

/** CPU seconds etcd has used so far, from its own Prometheus endpoint. */
async function etcdCpuSeconds(metricsUrl: string): Promise<number> {
  const text = await (await fetch(metricsUrl)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total '));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
}

/** A variant whose 16 clients run in this process: `op(worker, i)` is one increment of one client. */
function inProcess(op: (worker: number, i: number) => Promise<unknown>) {
  return async (each: number, round: number): Promise<RoundResult> => {
    const latencies: number[] = [];
    const before = process.cpuUsage();
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, worker) => {
        for (let i = 0; i < each; i++) {
          const t = performance.now();
          await op(worker, round * each + i);
          latencies.push(performance.now() - t);
        }
      }),
    );
    const cpu = process.cpuUsage(before);
    return { latencies, clientCpu: (cpu.user + cpu.system) / 1e6 };
  };
}

/**
 * One client process of the multi-process variants (`node --input-type=module -e`): opens its share
 * of the clients, then per `go <each>` line runs `each` increments on each and answers one JSON line
 * `{ latencies, cpu }`. `kind` is `raw` (a guarded txn on a key of its own per client) or `shards`.
 */
const CHILD = `
import { createInterface } from 'node:readline';
import { CasCounter } from '@coordkit/cas-counter';
import { createClient, ops } from '@coordkit/core';
const [endpoints, kind, name, count] = process.argv.slice(1);
const workers = await Promise.all(Array.from({ length: Number(count) }, async (_, n) => {
  const client = createClient({ endpoints: endpoints.split(',') });
  const key = name + '/' + process.pid + '-' + n;
  const revision = BigInt((await client.put(key).value('0').exec()).header.revision);
  return { client, key, revision, counter: new CasCounter(client, name, { shards: 16 }) };
}));
const increment = async (w, i) => {
  if (kind === 'shards') return w.counter.increment();
  const res = await w.client.kv.txn({ compare: [ops.modRevisionIs(w.key, w.revision)], success: [ops.put(w.key, String(i))], failure: [ops.get(w.key)] });
  w.revision = BigInt(res.header.revision);
};
if (kind === 'shards') await Promise.all(workers.map((w) => w.counter.increment()));
process.stdout.write('ready\\n');
for await (const line of createInterface({ input: process.stdin })) {
  const each = Number(line.split(' ')[1]);
  const latencies = [];
  const before = process.cpuUsage();
  await Promise.all(workers.map(async (w) => {
    for (let i = 0; i < each; i++) { const t = performance.now(); await increment(w, i); latencies.push(performance.now() - t); }
  }));
  const cpu = process.cpuUsage(before);
  process.stdout.write(JSON.stringify({ latencies, cpu: (cpu.user + cpu.system) / 1e6 }) + '\\n');
}
for (const w of workers) w.client.close();
`;

/** Starts PROCESSES client processes sharing the 16 clients; `round` runs them all at once. */
async function inChildren(endpoints: readonly string[], kind: 'raw' | 'shards', name: string) {
  const children = Array.from({ length: PROCESSES }, () => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', CHILD, endpoints.join(','), kind, name, String(CLIENTS / PROCESSES)],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    return { child, next: async () => String((await lines.next()).value) };
  });
  await Promise.all(children.map((c) => c.next())); // "ready"
  return {
    async round(each: number): Promise<RoundResult> {
      for (const c of children) c.child.stdin!.write(`go ${each}\n`);
      const replies = await Promise.all(children.map(async (c) => JSON.parse(await c.next())));
      return {
        latencies: replies.flatMap((r: { latencies: number[] }) => r.latencies),
        clientCpu: replies.reduce((sum: number, r: { cpu: number }) => sum + r.cpu, 0),
      };
    },
    close() {
      for (const c of children) c.child.stdin!.end();
    },
  };
}

const ONE_KEY = 'coordkit CasCounter, 16 clients, one key';
const SHARDED = 'coordkit CasCounter, 16 clients, 16 shards';
const CEILING = 'ceiling: raw guarded txn, 16 clients, 16 distinct keys';
const SHARDED_PROCS = `coordkit CasCounter, 16 clients in ${PROCESSES} processes, 16 shards`;
const CEILING_PROCS = `ceiling: raw guarded txn, 16 clients in ${PROCESSES} processes, 16 distinct keys`;

/**
 * Runs concurrent variants alternately, A B C then B C A, ... (`rounds` times each), summing each
 * variant's rounds: a concurrent run cannot be interleaved op by op, and back to back one variant
 * would get the machine's slow minute.
 */
async function alternated(
  ctx: Parameters<Scenario['run']>[0],
  variants: readonly ConcurrentVariant[],
  rounds: number,
  each: number,
): Promise<Result[]> {
  const totals = variants.map(() => ({
    ops: 0,
    seconds: 0,
    latencies: [] as number[],
    rpcs: {} as RpcCounts,
    etcdCpu: 0,
    clientCpu: 0,
    machineCpu: 0,
  }));
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const index = (round + k) % variants.length;
      const variant = variants[index]!;
      const total = totals[index]!;
      const etcdCpuBefore = await etcdCpuSeconds(ctx.metricsUrl);
      const machineCpuBefore = await machineCpuSeconds();
      let clientCpu = 0;
      const result = await ctx.measure(variant.name, CLIENTS * each, async (lat) => {
        const measured = await variant.round(each, round);
        lat.push(...measured.latencies);
        clientCpu = measured.clientCpu;
        return undefined;
      });
      total.machineCpu += (await machineCpuSeconds()) - machineCpuBefore;
      total.etcdCpu += (await etcdCpuSeconds(ctx.metricsUrl)) - etcdCpuBefore;
      total.clientCpu += clientCpu;
      total.ops += result.ops;
      total.seconds += result.seconds;
      total.latencies.push(...(result.latenciesMs ?? []));
      for (const [method, n] of Object.entries(result.rpcs ?? {}))
        total.rpcs[method] = (total.rpcs[method] ?? 0) + n;
    }
  }
  const results: Result[] = [];
  for (const [index, variant] of variants.entries()) {
    const total = totals[index]!;
    const txns = total.rpcs.Txn ?? 0;
    results.push({
      variant: variant.name,
      ops: total.ops,
      seconds: total.seconds,
      latenciesMs: total.latencies,
      rpcs: total.rpcs,
      extra: {
        'commits/increment': txns / total.ops,
        'etcd CPU ms/op': (total.etcdCpu * 1000) / total.ops,
        'client CPU ms/op': (total.clientCpu * 1000) / total.ops,
        // Near 1 for an in-process variant: its one Node thread is the limit, not etcd.
        'client cores busy': total.clientCpu / total.seconds,
        // Of the machine's 2 cores, every process included (other tenants too).
        'machine cores busy': total.machineCpu / total.seconds,
        ...(await variant.check?.()),
      },
    });
  }
  return results;
}

export const counterContended: Scenario = {
  name: 'counter-contended',
  description: `16 clients (own etcd client each) x 100 increments per round on one counter key, on a 16-shard counter, and the ceiling: 16 clients each looping a raw guarded txn (compare mod revision, put) on its own key, i.e. 16 shards that never collide and carry no coordkit cost. One Node process saturates its one thread driving 16 clients, so the 16-shard counter and the ceiling also run with the 16 clients spread over ${PROCESSES} processes (which, with etcd, fill both cores: the machine is the limit). Variants alternate (A B C D E, B C D E A, ...), 4 rounds each, summed. Txn RPCs (commits and refused compares) per increment; CPU used by etcd and by the client process(es), per increment and in cores busy (the machine has 2).`,
  async run(ctx) {
    const rounds = 4;
    const each = 100;
    const open = (label: string, shards: number) =>
      Array.from({ length: CLIENTS }, () => {
        const client = createClient({ endpoints: [...ctx.endpoints] });
        return { client, counter: new CasCounter(client, `/bench/counter/${label}`, { shards }) };
      });
    const single = open('single', 1);
    const sharded = open('sharded', 16);
    const raw = Array.from({ length: CLIENTS }, (_, worker) => ({
      client: createClient({ endpoints: [...ctx.endpoints] }),
      key: `/bench/counter/ceiling/${worker}`,
      revision: 0n,
    }));
    const shardedChildren = await inChildren(ctx.endpoints, 'shards', '/bench/counter/sharded-procs');
    const rawChildren = await inChildren(ctx.endpoints, 'raw', '/bench/counter/ceiling-procs');
    const expected = BigInt(CLIENTS + rounds * CLIENTS * each);
    const finalOk = (counter: CasCounter) => async () => ({
      'final value ok': (await counter.get()) === expected ? 1 : 0,
    });
    try {
      // Warm-up, untimed: connections, JIT, and each instance's first (guessing) transaction.
      await Promise.all([...single, ...sharded].map((w) => w.counter.increment()));
      for (const w of raw) w.revision = BigInt((await w.client.put(w.key).value('0').exec()).header.revision);
      const results = await alternated(
        ctx,
        [
          {
            name: ONE_KEY,
            round: inProcess((worker) => single[worker]!.counter.increment()),
            check: finalOk(single[0]!.counter),
          },
          {
            name: SHARDED,
            round: inProcess((worker) => sharded[worker]!.counter.increment()),
            check: finalOk(sharded[0]!.counter),
          },
          {
            name: CEILING,
            round: inProcess(async (worker, i) => {
              const w = raw[worker]!;
              const res = await w.client.kv.txn({
                compare: [ops.modRevisionIs(w.key, w.revision)],
                success: [ops.put(w.key, String(i))],
                failure: [ops.get(w.key)],
              });
              w.revision = BigInt(res.header.revision);
            }),
          },
          {
            name: SHARDED_PROCS,
            round: (each) => shardedChildren.round(each),
            check: finalOk(new CasCounter(single[0]!.client, '/bench/counter/sharded-procs', { shards: 16 })),
          },
          { name: CEILING_PROCS, round: (each) => rawChildren.round(each) },
        ],
        rounds,
        each,
      );
      return withRatioTo(withRatioTo(results, ONE_KEY, 'x one key'), CEILING, 'x ceiling');
    } finally {
      shardedChildren.close();
      rawChildren.close();
      for (const w of [...single, ...sharded]) {
        await w.counter.close();
        w.client.close();
      }
      for (const w of raw) w.client.close();
    }
  },
};
