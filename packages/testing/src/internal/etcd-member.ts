import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { trackChild } from './children.js';

/** Everything needed to (re)start one member: its ports and directories never change across restarts. */
export interface MemberSpec {
  readonly name: string;
  /** `https` when the member serves clients over TLS. */
  readonly clientScheme: 'http' | 'https';
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly args: readonly string[];
}

/** One etcd process of a local cluster, which can be killed, paused and started again on the same data. */
export class EtcdMember {
  readonly spec: MemberSpec;
  readonly #bin: string;
  #child: ChildProcess | undefined;
  #alive = false;
  #paused = false;
  #exited: Promise<void> = Promise.resolve();
  /** The member's raft id (decimal string), learnt from its status; stable across restarts on the same data. */
  memberId: string | undefined;

  constructor(bin: string, spec: MemberSpec) {
    this.#bin = bin;
    this.spec = spec;
  }

  get clientUrl(): string {
    return `${this.spec.clientScheme}://127.0.0.1:${this.spec.clientPort}`;
  }

  get alive(): boolean {
    return this.#alive;
  }

  get paused(): boolean {
    return this.#alive && this.#paused;
  }

  get pid(): number | undefined {
    return this.#alive ? this.#child?.pid : undefined;
  }

  /** Resolves once the current process has exited (at once when none runs). */
  exited(): Promise<void> {
    return this.#exited;
  }

  spawn(): void {
    if (this.#alive) throw new Error(`etcd member ${this.spec.name} is already running`);
    // The log goes straight to a file descriptor: no pipe for a paused test runner to fill and block etcd on.
    const log = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.#bin, this.spec.args, { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    this.#child = child;
    this.#alive = true;
    this.#paused = false;
    this.#exited = new Promise<void>((resolve) => {
      const onGone = () => {
        if (this.#child === child) this.#alive = false;
        resolve();
      };
      child.once('exit', onGone);
      // A spawn failure (ENOENT, EACCES) emits `error` and possibly no `exit`.
      child.once('error', onGone);
    });
    trackChild(child);
  }

  /** Sends `signal` to the running process; throws when none runs, so a test never signals nothing silently. */
  signal(signal: 'SIGSTOP' | 'SIGCONT' | 'SIGTERM' | 'SIGKILL'): void {
    if (!this.#alive || this.#child === undefined) {
      throw new Error(`etcd member ${this.spec.name} is not running (killed or stopped)`);
    }
    this.#child.kill(signal);
    if (signal === 'SIGSTOP') {
      waitUntilStopped(this.#child.pid);
      this.#paused = true;
    }
    if (signal === 'SIGCONT') this.#paused = false;
  }

  /** SIGKILLs the process and waits until it has exited. No-op when none runs. */
  async kill(): Promise<void> {
    if (!this.#alive) return;
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /**
   * Asks the process to exit (SIGCONT first if paused, then SIGTERM) and SIGKILLs it after `graceMs`: a
   * member that lost quorum may ignore SIGTERM.
   */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.#alive) return;
    if (this.#paused) this.signal('SIGCONT');
    this.#child?.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([this.#exited, graceOver]);
    clearTimeout(timer);
    if (outcome === 'timeout') await this.kill();
  }

  /** The last `lines` lines of this member's log, for error messages. */
  logTail(lines = 25): string {
    try {
      const text = readFileSync(this.spec.logFile, 'utf8').trimEnd();
      return text.split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * kill(2) returns before the signal has stopped every thread: on a busy machine a member can still
 * answer a request sent right after `pause()`. Waits (at most 1 s) until Linux reports the process
 * stopped (state `T` in /proc/<pid>/stat); elsewhere, or without /proc, returns at once.
 */
function waitUntilStopped(pid: number | undefined): void {
  if (pid === undefined) return;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const giveUpAt = performance.now() + 1000;
  while (performance.now() < giveUpAt) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    // The state follows the command name, which is in parentheses and may itself contain spaces.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'T' || state === 't') return;
    Atomics.wait(pause, 0, 0, 1);
  }
}
