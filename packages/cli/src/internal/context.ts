import { type ClientOptions, createClient, Session } from '@coordkit/core';
import type { Etcd3 } from 'etcd3';

/** Global flags every command accepts. */
export interface GlobalFlags {
  readonly endpoints: string | undefined;
  readonly json: boolean;
  readonly ttl: number;
  readonly timeout: number | undefined;
  readonly cacert: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly user: string | undefined;
}

/** Where a command writes; injectable so tests can run commands in-process. */
export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

/** What a command runs with: its flags, its output, and lazily created etcd resources. */
export class CommandContext implements AsyncDisposable {
  #client: Etcd3 | undefined;
  #session: Session | undefined;

  constructor(
    readonly flags: GlobalFlags,
    readonly io: Io,
    readonly signal: AbortSignal,
  ) {}

  /** The etcd client, from `--endpoints`/TLS/auth flags or the `ETCD_*` environment. */
  get client(): Etcd3 {
    if (!this.#client) {
      const { endpoints, cacert, cert, key, user } = this.flags;
      const colon = user?.indexOf(':') ?? -1;
      const options: ClientOptions = {
        ...(endpoints ? { endpoints } : {}),
        ...(cacert || cert || key
          ? { tls: { ...(cacert ? { ca: cacert } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } }
          : {}),
        ...(user && colon > 0
          ? { auth: { username: user.slice(0, colon), password: user.slice(colon + 1) } }
          : {}),
      };
      this.#client = createClient(options);
    }
    return this.#client;
  }

  /** One session for the command, with `--ttl`. */
  async session(): Promise<Session> {
    this.#session ??= await Session.create(this.client, { ttl: this.flags.ttl });
    return this.#session;
  }

  /** Prints a value: JSON with `--json`, otherwise the human form. */
  print(value: unknown, human: () => string): void {
    this.io.out(this.flags.json ? JSON.stringify(value, jsonReplacer) : human());
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#session?.close();
    this.#client?.close();
  }
}

/** JSON.stringify replacer: bigints as decimal strings, Buffers as UTF-8. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value && typeof value === 'object' && (value as { type?: string }).type === 'Buffer') {
    return Buffer.from((value as { data: number[] }).data).toString();
  }
  return value;
}
