import { type ClientOptions, createClient, Session, type SessionOptions, toBigInt } from '@coordkit/core';
import { sharedEndpoints } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';

/** A client on the run's shared etcd, closed by `using`. */
export function sharedClient(options: ClientOptions = {}): Etcd3 & Disposable {
  const client = createClient({ endpoints: sharedEndpoints(), ...options });
  return Object.assign(client, { [Symbol.dispose]: () => client.close() });
}

/** One contender as a separate process would be: its own client and session; `await using` closes both. */
export interface Contender extends AsyncDisposable {
  readonly client: Etcd3;
  readonly session: Session;
}

/** Opens a contender on the shared etcd (or on `endpoints`). */
export async function contender(
  sessionOptions: SessionOptions = {},
  clientOptions: ClientOptions = {},
): Promise<Contender> {
  const client = createClient({ endpoints: sharedEndpoints(), ...clientOptions });
  const session = await Session.create(client, { ttl: 10, ...sessionOptions });
  return {
    client,
    session,
    async [Symbol.asyncDispose]() {
      await session.close();
      client.close();
    },
  };
}

/** Resolves with the reason once `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}

/** The keys under `prefix`, oldest first, with their create revisions. */
export async function keysUnder(
  client: Etcd3,
  prefix: string,
): Promise<Array<{ key: string; createRevision: bigint }>> {
  const response = await client.getAll().prefix(prefix).sort('Create', 'Ascend').exec();
  return response.kvs.map((kv) => ({ key: kv.key.toString(), createRevision: toBigInt(kv.create_revision) }));
}

/** Reads a counter key: its numeric value (0 when absent) and mod revision (0n when absent). */
export async function readCounter(
  client: Etcd3,
  key: string,
): Promise<{ value: number; modRevision: bigint }> {
  const response = await client.kv.range({ key: Buffer.from(key) });
  const kv = response.kvs[0];
  return kv
    ? { value: Number(kv.value.toString()), modRevision: toBigInt(kv.mod_revision) }
    : { value: 0, modRevision: 0n };
}

/** Whether `promise` has settled by the time already-queued callbacks have run. */
export async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}
