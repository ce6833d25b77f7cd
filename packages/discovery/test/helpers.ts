import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ServiceChange, ServiceWatch } from '@coordkit/discovery';
import { waitFor } from '@coordkit/testing';

import { collect } from '../../../test/support/collect.js';

export { testClient } from '../../../test/support/etcd.js';

/** The ids in rotation, sorted. */
export function ids(watch: ServiceWatch): string[] {
  return watch.instances().map((i) => i.id);
}

/** Waits until the watch's rotation is exactly `expected` (ids). */
export async function waitForIds(
  watch: ServiceWatch,
  expected: readonly string[],
  timeout = 10_000,
): Promise<void> {
  const want = [...expected].sort().join(',');
  await waitFor(
    () => {
      const is = ids(watch).join(',');
      if (is !== want) throw new Error(`rotation of "${watch.service}" is [${is}], want [${want}]`);
      return true;
    },
    { timeout, message: `rotation of "${watch.service}" to be [${want}]` },
  );
}

/** Consumes `changes()` in the background. */
export function collectChanges(changes: AsyncIterable<ServiceChange>) {
  const collected = collect(changes);
  return Object.assign(collected, {
    summary: () => collected.seen.map((c) => `${c.type}:${c.instance.id}`),
  });
}

/** `etcdctl` (API v3) against `endpoints`. */
export async function etcdctl(endpoints: readonly string[], args: readonly string[]): Promise<string> {
  const { stdout } = await promisify(execFile)('etcdctl', [`--endpoints=${endpoints.join(',')}`, ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    timeout: 20_000,
  });
  return stdout;
}

/** A registered instance in its own process (`fixtures/instance.mjs`), driven through stdin. */
export interface InstanceProcess extends AsyncDisposable {
  readonly process: ChildProcess;
  readonly lines: string[];
  /** Sends a command line (`deregister`, `register`) and waits for the reply line starting with `reply`. */
  command(command: string, reply: string): Promise<void>;
  kill(): Promise<void>;
}

const INSTANCE = fileURLToPath(new URL('./fixtures/instance.mjs', import.meta.url));

/** Starts an instance process and resolves once it is registered. */
export async function startInstance(
  endpoints: readonly string[],
  prefix: string,
  service: string,
  id: string,
  ttl: number,
): Promise<InstanceProcess> {
  const child = spawn(process.execPath, [INSTANCE, endpoints.join(','), prefix, service, id, String(ttl)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const until = async (reply: string, from: number) =>
    waitFor(
      () => {
        if (lines.slice(from).some((l) => l.startsWith(reply))) return true;
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`instance exited: ${stderr}`);
        return false;
      },
      { timeout: 20_000, message: `"${reply}" from instance ${id}` },
    );
  const handle: InstanceProcess = {
    process: child,
    lines,
    async command(command, reply) {
      const from = lines.length;
      child.stdin?.write(`${command}\n`);
      await until(reply, from);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await until('registered', 0);
  } catch (err) {
    await handle.kill();
    throw err;
  }
  return handle;
}
