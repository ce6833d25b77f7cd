import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ConfigChange } from '@coordkit/config-watch';
import { waitFor } from '@coordkit/testing';

import { type Collected, collect as collectAll } from '../../../test/support/collect.js';

export { testClient } from '../../../test/support/etcd.js';

/** Collects every change of an iterable in the background. */
export function collect<T>(changes: AsyncIterable<ConfigChange<T>>): Collected<ConfigChange<T>> {
  return collectAll(changes);
}

/** One line the watcher child printed. */
export interface ChildLine {
  readonly ready?: boolean;
  readonly revision?: string;
  readonly changed?: string[];
  readonly value?: Record<string, unknown>;
  readonly error?: string;
  readonly failed?: string;
}

const CHILD = fileURLToPath(new URL('./fixtures/watch-child.mjs', import.meta.url));

/** Starts `fixtures/watch-child.mjs` on `endpoints`/`prefix` and resolves once its watcher is open. */
export async function spawnWatcher(endpoints: readonly string[], prefix: string) {
  const child: ChildProcess = spawn(process.execPath, [CHILD, endpoints.join(','), prefix], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: ChildLine[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as ChildLine));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const handle = {
    lines,
    changes: () => lines.filter((line) => line.changed !== undefined),
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitFor(() => lines.some((line) => line.ready) || child.exitCode !== null, {
      timeout: 20_000,
      message: 'the watcher child to open',
    });
  } catch (err) {
    await handle[Symbol.asyncDispose]();
    throw err;
  }
  if (!lines.some((line) => line.ready)) throw new Error(`watcher child exited: ${stderr}`);
  return handle;
}
