/** Options of {@link EtcdCluster.restart}. */
export interface RestartOptions {
  /**
   * Wait until the restarted member answers `/health` (true, the default), or only until it listens on its
   * client port (false). `/health` needs quorum, so restarting a member of a cluster that has lost quorum
   * must pass false (or restart enough members in parallel).
   */
  readonly waitHealthy?: boolean;
  /** How long to wait for the member, in milliseconds. Default 20 000. */
  readonly timeout?: number;
}

/** Options of {@link EtcdCluster.etcdctl}. */
export interface EtcdctlOptions {
  /** Talk to this member only (its index) instead of all of them. */
  readonly member?: number;
  /** Kill etcdctl after this many milliseconds. Default 20 000. */
  readonly timeout?: number;
}

/** What an `etcdctl` run printed and how it exited. */
export interface EtcdctlResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit code; `null` when it was killed (for instance by the timeout). */
  readonly code: number | null;
}

/**
 * The PEM files (absolute paths, inside the cluster's data directory) a client needs to reach a TLS cluster:
 * what `createClient({ tls })` and `etcdctl --cacert --cert --key` take.
 */
export interface ClusterTls {
  /** The throwaway CA that signed the server certificate (and the client certificate with mTLS). */
  readonly ca: string;
  /** The client certificate, with `tls: 'mtls'` only. */
  readonly cert?: string;
  /** The client certificate's private key, with `tls: 'mtls'` only. */
  readonly key?: string;
}

/** An etcd user name and password. */
export interface EtcdUser {
  readonly username: string;
  readonly password: string;
}

/** Where a cluster's etcd runs, which decides which fault controls it supports. */
export type EtcdClusterKind = 'process' | 'container' | 'external';

/**
 * A throwaway etcd cluster started by {@link startEtcd}, with controls to inject member faults.
 *
 * Fault controls (`kill`, `pause`, `resume`, `restart`) work on `kind: 'process'` clusters only and throw an
 * Error saying so on the others. Member indexes run from 0 to `size - 1`.
 */
export interface EtcdCluster extends AsyncDisposable {
  /** How the cluster runs: local child processes, a Docker container, or an etcd someone else runs. */
  readonly kind: EtcdClusterKind;
  /** Client endpoints as `host:port` (what `createClient({ endpoints })` and etcd3 take). */
  readonly endpoints: string[];
  /** Client URLs, `http://host:port` (`https://` with TLS), one per member. */
  readonly clientUrls: string[];
  /** The CA and client certificate files when started with `tls`, else `undefined`. */
  readonly tls: ClusterTls | undefined;
  /** The `root` user once auth was enabled (started with `auth`), else `undefined`. */
  readonly rootUser: EtcdUser | undefined;
  /** Number of members. */
  readonly size: number;
  /** Root directory holding every member's data and log (`undefined` unless `kind` is 'process'). */
  readonly dataDir: string | undefined;
  /** The Prometheus `/metrics` URL of member `i` (default 0). */
  metricsUrl(i?: number): string;
  /** PID of member `i` while its process runs, else `undefined`. */
  pid(i: number): number | undefined;
  /** SIGKILLs member `i` and resolves once it has exited (its data directory is kept for `restart`). */
  kill(i: number): Promise<void>;
  /** SIGSTOPs member `i`: it keeps its sockets open but answers nothing, like a long GC pause. */
  pause(i: number): void;
  /** SIGCONTs member `i` after {@link EtcdCluster.pause}. */
  resume(i: number): void;
  /**
   * Starts member `i` again on the same data directory and ports (SIGKILLing it first if it still runs)
   * and waits until it is healthy, or only listening with `{ waitHealthy: false }`.
   */
  restart(i: number, options?: RestartOptions): Promise<void>;
  /**
   * Stops every member (SIGCONT if paused, SIGTERM, SIGKILL after 2 s) and removes the data directory.
   * Idempotent; never throws for a member that is already gone.
   */
  stop(): Promise<void>;
  /** Index of the member the reachable members report as raft leader, or `undefined` when there is none. */
  leaderIndex(): Promise<number | undefined>;
  /**
   * Runs `etcdctl --endpoints=<all members> ...args` with `ETCDCTL_API=3` and reports what it printed. On a
   * TLS cluster it adds `--cacert` (and `--cert --key` with mTLS), and once auth is enabled `--user root:<pw>`;
   * each only when `args` does not already carry that flag (so `--user alice:pw` acts as alice).
   */
  etcdctl(args: readonly string[], options?: EtcdctlOptions): Promise<EtcdctlResult>;
}
