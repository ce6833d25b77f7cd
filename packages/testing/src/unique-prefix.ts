import { randomBytes } from 'node:crypto';

/**
 * Returns a fresh etcd key prefix such as `/coordkit-test/<label>-<random>/`, so each test works under
 * keys no other test (or earlier run against the same etcd) can see.
 *
 * Tests must never wipe the whole keyspace; with one prefix per test they only ever need to delete their own.
 */
export function uniquePrefix(label = 'test'): string {
  return `/coordkit-test/${label}-${randomBytes(6).toString('hex')}/`;
}
