import { diffCounts, type RpcCounts, readRpcCounts } from './metrics.ts';
import type { BenchContext, Result } from './scenario.ts';

/** One variant of a sequential benchmark: an operation timed one call at a time. */
export interface SequentialVariant {
  readonly name: string;
  /**
   * One operation (e.g. lock + release); its latency is timed around the call, unless it returns
   * the latency itself (ms) because only part of it counts (e.g. a handoff after its set-up).
   */
  op(i: number): Promise<void | number>;
}

/** How an interleaved comparison is split. */
export interface InterleaveOptions {
  /** Operations per variant in all. */
  readonly ops: number;
  /** Chunks per variant; variants alternate chunk by chunk. Default 10. */
  readonly rounds?: number;
  /** Untimed operations per variant before the first chunk (JIT, connections, etcd caches). Default 50. */
  readonly warmup?: number;
}

/**
 * Runs variants in alternating chunks (A B C, then B C A, then C A B, ...) instead of one after the
 * other. On a 2-core machine shared with etcd, throughput drifts by tens of percent within a minute
 * (etcd's compaction and GC, other tenants); run back to back, whichever variant ran in the slow
 * minute would look slow. Interleaved, every variant sees the same drift, so their ratio is fair.
 * RPCs are counted per chunk from etcd's /metrics, outside the timed part.
 */
export async function interleaved(
  ctx: BenchContext,
  variants: readonly SequentialVariant[],
  options: InterleaveOptions,
): Promise<Result[]> {
  const rounds = options.rounds ?? 10;
  const perChunk = Math.ceil(options.ops / rounds);
  const totals = variants.map(() => ({
    ops: 0,
    seconds: 0,
    latencies: [] as number[],
    rpcs: {} as RpcCounts,
  }));
  for (const variant of variants) {
    for (let i = 0; i < (options.warmup ?? 50); i++) await variant.op(i);
  }
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const index = (round + k) % variants.length;
      const variant = variants[index]!;
      const total = totals[index]!;
      const before = await readRpcCounts(ctx.metricsUrl);
      const start = performance.now();
      for (let i = 0; i < perChunk; i++) {
        const t = performance.now();
        const own = await variant.op(total.ops + i);
        total.latencies.push(typeof own === 'number' ? own : performance.now() - t);
      }
      total.seconds += (performance.now() - start) / 1000;
      total.ops += perChunk;
      const spent = diffCounts(await readRpcCounts(ctx.metricsUrl), before);
      for (const [method, n] of Object.entries(spent)) total.rpcs[method] = (total.rpcs[method] ?? 0) + n;
    }
  }
  return variants.map((variant, index) => {
    const total = totals[index]!;
    return {
      variant: variant.name,
      ops: total.ops,
      seconds: total.seconds,
      latenciesMs: total.latencies,
      rpcs: total.rpcs,
    };
  });
}

/** Adds a column `x <baseline>` (ops/s ratio) to each result, for the verdict lines of docs/benchmarks.md. */
export function withRatioTo(results: readonly Result[], baseline: string, column: string): Result[] {
  const base = results.find((r) => r.variant === baseline);
  if (!base) return [...results];
  const baseRate = base.ops / base.seconds;
  return results.map((r) =>
    r === base ? r : { ...r, extra: { ...r.extra, [column]: r.ops / r.seconds / baseRate } },
  );
}
