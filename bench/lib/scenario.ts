import { diffCounts, type RpcCounts, readRpcCounts, unaryTotal } from './metrics.ts';
import { fmt, percentile } from './stats.ts';

/** One measured variant of a scenario (coordkit, or a baseline) in one run. */
export interface Result {
  readonly variant: string;
  readonly ops: number;
  readonly seconds: number;
  readonly latenciesMs?: readonly number[];
  readonly rpcs?: RpcCounts;
  /** Extra numbers worth a column (e.g. events/s, failover ms). */
  readonly extra?: Record<string, number>;
}

export interface BenchContext {
  readonly endpoints: readonly string[];
  readonly metricsUrl: string;
  /** Runs `fn`, timing it and counting the RPCs etcd saw meanwhile. */
  measure(
    variant: string,
    ops: number,
    fn: (latencies: number[]) => Promise<Record<string, number> | undefined>,
  ): Promise<Result>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<Result[]>;
}

export function makeContext(endpoints: readonly string[], metricsUrl: string): BenchContext {
  return {
    endpoints,
    metricsUrl,
    async measure(variant, ops, fn) {
      const latencies: number[] = [];
      const before = await readRpcCounts(metricsUrl);
      const start = performance.now();
      const extra = await fn(latencies);
      const seconds = (performance.now() - start) / 1000;
      const rpcs = diffCounts(await readRpcCounts(metricsUrl), before);
      return {
        variant,
        ops,
        seconds,
        rpcs,
        ...(latencies.length ? { latenciesMs: latencies } : {}),
        ...(extra ? { extra } : {}),
      };
    },
  };
}

/** A markdown table of results, one row per variant. */
export function toMarkdown(results: readonly Result[]): string {
  const extras = [...new Set(results.flatMap((r) => Object.keys(r.extra ?? {})))];
  const header = [
    'variant',
    'ops',
    'ops/s',
    'p50 ms',
    'p90 ms',
    'p99 ms',
    'unary RPCs/op',
    'RPCs by method',
    ...extras,
  ];
  const rows = results.map((r) => {
    const lat = r.latenciesMs ?? [];
    const byMethod = Object.entries(r.rpcs ?? {})
      .map(([m, n]) => `${m} ${fmt(n / r.ops)}`)
      .join(', ');
    return [
      r.variant,
      String(r.ops),
      fmt(r.ops / r.seconds, 0),
      fmt(percentile(lat, 50)),
      fmt(percentile(lat, 90)),
      fmt(percentile(lat, 99)),
      fmt(unaryTotal(r.rpcs ?? {}) / r.ops),
      byMethod || '-',
      ...extras.map((e) => fmt(r.extra?.[e])),
    ];
  });
  return [header, header.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
