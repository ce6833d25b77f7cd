/**
 * RPC counting from etcd's own Prometheus endpoint: `grpc_server_started_total` by method is what
 * the server saw, so the counts include every retry and stream a client library made behind our back.
 */
export type RpcCounts = Record<string, number>;

export async function readRpcCounts(metricsUrl: string): Promise<RpcCounts> {
  const text = await (await fetch(metricsUrl)).text();
  const counts: RpcCounts = {};
  for (const line of text.split('\n')) {
    if (!line.startsWith('grpc_server_started_total{')) continue;
    const method = /grpc_method="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (method) counts[method] = (counts[method] ?? 0) + value;
  }
  return counts;
}

export function diffCounts(after: RpcCounts, before: RpcCounts): RpcCounts {
  const diff: RpcCounts = {};
  for (const [method, value] of Object.entries(after)) {
    const delta = value - (before[method] ?? 0);
    if (delta > 0) diff[method] = delta;
  }
  return diff;
}

/** Unary RPC methods: the ones that cost a round trip each (streams are counted separately). */
export const STREAM_METHODS = new Set(['Watch', 'LeaseKeepAlive']);

export function unaryTotal(counts: RpcCounts): number {
  return Object.entries(counts)
    .filter(([method]) => !STREAM_METHODS.has(method))
    .reduce((sum, [, n]) => sum + n, 0);
}
