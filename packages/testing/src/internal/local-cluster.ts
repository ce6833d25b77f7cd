import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type {
  ClusterTls,
  EtcdCluster,
  EtcdctlOptions,
  EtcdctlResult,
  EtcdUser,
  RestartOptions,
} from '../etcd-cluster.js';
import { freePorts } from '../free-port.js';
import { trackDirectory, untrackDirectory } from './children.js';
import { findLeaderIndex, runEtcdctl } from './cluster-queries.js';
import { enableAuth, prepareTls, type TlsMode, type TlsSetup } from './cluster-security.js';
import { EtcdMember, type MemberSpec } from './etcd-member.js';
import { PortTakenError, waitForMember } from './member-readiness.js';

/** What {@link startLocalCluster} needs, with every default already applied. */
export interface LocalClusterConfig {
  readonly etcdBin: string;
  readonly etcdctlBin: string | undefined;
  readonly nodes: number;
  readonly fastTimings: boolean;
  readonly extraArgs: readonly string[];
  readonly logDir: string | undefined;
  readonly timeout: number;
  readonly tls: TlsMode;
  /** Enable auth with this `root` password once the cluster is healthy. */
  readonly rootPassword: string | undefined;
}

const START_ATTEMPTS = 3;

/**
 * Starts `nodes` etcd processes on free loopback ports with their data on tmpfs, and resolves once every
 * member answers `/health`. The whole start is retried (new ports, new directory) when a port turned out to
 * be taken between choosing it and etcd binding it.
 */
export async function startLocalCluster(config: LocalClusterConfig): Promise<EtcdCluster> {
  for (let attempt = 1; ; attempt++) {
    const root = await makeRoot();
    let members: EtcdMember[] = [];
    try {
      const tls = config.tls === false ? undefined : await prepareTls(config.tls, root);
      members = await planMembers(config, root, tls);
      for (const member of members) member.spawn();
      await Promise.all(
        members.map((member) => waitForMember(member, 'healthy', config.timeout, tls?.material)),
      );
      const cluster = new LocalCluster(config, root, members, tls);
      // Auth goes on after the cluster is healthy: users and roles are raft writes, which need a leader.
      if (config.rootPassword !== undefined) await cluster.enableAuth(config.rootPassword);
      // Learn every member's raft id while all are up, so leaderIndex() can name a leader that later pauses.
      await cluster.leaderIndex();
      return cluster;
    } catch (error) {
      await Promise.all(members.map((member) => member.kill()));
      await removeRoot(root);
      if (error instanceof PortTakenError && attempt < START_ATTEMPTS) continue;
      throw error;
    }
  }
}

class LocalCluster implements EtcdCluster {
  readonly kind = 'process';
  readonly endpoints: string[];
  readonly clientUrls: string[];
  readonly size: number;
  readonly dataDir: string;
  readonly tls: ClusterTls | undefined;
  rootUser: EtcdUser | undefined;
  readonly #tls: TlsSetup | undefined;
  readonly #config: LocalClusterConfig;
  readonly #members: readonly EtcdMember[];
  readonly #memberIds: (string | undefined)[] = [];
  #stopping: Promise<void> | undefined;

  constructor(
    config: LocalClusterConfig,
    root: string,
    members: readonly EtcdMember[],
    tls: TlsSetup | undefined,
  ) {
    this.#config = config;
    this.#tls = tls;
    this.tls = tls?.files;
    this.rootUser = undefined;
    this.#members = members;
    this.dataDir = root;
    this.size = members.length;
    this.endpoints = members.map((member) => `127.0.0.1:${member.spec.clientPort}`);
    this.clientUrls = members.map((member) => member.clientUrl);
  }

  metricsUrl(i = 0): string {
    return `${this.#member(i).clientUrl}/metrics`;
  }

  pid(i: number): number | undefined {
    return this.#member(i).pid;
  }

  kill(i: number): Promise<void> {
    return this.#live(i).kill();
  }

  pause(i: number): void {
    this.#live(i).signal('SIGSTOP');
  }

  resume(i: number): void {
    this.#live(i).signal('SIGCONT');
  }

  async restart(i: number, options: RestartOptions = {}): Promise<void> {
    const member = this.#live(i);
    await member.kill();
    // A stop() that began while we waited has already stopped this member; spawning now would leak it.
    this.#live(i);
    member.spawn();
    await waitForMember(
      member,
      options.waitHealthy === false ? 'listening' : 'healthy',
      options.timeout ?? 20_000,
      this.#tls?.material,
    );
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await Promise.all(this.#members.map((member) => member.stop(2_000)));
      await removeRoot(this.dataDir);
    })();
    return this.#stopping;
  }

  leaderIndex(): Promise<number | undefined> {
    // A paused member would only time out; skipping it keeps the answer fast and is what its peers report.
    return findLeaderIndex(
      this.clientUrls,
      this.#memberIds,
      (i) => {
        const member = this.#members[i];
        return member?.alive === true && !member.paused;
      },
      this.#tls?.material,
    );
  }

  /** Creates `root`, enables auth, and from then on runs etcdctl as root. */
  async enableAuth(password: string): Promise<void> {
    await enableAuth((args) => this.etcdctl(args), password);
    this.rootUser = { username: 'root', password };
  }

  etcdctl(args: readonly string[], options: EtcdctlOptions = {}): Promise<EtcdctlResult> {
    const bin = this.#config.etcdctlBin;
    if (bin === undefined) {
      throw new Error('etcdctl was not found next to etcd, in ETCDCTL_BIN or on PATH; install etcd-client');
    }
    const urls = options.member === undefined ? this.clientUrls : [this.#member(options.member).clientUrl];
    const flags = [
      ...(this.#tls?.etcdctlFlags ?? []),
      ...(this.rootUser === undefined
        ? []
        : [['--user', `${this.rootUser.username}:${this.rootUser.password}`] as const]),
    ];
    return runEtcdctl(bin, urls, args, options.timeout, flags);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #member(i: number): EtcdMember {
    const member = Number.isInteger(i) ? this.#members[i] : undefined;
    if (member === undefined)
      throw new RangeError(`no etcd member ${i}: this cluster has members 0..${this.size - 1}`);
    return member;
  }

  #live(i: number): EtcdMember {
    const member = this.#member(i);
    if (this.#stopping !== undefined) throw new Error('this etcd cluster was stopped');
    return member;
  }
}

async function planMembers(
  config: LocalClusterConfig,
  root: string,
  tls: TlsSetup | undefined,
): Promise<EtcdMember[]> {
  const clientScheme = tls === undefined ? 'http' : 'https';
  const ports = await freePorts(config.nodes * 2);
  const token = `coordkit-${randomBytes(8).toString('hex')}`;
  const names = Array.from({ length: config.nodes }, (_, i) => `n${i}`);
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
  if (config.logDir !== undefined) mkdirSync(config.logDir, { recursive: true });
  return names.map((name, i) => {
    const clientUrl = `${clientScheme}://127.0.0.1:${ports[2 * i]}`;
    const memberDir = join(root, name);
    mkdirSync(memberDir, { recursive: true });
    const dataDir = join(memberDir, 'data');
    const args = [
      ...['--name', name, '--data-dir', dataDir],
      ...['--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl],
      ...['--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i)],
      ...[
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        token,
        '--initial-cluster-state',
        'new',
      ],
      ...['--logger', 'zap', '--log-level', 'warn'],
      // etcd's defaults (100 ms / 1 s) put the minimum useful lease TTL near 2 s; these make 1 s leases work.
      ...(config.fastTimings ? ['--heartbeat-interval', '50', '--election-timeout', '500'] : []),
      ...(tls?.serverArgs ?? []),
      ...config.extraArgs,
    ];
    const spec: MemberSpec = {
      name,
      clientScheme,
      clientPort: ports[2 * i]!,
      peerPort: ports[2 * i + 1]!,
      dataDir,
      logFile:
        config.logDir === undefined
          ? join(memberDir, 'etcd.log')
          : join(config.logDir, `${basename(root)}-${name}.log`),
      args,
    };
    return new EtcdMember(config.etcdBin, spec);
  });
}

async function makeRoot(): Promise<string> {
  let root: string;
  try {
    // tmpfs: etcd fsyncs every write, which on a real disk makes tests slow and timing-sensitive.
    root = await mkdtemp('/dev/shm/coordkit-');
  } catch {
    root = await mkdtemp(join(tmpdir(), 'coordkit-'));
  }
  trackDirectory(root);
  return root;
}

async function removeRoot(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
  untrackDirectory(root);
}
