import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { EtcdCluster } from '@coordkit/testing';
import { uniquePrefix } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';
import { ClientProcess, type ClientSpec } from './client-process.js';
import { type CheckResult, chaosNow, type HistoryOp, mergeHistories } from './history.js';
import { type ClientFault, type MemberFault, runNemesis } from './nemesis.js';

/** What a workload is given once the faults are over, to let it finish and read the ground truth. */
export interface SettleContext {
  readonly admin: Etcd3;
  readonly prefix: string;
  readonly clients: ReadonlyMap<string, ClientProcess>;
  /** Everything recorded so far (every client's incarnations and the nemesis). */
  history(): HistoryOp[];
}

/** One chaos workload: its clients, the faults it runs under, how it ends, and its checker. */
export interface Workload {
  readonly name: string;
  readonly clients: readonly ClientSpec[];
  readonly memberFaults?: readonly MemberFault[];
  readonly clientFaults?: readonly ClientFault[];
  /** After the nemesis healed everything: stop writers, let readers catch up, stop them; return truth ops. */
  settle(context: SettleContext): Promise<HistoryOp[]>;
  check(history: readonly HistoryOp[]): CheckResult;
}

/** The outcome of one workload run. */
export interface WorkloadReport {
  readonly name: string;
  readonly seed: number;
  readonly history: HistoryOp[];
  readonly check: CheckResult;
  /** Client operations recorded, by `op`. */
  readonly operations: Record<string, number>;
  readonly faults: Record<string, number>;
  readonly elapsedMs: number;
}

/** Options of {@link runWorkload}. */
export interface RunOptions {
  readonly cluster: EtcdCluster;
  readonly admin: Etcd3;
  readonly seed: number;
  readonly durationMs: number;
  /** Directory for the history files. */
  readonly dir: string;
  /** Session TTL of the clients, seconds. Default 2. */
  readonly ttl?: number;
}

/**
 * Runs one workload against the cluster under the nemesis, then settles it and checks the whole history.
 * Every child and proxy it started is stopped before it returns, also on failure.
 */
export async function runWorkload(workload: Workload, options: RunOptions): Promise<WorkloadReport> {
  const started = chaosNow();
  const prefix = uniquePrefix(`chaos-${workload.name}`);
  const dir = join(options.dir, workload.name);
  mkdirSync(dir, { recursive: true });
  const ttl = options.ttl ?? 2;
  const baseEnv = {
    CHAOS_PREFIX: prefix,
    CHAOS_TTL: String(ttl),
    CHAOS_MAX_MS: String(options.durationMs + 120_000),
  };
  const clients = new Map<string, ClientProcess>();
  try {
    for (const spec of workload.clients)
      clients.set(spec.role, await ClientProcess.start(spec, options.cluster.endpoints, baseEnv, dir));
    const nemesis = await runNemesis({
      seed: options.seed,
      durationMs: options.durationMs,
      cluster: options.cluster,
      clients: [...clients.values()],
      admin: options.admin,
      ttlMs: ttl * 1000,
      ...(workload.memberFaults ? { memberFaults: workload.memberFaults } : {}),
      ...(workload.clientFaults ? { clientFaults: workload.clientFaults } : {}),
    });
    const collect = () =>
      mergeHistories(nemesis.ops, ...[...clients.values()].map((client) => client.history()));
    const truth = await workload.settle({ admin: options.admin, prefix, clients, history: collect });
    for (const client of clients.values()) await client.stop();
    const history = mergeHistories(collect(), truth);
    const operations: Record<string, number> = {};
    for (const op of history)
      if (op.process !== 'nemesis' && op.process !== 'checker')
        operations[op.op] = (operations[op.op] ?? 0) + 1;
    return {
      name: workload.name,
      seed: options.seed,
      history,
      check: workload.check(history),
      operations,
      faults: nemesis.counts,
      elapsedMs: Math.round(chaosNow() - started),
    };
  } finally {
    await Promise.all([...clients.values()].map((client) => client.close()));
  }
}
