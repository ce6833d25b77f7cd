import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { readPrefix } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';

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

/** The op markers of a counter, split by what they say. */
export async function readMarkers(client: Etcd3, name: string) {
  const { kvs } = await readPrefix(client, `${name}/op/`, 'test: read markers');
  const applied = kvs.filter((kv) => kv.value.toString().startsWith('applied:'));
  return {
    all: kvs,
    applied,
    appliedValues: applied.map((kv) => BigInt(kv.value.toString().slice('applied:'.length))),
    fenced: kvs.filter((kv) => kv.value.toString() === 'fenced'),
  };
}

/** The raw string stored at `key`, as `etcdctl get` would print it. */
export async function rawValue(client: Etcd3, key: string): Promise<string | null> {
  return client.get(key).string();
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
