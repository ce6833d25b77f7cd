// Helpers every package's tests share: clients and contenders on the run's shared etcd, and small
// waits on promises and signals. Package test helpers re-export these under their local names.
import {
  type ClientOptions,
  createClient,
  type EtcdClient,
  Session,
  type SessionOptions,
} from '@coordkit/core';
import { sharedEndpoints } from '@coordkit/testing';

/** A client on the run's shared etcd (or on `endpoints`), closed by `using`. */
export function testClient(
  endpoints: readonly string[] = sharedEndpoints(),
  options: ClientOptions = {},
): EtcdClient & Disposable {
  const client = createClient({ endpoints: [...endpoints], ...options });
  return Object.assign(client, { [Symbol.dispose]: () => client.close() });
}

/** One contender as a separate process would be: its own client and session; `await using` closes both. */
export interface Contender extends AsyncDisposable {
  readonly client: EtcdClient;
  readonly session: Session;
}

/** Opens a contender on the shared etcd (or on `clientOptions.endpoints`), session TTL 10 s unless given. */
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
