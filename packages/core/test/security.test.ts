import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  type ClientOptions,
  CoordError,
  createClient,
  ErrorCodes,
  idempotent,
  readPrefix,
  Session,
  toCoordError,
  watch,
  writeOnce,
} from '@coordkit/core';
import { createRoleUser, type EtcdCluster, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import type { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

// The shared etcd has neither TLS nor auth, so these tests start their own members: one serving TLS, one
// demanding client certificates, one with auth enabled. They start in parallel, once, for the whole file.
let tlsCluster: EtcdCluster;
let mtlsCluster: EtcdCluster;
let authCluster: EtcdCluster;
let scratch: string;
const ROOT_PASSWORD = 'root-secret-4711';

type TestClient = Etcd3 & Disposable;

function clientOf(options: ClientOptions): TestClient {
  // requestTimeout bounds each attempt, so a refused connection fails within the test's budget.
  const client = createClient({ requestTimeout: 2_000, ...options });
  return Object.assign(client, { [Symbol.dispose]: () => client.close() });
}

/** Runs `fn` with these environment variables set, restoring the previous values afterwards. */
function withEnv<T>(vars: Record<string, string>, fn: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return fn();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

/** The CoordError `promise` rejects with (fails the test when it resolves or rejects with anything else). */
async function coordErrorOf(promise: Promise<unknown>): Promise<CoordError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(CoordError);
  return error as CoordError;
}

/** Rejects with a plain Error (so `coordErrorOf` fails the test) when `promise` takes longer than `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

// Skipped only when ETCD_ENDPOINTS points the suite at an existing etcd: startEtcd then hands out that
// external etcd, which has no member controls, and this file starts its own TLS and auth clusters. CI never sets it.
describe.skipIf(Boolean(process.env.ETCD_ENDPOINTS))('security', () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'coordkit-security-'));
    [tlsCluster, mtlsCluster, authCluster] = await Promise.all([
      startEtcd({ tls: true }),
      startEtcd({ tls: 'mtls' }),
      startEtcd({ auth: { rootPassword: ROOT_PASSWORD } }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([tlsCluster?.stop(), mtlsCluster?.stop(), authCluster?.stop()]);
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('TLS', () => {
    test('put and get over TLS, the server verified against the CA (path, Buffer or ETCD_CACERT)', async () => {
      const key = `${uniquePrefix('tls')}k`;
      {
        using client = clientOf({ endpoints: tlsCluster.endpoints, tls: { ca: tlsCluster.tls!.ca } });
        await writeOnce('put', () => client.put(key).value('by-path').exec());
        expect(await idempotent('get', () => client.get(key).string())).toBe('by-path');
      }
      {
        const ca = readFileSync(tlsCluster.tls!.ca);
        using client = clientOf({ endpoints: tlsCluster.endpoints, tls: { ca } });
        await writeOnce('put', () => client.put(key).value('by-buffer').exec());
      }
      {
        using client = withEnv({ ETCD_CACERT: tlsCluster.tls!.ca }, () =>
          clientOf({ endpoints: tlsCluster.endpoints }),
        );
        expect(await idempotent('get', () => client.get(key).string())).toBe('by-buffer');
      }
      // What the clients wrote landed on the TLS cluster.
      expect((await tlsCluster.etcdctl(['get', key, '--print-value-only'])).stdout).toBe('by-buffer\n');
    });

    test('a client trusting another CA is refused with UNAVAILABLE and writes nothing', async () => {
      const otherCa = join(scratch, 'other-ca.pem');
      execFileSync('openssl', [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
        ...[
          '-keyout',
          join(scratch, 'other-ca-key.pem'),
          '-out',
          otherCa,
          '-days',
          '1',
          '-subj',
          '/CN=other',
        ],
      ]);
      const key = `${uniquePrefix('tls-wrong-ca')}k`;
      using client = clientOf({ endpoints: tlsCluster.endpoints, tls: { ca: otherCa } });
      const started = performance.now();
      const error = await coordErrorOf(
        client
          .put(key)
          .value('must-not-land')
          .exec()
          .catch((err: unknown) => {
            throw toCoordError(err, 'put', true, key);
          }),
      );
      // The handshake failed before any byte of the request was sent: UNAVAILABLE, not UNKNOWN_OUTCOME.
      expect(error.code).toBe(ErrorCodes.UNAVAILABLE);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect((await tlsCluster.etcdctl(['get', key, '--print-value-only'])).stdout).toBe('');
    });

    test('mTLS: a client with the certificate works, one without it is refused with UNAVAILABLE', async () => {
      const { ca, cert, key: privateKey } = mtlsCluster.tls!;
      const key = `${uniquePrefix('mtls')}k`;
      {
        using client = clientOf({
          endpoints: mtlsCluster.endpoints,
          tls: { ca, cert: cert!, key: privateKey! },
        });
        await writeOnce('put', () => client.put(key).value('with-cert').exec());
        expect(await idempotent('get', () => client.get(key).string())).toBe('with-cert');
      }
      {
        using client = withEnv({ ETCD_CACERT: ca, ETCD_CERT: cert!, ETCD_KEY: privateKey! }, () =>
          clientOf({ endpoints: mtlsCluster.endpoints }),
        );
        expect(await idempotent('get', () => client.get(key).string())).toBe('with-cert');
      }
      using anonymous = clientOf({ endpoints: mtlsCluster.endpoints, tls: { ca } });
      const error = await coordErrorOf(
        anonymous
          .put(key)
          .value('without-cert')
          .exec()
          .catch((err: unknown) => {
            throw toCoordError(err, 'put', true, key);
          }),
      );
      expect(error.code).toBe(ErrorCodes.UNAVAILABLE);
      expect((await mtlsCluster.etcdctl(['get', key, '--print-value-only'])).stdout).toBe('with-cert\n');
    });

    test('cert without key is refused as INVALID_ARGUMENT before connecting', () => {
      const { ca, cert } = mtlsCluster.tls!;
      expect(() => createClient({ endpoints: mtlsCluster.endpoints, tls: { ca, cert: cert! } })).toThrow(
        expect.objectContaining({ code: ErrorCodes.INVALID_ARGUMENT, message: expect.stringMatching(/tls/) }),
      );
    });
  });

  describe('auth', () => {
    test('root with the right password reads and writes; ETCD_USER works too', async () => {
      const key = `${uniquePrefix('auth-root')}k`;
      {
        using client = clientOf({
          endpoints: authCluster.endpoints,
          auth: { username: 'root', password: ROOT_PASSWORD },
        });
        await writeOnce('put', () => client.put(key).value('as-root').exec());
      }
      using client = withEnv({ ETCD_USER: `root:${ROOT_PASSWORD}` }, () =>
        clientOf({ endpoints: authCluster.endpoints }),
      );
      expect(await idempotent('get', () => client.get(key).string())).toBe('as-root');
    });

    test('a wrong password fails with PERMISSION_DENIED at once and never shows the password', async () => {
      const wrongPassword = 'not-the-root-secret-0815';
      const key = `${uniquePrefix('auth-wrong')}k`;
      using client = clientOf({
        endpoints: authCluster.endpoints,
        auth: { username: 'root', password: wrongPassword },
      });
      const started = performance.now();
      const readError = await coordErrorOf(idempotent('get', () => client.get(key).string(), undefined, key));
      const writeError = await coordErrorOf(
        writeOnce('put', () => client.put(key).value('x').exec(), undefined, key),
      );
      const sessionError = await coordErrorOf(Session.create(client, { ttl: 2 }));
      // A watch must fail too, not reconnect forever with credentials that can never work.
      const watcher = watch(client, { prefix: key });
      const watchError = await coordErrorOf(withDeadline(watcher.created(), 3_000, 'watch created()'));
      watcher.close();
      expect(performance.now() - started).toBeLessThan(8_000);
      for (const error of [readError, writeError, sessionError, watchError]) {
        expect(error.code).toBe(ErrorCodes.PERMISSION_DENIED);
        for (const text of [String(error), error.message, inspect(error, { depth: 5 })]) {
          expect(text).not.toContain(wrongPassword);
          expect(text).not.toContain(ROOT_PASSWORD);
        }
      }
      expect((await authCluster.etcdctl(['get', key, '--print-value-only'])).stdout).toBe('');
    });

    test('without credentials every request is refused with PERMISSION_DENIED', async () => {
      using client = clientOf({ endpoints: authCluster.endpoints });
      const error = await coordErrorOf(idempotent('get', () => client.get('/anything').string()));
      expect(error.code).toBe(ErrorCodes.PERMISSION_DENIED);
    });

    describe('a user with readwrite on one prefix only', () => {
      const prefix = uniquePrefix('auth-role');
      const allowed = `${prefix}app/`;
      const outside = `${prefix}other/`;
      const password = 'alice-password-9876';
      let client: TestClient;

      beforeAll(async () => {
        await createRoleUser(authCluster, {
          user: 'alice',
          password,
          role: 'alice-app',
          readWritePrefixes: [allowed],
        });
        client = clientOf({ endpoints: authCluster.endpoints, auth: { username: 'alice', password } });
      });
      afterAll(() => client?.close());

      test('writes and reads inside its prefix, and is refused with PERMISSION_DENIED outside it', async () => {
        await writeOnce('put', () => client.put(`${allowed}a`).value('1').exec());
        const inside = await readPrefix(client, allowed, 'read allowed');
        expect(inside.kvs.map((kv) => [kv.key, kv.value.toString()])).toEqual([[`${allowed}a`, '1']]);

        const writeError = await coordErrorOf(
          writeOnce('put', () => client.put(`${outside}b`).value('2').exec(), undefined, `${outside}b`),
        );
        expect(writeError.code).toBe(ErrorCodes.PERMISSION_DENIED);
        expect(writeError.key).toBe(`${outside}b`);
        const readError = await coordErrorOf(readPrefix(client, outside, 'read outside'));
        expect(readError.code).toBe(ErrorCodes.PERMISSION_DENIED);
        for (const error of [writeError, readError]) {
          expect(String(error)).not.toContain(password);
          expect(error.message).not.toContain(password);
        }
        // Root sees exactly the one permitted write.
        const all = await authCluster.etcdctl(['get', '--prefix', prefix, '--keys-only']);
        expect(all.stdout.split('\n').filter(Boolean)).toEqual([`${allowed}a`]);
      });

      test('a Session and a watch work on its prefix', async () => {
        const watcher = watch(client, { prefix: allowed });
        await watcher.created();
        const session = await Session.create(client, { ttl: 2 });
        try {
          // A keepalive acknowledged as this user moves the safe deadline forward (3.4 checks no key
          // permission on lease grant or keepalive).
          const firstDeadline = session.safeUntil;
          await waitFor(() => session.safeUntil > firstDeadline, {
            timeout: 5_000,
            message: 'a keepalive ack',
          });
          const key = `${allowed}owned`;
          await writeOnce('put', () => client.put(key).value('leased').lease(session.leaseId).exec());
          expect(session.isAlive()).toBe(true);
          // Revoking the lease (allowed: every key on it is inside the user's prefix) deletes the key.
          await session.close();
          const seen: string[] = [];
          for await (const batch of watcher) {
            for (const event of batch.events) seen.push(`${event.type} ${event.key}`);
            if (seen.length >= 2) break;
          }
          expect(seen).toEqual([`put ${key}`, `delete ${key}`]);
          expect(session.signal.reason).toMatchObject({ code: ErrorCodes.SESSION_CLOSED });
        } finally {
          watcher.close();
          await session.close();
        }
      });

      test('a watch outside its prefix fails promptly with PERMISSION_DENIED', async () => {
        const started = performance.now();
        const watcher = watch(client, { prefix: outside });
        const createdError = await coordErrorOf(watcher.created());
        expect(createdError.code).toBe(ErrorCodes.PERMISSION_DENIED);
        const iterated = await coordErrorOf(
          (async () => {
            for await (const _ of watcher) throw new Error('no batch may arrive');
          })(),
        );
        expect(iterated.code).toBe(ErrorCodes.PERMISSION_DENIED);
        expect(performance.now() - started).toBeLessThan(3_000);
        watcher.close();
      });
    });
  });
});
