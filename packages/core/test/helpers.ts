import { type ClientOptions, createClient } from '@coordkit/core';
import { sharedEndpoints } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';

/** A client on the run's shared etcd, closed by the returned disposer. */
export function sharedClient(options: ClientOptions = {}): Etcd3 & Disposable {
  const client = createClient({ endpoints: sharedEndpoints(), ...options });
  return Object.assign(client, { [Symbol.dispose]: () => client.close() });
}

/** Resolves with the reason once `signal` aborts. */
export function aborted(signal: AbortSignal): Promise<unknown> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(signal.reason);
    else signal.addEventListener('abort', () => resolve(signal.reason), { once: true });
  });
}
