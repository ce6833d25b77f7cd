import { type Agent, request } from 'node:http';

// Test-only helpers that talk to etcd's v3 JSON gateway over plain HTTP, so these tests need no etcd client
// library and can route requests through a fault proxy.

/** What one gateway call returned, and how long it took. */
export interface GatewayReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly elapsedMs: number;
}

/** Options of one gateway call. */
export interface CallOptions {
  /** Fail after this many milliseconds. Default 5 000. */
  readonly timeout?: number;
  /** Send through this agent (for keep-alive tests); default a fresh connection. */
  readonly agent?: Agent;
  /** Receives the request's socket, for tests that watch the connection itself. */
  readonly onSocket?: (socket: import('node:net').Socket) => void;
}

/** POSTs `body` as JSON to `http://<endpoint><path>` and parses the JSON answer. */
export function call(
  endpoint: string,
  path: string,
  body: unknown,
  options: CallOptions = {},
): Promise<GatewayReply> {
  const started = performance.now();
  const payload = JSON.stringify(body);
  return new Promise<GatewayReply>((resolve, reject) => {
    const req = request(
      `http://${endpoint}${path}`,
      { method: 'POST', agent: options.agent ?? false, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            const parsed = JSON.parse(text) as Record<string, unknown>;
            resolve({ status: res.statusCode ?? 0, body: parsed, elapsedMs: performance.now() - started });
          } catch (error) {
            reject(
              new Error(`${path}: not JSON (${res.statusCode}): ${text.slice(0, 200)}`, { cause: error }),
            );
          }
        });
      },
    );
    if (options.onSocket !== undefined) req.once('socket', options.onSocket);
    const timeout = options.timeout ?? 5_000;
    req.setTimeout(timeout, () =>
      req.destroy(Object.assign(new Error(`${path} timed out after ${timeout} ms`), { code: 'TIMEOUT' })),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');

/** Writes `key` = `value`; resolves with the revision of the write. */
export async function put(
  endpoint: string,
  key: string,
  value: string | Buffer,
  options?: CallOptions,
): Promise<bigint> {
  const reply = await call(endpoint, '/v3/kv/put', { key: b64(key), value: b64(value) }, options);
  const header = reply.body.header as { revision?: string } | undefined;
  if (reply.status !== 200 || header?.revision === undefined)
    throw new Error(`put ${key}: ${JSON.stringify(reply.body)}`);
  return BigInt(header.revision);
}

/** Reads `key` (linearizable unless `serializable`); resolves with its value, or undefined when absent. */
export async function get(
  endpoint: string,
  key: string,
  options: CallOptions & { readonly serializable?: boolean } = {},
): Promise<Buffer | undefined> {
  const reply = await call(
    endpoint,
    '/v3/kv/range',
    { key: b64(key), serializable: options.serializable ?? false },
    options,
  );
  if (reply.status !== 200) throw new Error(`get ${key}: ${JSON.stringify(reply.body)}`);
  const kvs = reply.body.kvs as { value?: string }[] | undefined;
  const first = kvs?.[0];
  return first === undefined ? undefined : Buffer.from(first.value ?? '', 'base64');
}

/** Resolves true while a process with this PID exists (signal 0 probes without signalling). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
