import { type createClient, Session } from '@coordkit/core';
import { uniquePrefix } from '@coordkit/testing';

import { testClient } from '../../../test/support/etcd.js';

export { testClient };

type Client = ReturnType<typeof createClient>;

/** A session on its own client; disposing it closes both. */
export async function testSession(
  ttl = 5,
  endpoints?: readonly string[],
): Promise<Session & AsyncDisposable> {
  const client = testClient(endpoints);
  const session = await Session.create(client, { ttl });
  return Object.assign(session, {
    [Symbol.asyncDispose]: async () => {
      await session.close();
      client.close();
    },
  });
}

/** Counts the kv requests (range and txn) a client sends, by wrapping its methods. */
export function countRequests(client: Client): { range: number; txn: number } {
  const counts = { range: 0, txn: 0 };
  const kv = client.kv;
  const range = kv.range.bind(kv);
  const txn = kv.txn.bind(kv);
  kv.range = ((...args: Parameters<typeof range>) => {
    counts.range++;
    return range(...args);
  }) as typeof kv.range;
  kv.txn = ((...args: Parameters<typeof txn>) => {
    counts.txn++;
    return txn(...args);
  }) as typeof kv.txn;
  return counts;
}

/** Every key (and value) under `prefix`, as strings. */
export async function keysUnder(client: Client, prefix: string): Promise<Record<string, string>> {
  return client.getAll().prefix(prefix).strings();
}

/** A queue name under a fresh test prefix (names must not end with "/"). */
export function queueName(label: string): string {
  return `${uniquePrefix(label)}queue`;
}
