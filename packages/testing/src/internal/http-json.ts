import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

/** PEM material for talking to a TLS member: the CA to verify it, and a client pair when it demands mTLS. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

/** The reply of {@link requestJson}: the status code and the parsed body (undefined when not JSON). */
export interface JsonReply {
  readonly status: number;
  readonly body: unknown;
}

/**
 * Sends one HTTP request and parses the JSON reply, failing after `timeout` ms.
 *
 * It uses a fresh connection (no agent) each time: a pooled keep-alive socket to a member that was just killed
 * or paused would turn the next health probe into a confusing ECONNRESET or a hang.
 */
export function requestJson(
  url: string,
  options: {
    readonly method?: 'GET' | 'POST';
    readonly body?: unknown;
    readonly timeout?: number;
    /** Verify an `https://` member with this CA (and present this client pair). */
    readonly tls?: TlsMaterial | undefined;
  } = {},
): Promise<JsonReply> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const secure = url.startsWith('https:');
  const request = secure ? httpsRequest : httpRequest;
  return new Promise<JsonReply>((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method ?? 'GET',
        agent: false,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        // Never `rejectUnauthorized: false`: a health check that skipped verification would hide a broken
        // certificate that every real client then trips over.
        ...(secure && options.tls !== undefined
          ? {
              ca: options.tls.ca,
              ...(options.tls.cert === undefined ? {} : { cert: options.tls.cert }),
              ...(options.tls.key === undefined ? {} : { key: options.tls.key }),
            }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.setTimeout(options.timeout ?? 2_000, () =>
      req.destroy(
        new Error(`${options.method ?? 'GET'} ${url} timed out after ${options.timeout ?? 2_000} ms`),
      ),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Resolves true when a TCP connection to 127.0.0.1:`port` is accepted within `timeout` ms, else false. */
export function canConnect(port: number, timeout = 1_000): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeout, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Resolves true when `<clientUrl>/health` answers `{"health":"true"}`, false on any other answer or error. */
export async function isHealthy(
  clientUrl: string,
  tls: TlsMaterial | undefined,
  timeout = 1_000,
): Promise<boolean> {
  try {
    const reply = await requestJson(`${clientUrl}/health`, { timeout, tls });
    return reply.status === 200 && (reply.body as { health?: unknown } | undefined)?.health === 'true';
  } catch {
    return false;
  }
}
