import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type FaultProxy, faultProxy } from '@coordkit/testing';
import { readHistoryFile } from './history.js';

const FIXTURES = new URL('../fixtures/', import.meta.url);

/** What a workload child is started with. */
export interface ClientSpec {
  /** Role name, unique in the run (`lock1`, `consumer2`...); each incarnation is `<role>#<n>`. */
  readonly role: string;
  /** Fixture file under `test/chaos/fixtures/`. */
  readonly fixture: string;
  /** Extra environment, computed per incarnation (from the previous incarnations' history files). */
  readonly env?: (previousHistoryFiles: readonly string[], incarnation: number) => Record<string, string>;
}

/**
 * One workload client: a child process (restarted as a new incarnation after a crash) talking to every
 * member through its own fault proxies, so the nemesis can cut, delay or reset this client alone.
 */
export class ClientProcess {
  readonly role: string;
  readonly historyFiles: string[] = [];
  #incarnation = 0;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopping = false;
  #held = false;
  readonly #spec: ClientSpec;
  readonly #proxies: FaultProxy[];
  readonly #baseEnv: Record<string, string>;
  readonly #dir: string;

  private constructor(spec: ClientSpec, proxies: FaultProxy[], baseEnv: Record<string, string>, dir: string) {
    this.role = spec.role;
    this.#spec = spec;
    this.#proxies = proxies;
    this.#baseEnv = baseEnv;
    this.#dir = dir;
  }

  /** Starts proxies in front of `endpoints` and the first incarnation. */
  static async start(
    spec: ClientSpec,
    endpoints: readonly string[],
    baseEnv: Record<string, string>,
    dir: string,
  ): Promise<ClientProcess> {
    const proxies = await Promise.all(endpoints.map((endpoint) => faultProxy(endpoint)));
    const client = new ClientProcess(spec, proxies, baseEnv, dir);
    client.#spawn();
    return client;
  }

  /** The current incarnation's process name, as it appears in the history. */
  get name(): string {
    return `${this.role}#${this.#incarnation}`;
  }

  /** SIGSTOP: the process keeps its sockets but runs nothing, like a long GC pause. */
  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** SIGKILLs the current incarnation and resolves once it is gone; {@link ClientProcess.restart} starts the next. */
  async kill(): Promise<void> {
    this.#held = true;
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /** Starts the next incarnation after {@link ClientProcess.kill}. */
  restart(): void {
    this.#held = false;
    if (!this.#stopping) this.#spawn();
  }

  blackhole(): void {
    for (const proxy of this.#proxies) proxy.blackhole();
  }

  delay(ms: number): void {
    for (const proxy of this.#proxies) proxy.delay(ms);
  }

  reset(): void {
    for (const proxy of this.#proxies) proxy.reset();
  }

  heal(): void {
    for (const proxy of this.#proxies) proxy.heal();
  }

  /** Ends the run for this client: heal, SIGCONT, SIGTERM, and SIGKILL after `graceMs`. */
  async stop(graceMs = 8000): Promise<void> {
    this.#stopping = true;
    this.heal();
    const child = this.#child;
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  /** Stops the process and closes the proxies. Never throws. */
  async close(): Promise<void> {
    await this.stop().catch(() => undefined);
    await Promise.all(this.#proxies.map((proxy) => proxy.close()));
  }

  /** Every incarnation's history so far. */
  history() {
    return this.historyFiles.flatMap((file) => readHistoryFile(file));
  }

  #spawn(): void {
    this.#incarnation++;
    const file = join(this.#dir, `${this.role}-${this.#incarnation}.jsonl`);
    const extra = this.#spec.env?.([...this.historyFiles], this.#incarnation) ?? {};
    this.historyFiles.push(file);
    const child = spawn(process.execPath, [new URL(this.#spec.fixture, FIXTURES).pathname], {
      env: {
        ...process.env,
        ...this.#baseEnv,
        ...extra,
        CHAOS_PROCESS: this.name,
        CHAOS_HISTORY: file,
        CHAOS_ENDPOINTS: this.#proxies.map((proxy) => proxy.endpoint).join(','),
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    this.#child = child;
    this.#exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        if (code !== 0 && signal === null && stderr !== '' && !this.#stopping)
          process.stderr.write(`[chaos] ${this.name} exited ${code}: ${stderr}\n`);
        resolve();
        // A child that ended by itself (a subscriber told COMPACTED, a crash) is restarted, as a supervisor would.
        if (!this.#stopping && !this.#held) setTimeout(() => this.restart(), 100);
      }),
    );
  }
}
