// TLS and mutual TLS end to end: every primitive's basic operation through `createClient({ tls })`, and
// the built `coord` CLI with TLS flags, TLS environment variables and `--user`, never printing a password.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CasCounter } from '@coordkit/cas-counter';
import { ConfigWatch } from '@coordkit/config-watch';
import { type ClientOptions, createClient, Session } from '@coordkit/core';
import { ServiceRegistry } from '@coordkit/discovery';
import { Election } from '@coordkit/election';
import { Mutex, RWLock, Semaphore } from '@coordkit/lock';
import { Topic } from '@coordkit/pubsub';
import { Queue } from '@coordkit/queue';
import { createRoleUser, type EtcdCluster, startEtcd, uniquePrefix } from '@coordkit/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const BIN = fileURLToPath(new URL('../../packages/cli/dist/bin.js', import.meta.url));
const ROOT_PASSWORD = 'tls-root-secret-7334';
const USER_PASSWORD = 'cli-user-secret-4410';
const WRONG_PASSWORD = 'wrong-secret-9061';
const SECRETS = [ROOT_PASSWORD, USER_PASSWORD, WRONG_PASSWORD];

let tlsOnly: EtcdCluster;
let mutual: EtcdCluster;
/** Server TLS plus auth: `--user` travels encrypted, as it must in production. */
let secured: EtcdCluster;

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built `coord` with `args` and only the given ETCD_* variables (none inherited), and checks
 * that neither stdout nor stderr of the run contains any password of this file, whatever the outcome.
 */
async function coord(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ETCD_')));
  const run = await new Promise<CliRun>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...clean, ...env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
  for (const secret of SECRETS) {
    expect(run.stdout, `coord ${args[args.length - 1]}: stdout`).not.toContain(secret);
    expect(run.stderr, `coord ${args[args.length - 1]}: stderr`).not.toContain(secret);
  }
  return run;
}

/** Fails with the CLI's own output when it did not exit 0. */
function expectOk(run: CliRun): CliRun {
  expect(run.code, `coord failed: ${run.stderr}`).toBe(0);
  return run;
}

/** Runs each primitive's basic operation through a client built with these options. */
async function exercisePrimitives(options: ClientOptions): Promise<void> {
  const base = uniquePrefix('tls-primitives');
  const client = createClient({ requestTimeout: 5_000, ...options });
  const session = await Session.create(client, { ttl: 5 });
  try {
    const lock = await new Mutex(session, `${base}mutex`).lock({ timeout: 5_000 });
    expect(lock.fencingToken).toBeGreaterThan(0n);
    await lock.release();
    const permit = await new Semaphore(session, `${base}semaphore`, { permits: 1 }).acquire({
      timeout: 5_000,
    });
    await permit.release();
    const write = await new RWLock(session, `${base}rwlock`).writeLock({ timeout: 5_000 });
    await write.release();

    const election = new Election(session, `${base}election`);
    const leadership = await election.campaign('me', { timeout: 5_000 });
    for await (const leader of election.observe()) {
      expect(leader?.value).toBe('me');
      break;
    }
    await leadership.resign();

    await using queue = new Queue<string>(session, `${base}queue`);
    await queue.enqueue('job');
    const job = await queue.dequeue({ timeout: 5_000 });
    expect(job.data).toBe('job');
    await job.ack();

    const topic = new Topic<string>(client, `${base}topic`);
    const { revision } = await topic.publish('hello');
    await using subscription = topic.subscribe({ from: revision, group: 'g' });
    for await (const message of subscription) {
      expect(message.data).toBe('hello');
      break;
    }

    await using config = await ConfigWatch.open(client, `${base}config`);
    const changes = config.changes();
    await config.set({ level: 'debug' });
    expect((await changes.next()).value).toMatchObject({ value: { level: 'debug' }, changed: ['level'] });
    await changes.return?.();

    await using counter = new CasCounter(client, `${base}counter`);
    expect(await counter.add(3n)).toBe(3n);
    expect(await counter.compareAndSet(3n, 4n)).toEqual({ ok: true, value: 4n });

    const registry = new ServiceRegistry(session, { prefix: `${base}services` });
    await using registration = await registry.register({ service: 'api', id: 'a', address: 'h:1' });
    await using instances = registry.watch('api');
    await instances.ready;
    expect(instances.instances().map((instance) => instance.id)).toEqual(['a']);
    expect(registration.isRegistered()).toBe(true);
  } finally {
    await session.close();
    client.close();
  }
}

// Skipped only when ETCD_ENDPOINTS points the suite at an existing etcd: startEtcd then hands out that
// external etcd, which has no member controls, and this file starts its own TLS and mTLS clusters. CI never sets it.
describe.skipIf(Boolean(process.env.ETCD_ENDPOINTS))('TLS, mutual TLS and the CLI', () => {
  beforeAll(async () => {
    [tlsOnly, mutual, secured] = await Promise.all([
      startEtcd({ tls: true }),
      startEtcd({ tls: 'mtls' }),
      startEtcd({ tls: true, auth: { rootPassword: ROOT_PASSWORD } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([tlsOnly?.stop(), mutual?.stop(), secured?.stop()]);
  });

  test('every primitive works over server TLS', async () => {
    await exercisePrimitives({ endpoints: tlsOnly.endpoints, tls: { ca: tlsOnly.tls!.ca } });
  });

  test('every primitive works over mutual TLS', async () => {
    const { ca, cert, key } = mutual.tls!;
    await exercisePrimitives({ endpoints: mutual.endpoints, tls: { ca, cert: cert!, key: key! } });
  });

  describe('coord CLI', () => {
    beforeAll(() => {
      if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`pnpm run build\` first`);
    });

    test('--cacert/--cert/--key: counter add, lock -- true and status over mutual TLS', async () => {
      const { ca, cert, key } = mutual.tls!;
      const flags = [
        '--endpoints',
        mutual.endpoints.join(','),
        '--cacert',
        ca,
        '--cert',
        cert!,
        '--key',
        key!,
      ];
      const name = `${uniquePrefix('cli-mtls')}counter`;
      // The same endpoint without the client certificate is refused in the TLS handshake. Started first
      // and awaited last: core retries a connection that was never established for its whole retry
      // budget (about 10 s), which overlaps the other runs instead of adding to them.
      const refused = coord([
        '--endpoints',
        mutual.endpoints.join(','),
        '--cacert',
        ca,
        'counter',
        'get',
        name,
      ]);
      expect(expectOk(await coord([...flags, 'counter', 'add', name, '5'])).stdout.trim()).toBe('5');
      expectOk(await coord([...flags, 'lock', `${name}-lock`, '--', 'true']));
      const status = expectOk(await coord([...flags, '--json', 'status']));
      expect(JSON.parse(status.stdout).counters).toContainEqual({ name, value: '5' });
      const anonymous = await refused;
      expect(anonymous.code).not.toBe(0);
      expect(anonymous.stderr.trim().split('\n')).toHaveLength(1);
      expect(anonymous.stderr).toMatch(/^coord: UNAVAILABLE: /);
    });

    test('ETCD_CACERT/ETCD_CERT/ETCD_KEY: the same commands through the environment', async () => {
      const { ca, cert, key } = mutual.tls!;
      const env = {
        ETCD_ENDPOINTS: mutual.endpoints.join(','),
        ETCD_CACERT: ca,
        ETCD_CERT: cert!,
        ETCD_KEY: key!,
      };
      const name = `${uniquePrefix('cli-env')}counter`;
      expect(expectOk(await coord(['counter', 'add', name, '2'], env)).stdout.trim()).toBe('2');
      expect(expectOk(await coord(['counter', 'add', name, '3'], env)).stdout.trim()).toBe('5');
      expectOk(await coord(['lock', `${name}-lock`, '--', 'true'], env));
      expect(expectOk(await coord(['status'], env)).stdout).toContain(name);
      // Server TLS only needs the CA.
      const tlsEnv = { ETCD_ENDPOINTS: tlsOnly.endpoints.join(','), ETCD_CACERT: tlsOnly.tls!.ca };
      expect(expectOk(await coord(['counter', 'add', name, '7'], tlsEnv)).stdout.trim()).toBe('7');
    });

    test('--user name:password (and ETCD_USER) over TLS; a wrong password exits non-zero with PERMISSION_DENIED', async () => {
      const prefix = uniquePrefix('cli-auth');
      await createRoleUser(secured, {
        user: 'cli-user',
        password: USER_PASSWORD,
        role: 'cli-role',
        readWritePrefixes: [prefix],
      });
      const tls = ['--endpoints', secured.endpoints.join(','), '--cacert', secured.tls!.ca];
      const asUser = [...tls, '--user', `cli-user:${USER_PASSWORD}`];
      const name = `${prefix}counter`;
      expect(expectOk(await coord([...asUser, 'counter', 'add', name, '4'])).stdout.trim()).toBe('4');
      expectOk(await coord([...asUser, 'lock', `${prefix}lock`, '--', 'true']));
      const scoped = expectOk(await coord([...asUser, '--json', 'status', '--prefix', prefix]));
      expect(JSON.parse(scoped.stdout).counters).toEqual([{ name, value: '4' }]);
      const full = expectOk(await coord([...tls, '--user', `root:${ROOT_PASSWORD}`, '--json', 'status']));
      expect(JSON.parse(full.stdout).counters).toContainEqual({ name, value: '4' });
      const viaEnv = await coord(['counter', 'get', name], {
        ETCD_ENDPOINTS: secured.endpoints.join(','),
        ETCD_CACERT: secured.tls!.ca,
        ETCD_USER: `cli-user:${USER_PASSWORD}`,
      });
      expect(expectOk(viaEnv).stdout.trim()).toBe('4');

      // The user is limited to its prefix: a full status is refused, not partially shown.
      const outside = await coord([...asUser, 'status']);
      expect(outside.code).not.toBe(0);
      expect(outside.stderr).toMatch(/^coord: PERMISSION_DENIED: /);

      const started = performance.now();
      const wrong = await coord([
        ...tls,
        '--user',
        `cli-user:${WRONG_PASSWORD}`,
        'counter',
        'add',
        name,
        '1',
      ]);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(wrong.code).not.toBe(0);
      expect(wrong.stdout).toBe('');
      const lines = wrong.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^coord: PERMISSION_DENIED: /);
      // Nothing was added by the refused run.
      expect(expectOk(await coord([...asUser, 'counter', 'get', name])).stdout.trim()).toBe('4');
    });
  });
});
