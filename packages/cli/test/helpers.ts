import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedEndpoints, waitFor } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';
import { testClient } from '../../../test/support/etcd.js';

/** A client on the run's shared etcd, closed by `using`. */
export const sharedClient = () => testClient();

/** The built binary: tests run the real `coord`, so `pnpm run build` must have run first. */
export const COORD_BIN = fileURLToPath(new URL('../dist/bin.js', import.meta.url));

if (!existsSync(COORD_BIN)) {
  throw new Error(`${COORD_BIN} is missing: run \`pnpm run build\` before the cli tests`);
}

/** What a finished process printed and how it ended. */
export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A process started in the background; `stop()` SIGKILLs it if it still runs (idempotent, never hangs). */
export interface Running {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exited: Promise<Finished>;
  readonly stop: () => Promise<Finished>;
}

/** Environment of every spawned process: the shared etcd, and no credentials inherited from the caller. */
export function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ETCD_ENDPOINTS: sharedEndpoints().join(','),
    ETCDCTL_API: '3',
  };
  for (const name of ['ETCD_USER', 'ETCD_CACERT', 'ETCD_CERT', 'ETCD_KEY']) delete env[name];
  return { ...env, ...extra };
}

/** Starts `file args` in the background, capturing its output. */
export function startProcess(file: string, args: readonly string[], env = baseEnv()): Running {
  const child = spawn(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<Finished>((resolve) => {
    child.once('error', (err) => resolve({ code: 127, signal: null, stdout, stderr: `${stderr}${err}` }));
    // 'close' (not 'exit') so that every byte of output has been read.
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await gone;
    }
    // A grandchild that outlived its parent keeps the pipes open: stop reading so 'close' fires.
    child.stdout?.destroy();
    child.stderr?.destroy();
    return exited;
  };
  return { child, stdout: () => stdout, stderr: () => stderr, exited, stop };
}

/** Starts `coord ...args` in the background. */
export function startCoord(args: readonly string[], env = baseEnv()): Running {
  return startProcess(process.execPath, [COORD_BIN, ...args], env);
}

/** Runs `coord ...args` to completion. */
export function coord(args: readonly string[], env = baseEnv()): Promise<Finished> {
  return startCoord(args, env).exited;
}

/** Runs `etcdctl` (API v3) against the shared etcd, in the background. */
export function startEtcdctl(args: readonly string[]): Running {
  return startProcess('etcdctl', [`--endpoints=${sharedEndpoints().join(',')}`, ...args]);
}

/** Runs `etcdctl` against the shared etcd to completion. */
export function etcdctl(args: readonly string[]): Promise<Finished> {
  return startEtcdctl(args).exited;
}

/** The keys under `prefix`, oldest first. */
export async function keysUnder(client: Etcd3, prefix: string): Promise<string[]> {
  const response = await client.getAll().prefix(prefix).sort('Create', 'Ascend').exec();
  return response.kvs.map((kv) => kv.key.toString());
}

/** A scratch directory removed on `await using`. */
export async function scratchDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'coord-cli-test-'));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** The file's text, or '' when it does not exist yet. */
export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

/**
 * Waits until `file` has content and returns it trimmed; fails at once (with its stderr) if `owner`, the
 * process expected to write it, exits first.
 */
export async function waitForFile(file: string, owner: Running, message: string): Promise<string> {
  const ownerGone = new AbortController();
  void owner.exited.then((finished) =>
    ownerGone.abort(new Error(`exited with ${finished.code} before ${message}: ${finished.stderr}`)),
  );
  try {
    return await waitFor(async () => (await readText(file)).trim(), {
      timeout: 20_000,
      interval: 20,
      message,
      signal: ownerGone.signal,
    });
  } catch (err) {
    // The owner may have written the file just before exiting.
    const text = (await readText(file)).trim();
    if (text !== '') return text;
    throw err;
  }
}

/** True while a process with this pid exists (and has not been reaped). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A shell command for `-- sh -c <script>` that records `start <who> <ns>` in `log`, blocks until the
 * file `gate` exists (so the test, not a sleep, decides how long it holds), then records `end <who> <ns>`.
 */
export function gatedCommand(who: string, log: string, gate: string): string[] {
  return [
    'sh',
    '-c',
    `echo "start ${who} $(date +%s%N)" >> '${log}'; while [ ! -e '${gate}' ]; do sleep 0.02; done; echo "end ${who} $(date +%s%N)" >> '${log}'`,
  ];
}

/** Parses `start|end <who> <ns>` lines into events in file order. */
export function parseTimeline(text: string): Array<{ what: string; who: string; at: bigint }> {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const [what = '', who = '', at = '0'] = line.split(' ');
      return { what, who, at: BigInt(at) };
    });
}
