import type { EtcdCluster, EtcdctlOptions, EtcdctlResult } from '../etcd-cluster.js';
import { findLeaderIndex } from './cluster-queries.js';

const IMAGE = 'quay.io/coreos/etcd:v3.5.17';

/** The outcome of {@link tryContainerCluster}: a running cluster, or why containers could not be used. */
export type ContainerAttempt = { readonly cluster: EtcdCluster } | { readonly unavailable: string };

/**
 * Starts a single-member etcd in Docker through testcontainers, when that optional peer dependency is
 * installed and a container engine answers. Fault controls are not offered: a container cannot be
 * SIGSTOPped or restarted on the same ports the way a local process can.
 */
export async function tryContainerCluster(nodes: number, timeout: number): Promise<ContainerAttempt> {
  if (nodes !== 1) return { unavailable: 'the testcontainers fallback runs single-member clusters only' };
  let testcontainers: typeof import('testcontainers');
  try {
    testcontainers = await import('testcontainers');
  } catch {
    return { unavailable: 'the optional peer dependency testcontainers is not installed' };
  }
  try {
    await withTimeout(testcontainers.getContainerRuntimeClient(), 10_000);
  } catch (error) {
    return { unavailable: `no container engine answered (${(error as Error).message})` };
  }
  const { GenericContainer, Wait } = testcontainers;
  const container = await new GenericContainer(IMAGE)
    .withCommand([
      '/usr/local/bin/etcd',
      ...['--name', 'n0', '--data-dir', '/etcd-data'],
      ...['--listen-client-urls', 'http://0.0.0.0:2379', '--advertise-client-urls', 'http://127.0.0.1:2379'],
      ...[
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
        '--logger',
        'zap',
        '--log-level',
        'warn',
      ],
    ])
    .withTmpFs({ '/etcd-data': 'rw' })
    .withExposedPorts(2379)
    .withWaitStrategy(Wait.forHttp('/health', 2379).forResponsePredicate((body) => body.includes('"true"')))
    .withStartupTimeout(Math.max(timeout, 60_000))
    .start();
  const endpoint = `${container.getHost()}:${container.getMappedPort(2379)}`;
  const clientUrls = [`http://${endpoint}`];
  const memberIds: (string | undefined)[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= container.stop().then(() => undefined);
    return stopping;
  };
  const unavailable = (what: string): never => {
    throw new Error(
      `${what} is unavailable against a containerised etcd (install the etcd binary for faults)`,
    );
  };
  const cluster: EtcdCluster = {
    kind: 'container',
    endpoints: [endpoint],
    clientUrls,
    size: 1,
    dataDir: undefined,
    tls: undefined,
    rootUser: undefined,
    metricsUrl: () => `${clientUrls[0]}/metrics`,
    pid: () => undefined,
    kill: async () => unavailable('kill()'),
    pause: () => unavailable('pause()'),
    resume: () => unavailable('resume()'),
    restart: async () => unavailable('restart()'),
    stop,
    leaderIndex: () => findLeaderIndex(clientUrls, memberIds),
    // etcdctl runs inside the container, so the host needs no etcd-client package.
    etcdctl: async (args: readonly string[], options: EtcdctlOptions = {}): Promise<EtcdctlResult> => {
      const hasEndpoints = args.some((arg) => arg.startsWith('--endpoints'));
      const command = ['etcdctl', ...(hasEndpoints ? [] : ['--endpoints=http://127.0.0.1:2379']), ...args];
      const result = await withTimeout(
        container.exec(command, { env: { ETCDCTL_API: '3' } }),
        options.timeout ?? 20_000,
      );
      return { stdout: result.stdout, stderr: result.stderr, code: result.exitCode };
    },
    [Symbol.asyncDispose]: stop,
  };
  return { cluster };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
