import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { toBigInt, watch } from '@coordkit/core';
import { type Etcd3, GRPCDeadlineExceededError, type ITxnRequest, type ITxnResponse } from 'etcd3';

export { testClient } from '../../../test/support/etcd.js';

/** Counts the transactions and range reads a client sends, and how many of them failed. */
export function countRequests(client: Etcd3) {
  const counts = { txn: 0, range: 0, failedTxn: 0 };
  const txn = client.kv.txn.bind(client.kv);
  const range = client.kv.range.bind(client.kv);
  client.kv.txn = (...args) => {
    counts.txn++;
    return txn(...args).catch((err: unknown) => {
      counts.failedTxn++;
      throw err;
    });
  };
  client.kv.range = (...args) => {
    counts.range++;
    return range(...args);
  };
  return counts;
}

/** How {@link loseReply} loses the reply of the next transaction that puts its key. */
export interface LostReplyPlan {
  /** The key whose next put (in a transaction's success branch) loses its reply. */
  readonly key: string;
  /** `applied`: sent and applied, only the reply is lost. `held`: not sent yet (`deliverLate` sends it). */
  readonly mode: 'applied' | 'held';
  /** Runs once the write applied (or was held), before the writer sees its reply lost: another writer, a compaction. */
  readonly meanwhile?: () => Promise<void>;
}

/**
 * Loses the reply of `client`'s next transaction putting `plan.key`, as a deadline would: the caller
 * gets gRPC DEADLINE_EXCEEDED, whether or not etcd applied it. Real etcd underneath; only the reply
 * (or, held, the request) is withheld. `deliverLate()` sends a held request, as a network that kept it would.
 */
export function loseReply(client: Etcd3, plan: LostReplyPlan) {
  const txn = client.kv.txn.bind(client.kv);
  let held: ITxnRequest | undefined;
  let lost = 0;
  client.kv.txn = async (request, ...rest) => {
    const putsKey = request.success?.some((op) => op.request_put?.key?.toString() === plan.key);
    if (lost > 0 || !putsKey) return txn(request, ...rest);
    lost++;
    if (plan.mode === 'applied') await txn(request, ...rest);
    else held = request;
    await plan.meanwhile?.();
    throw new GRPCDeadlineExceededError('test: reply lost (deadline exceeded)');
  };
  return {
    /** How many replies were lost so far (0 or 1). */
    lost: () => lost,
    /** Sends the held request now, bypassing this client's wrappers. */
    async deliverLate(): Promise<ITxnResponse> {
      if (!held) throw new Error('no request was held');
      return txn(held);
    },
  };
}

/** The raw string stored at `key`, as `etcdctl get` would print it. */
export async function rawValue(client: Etcd3, key: string): Promise<string | null> {
  return client.get(key).string();
}

/** The count in a stored counter value (`<count>` or `<count> <opId>`), 0n for a missing key. */
export function countIn(raw: string | null): bigint {
  return raw === null ? 0n : BigInt(raw.split(' ')[0]!);
}

/** One write in a key's history. */
export interface HistoryWrite {
  readonly revision: bigint;
  readonly type: 'put' | 'delete';
  readonly value: string | undefined;
}

/** Every write to the existing `key` from `fromRevision` (default the first) up to its current one, oldest first. */
export async function keyHistory(client: Etcd3, key: string, fromRevision = 1n): Promise<HistoryWrite[]> {
  const kv = (await client.kv.range({ key: Buffer.from(key) })).kvs[0];
  if (!kv) throw new Error(`test: ${key} does not exist`);
  const until = toBigInt(kv.mod_revision);
  const writes: HistoryWrite[] = [];
  if (until < fromRevision) return writes;
  const history = watch(client, { key }, { fromRevision, signal: AbortSignal.timeout(10_000) });
  try {
    for await (const batch of history) {
      for (const event of batch.events) {
        writes.push({ revision: event.revision, type: event.type, value: event.value?.toString() });
      }
      if (batch.revision >= until) break;
    }
  } finally {
    history.close();
  }
  return writes;
}

/** The writes of a counter key that changed its bytes: fences (the previous bytes put back, or "0" in place of a missing key) left out. */
export function withoutFences(writes: readonly HistoryWrite[]): HistoryWrite[] {
  return writes.filter(
    (write, i) => write.value !== (i === 0 ? '0' : writes[i - 1]!.value) || write.type === 'delete',
  );
}

/**
 * Splits the history of a counter that was only ever incremented by 1: each put either repeats the
 * previous bytes exactly (a fence after a lost reply) or stores the previous count + 1 under an op id
 * never seen before. Returns the counts of both kinds; throws at the first write that is neither.
 */
export function incrementsIn(writes: readonly HistoryWrite[]): { increments: number; fences: number } {
  let previous: string | undefined;
  let increments = 0;
  let fences = 0;
  const opIds = new Set<string>();
  for (const write of writes) {
    if (write.type !== 'put' || write.value === undefined)
      throw new Error(`unexpected ${write.type} at ${write.revision}`);
    if (write.value === previous || (previous === undefined && write.value === '0')) {
      fences++;
    } else {
      const [count, opId] = write.value.split(' ');
      if (BigInt(count!) !== countIn(previous ?? null) + 1n || !opId || opIds.has(opId)) {
        throw new Error(
          `write at ${write.revision} stored "${write.value}" after "${previous}": not one increment`,
        );
      }
      opIds.add(opId);
      increments++;
    }
    previous = write.value;
  }
  return { increments, fences };
}

/** One line an increment child printed when it finished. */
export interface ChildReport {
  readonly acked: number;
  readonly ms: number;
  readonly error?: string;
}

const CHILD = fileURLToPath(new URL('./fixtures/increment-child.mjs', import.meta.url));

/** Runs `fixtures/increment-child.mjs` to completion and resolves with its report. */
export function runIncrementChild(
  endpoints: readonly string[],
  name: string,
  count: number,
): Promise<ChildReport> {
  const child: ChildProcess = spawn(process.execPath, [CHILD, endpoints.join(','), name, String(count)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let report: ChildReport | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => (report = JSON.parse(line) as ChildReport));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => {
      clearTimeout(killer);
      if (report && code === 0) resolve(report);
      else reject(new Error(`increment child exited with ${code}: ${report?.error ?? stderr}`));
    });
  });
}
