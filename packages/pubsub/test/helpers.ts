import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Message, Subscription } from '@coordkit/pubsub';
import { waitFor } from '@coordkit/testing';

import { collect as collectAll } from '../../../test/support/collect.js';

export { testClient } from '../../../test/support/etcd.js';

/** Consumes a subscription in the background, recording every message and the error that ended it. */
export function collect<T>(subscription: Subscription<T>) {
  const collected = collectAll<Message<T>>(subscription);
  return Object.assign(collected, { data: () => collected.seen.map((m) => m.data) });
}

/** Asserts revisions never go backwards and (revision, index) pairs are strictly increasing. */
export function inPublishOrder(seen: readonly { revision: bigint; index: number }[]): boolean {
  for (let i = 1; i < seen.length; i++) {
    const a = seen[i - 1]!;
    const b = seen[i]!;
    if (b.revision < a.revision || (b.revision === a.revision && b.index !== a.index + 1)) return false;
  }
  return true;
}

/** A child process printing one line per event, killed (SIGKILL) on disposal if still running. */
export interface Child extends AsyncDisposable {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<number | null>;
  stderr(): string;
}

/** Spawns `fixtures/<script>` with `args`, collecting its stdout lines. */
export function spawnFixture(script: string, args: readonly string[]): Child {
  const path = fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url));
  const child = spawn(process.execPath, [path, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    process: child,
    lines,
    exited,
    stderr: () => stderr,
    async [Symbol.asyncDispose]() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Waits until a child printed a line starting with `prefix`, failing early if it exits. */
export async function waitForLine(child: Child, prefix: string, timeout = 20_000): Promise<string> {
  return waitFor(
    () => {
      const line = child.lines.find((l) => l.startsWith(prefix));
      if (line) return line;
      if (child.process.exitCode !== null)
        throw new Error(`child exited: ${child.stderr()} ${child.lines.join('\n')}`);
      return undefined;
    },
    { timeout, interval: 20, message: `a "${prefix}" line from the child` },
  );
}
