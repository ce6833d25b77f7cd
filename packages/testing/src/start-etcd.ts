import type { EtcdCluster } from './etcd-cluster.js';
import { findEtcdctl, findExecutable } from './internal/binaries.js';
import { tryContainerCluster } from './internal/container-cluster.js';
import { externalCluster } from './internal/external-cluster.js';
import { startLocalCluster } from './internal/local-cluster.js';

/** Options of {@link startEtcd}. */
export interface StartEtcdOptions {
  /** Number of members. Default 1. */
  readonly nodes?: 1 | 3;
  /**
   * Run raft with `--heartbeat-interval 50 --election-timeout 500`, so leases of 1 s work and a killed
   * leader is replaced within about a second. Default true; false keeps etcd's own 100 ms / 1 s.
   */
  readonly fastTimings?: boolean;
  /** The etcd binary. Default `ETCD_BIN`, else `etcd` on PATH. */
  readonly etcdBin?: string;
  /** Extra command-line flags given to every member, after the ones startEtcd sets (so they win). */
  readonly extraArgs?: readonly string[];
  /** Write member logs here (kept after `stop()`) instead of inside the data directory (removed). */
  readonly logDir?: string;
  /** How long to wait for every member to be healthy, in milliseconds. Default 20 000. */
  readonly timeout?: number;
}

const INSTALL_HINT =
  'install etcd (Debian/Ubuntu: `apt-get install -y etcd-server etcd-client`), or set ETCD_BIN to the etcd ' +
  'binary, or set ETCD_ENDPOINTS=host:port[,...] to use an etcd that is already running';

/**
 * Starts a throwaway etcd cluster of 1 or 3 members on free loopback ports, with its data on tmpfs, and
 * resolves once every member is healthy.
 *
 * Where etcd comes from, first match wins: `ETCD_ENDPOINTS` set → a handle on that external etcd (nothing is
 * started, fault controls throw); else the `etcd` binary (`options.etcdBin`, `ETCD_BIN`, PATH) → child
 * processes; else, only when no binary was named, testcontainers if installed and a Docker engine answers
 * (1 member). Otherwise it throws an Error telling how to install etcd.
 *
 * Every process it starts is SIGKILLed if the test process exits without calling `stop()`.
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const nodes = options.nodes ?? 1;
  if (nodes !== 1 && nodes !== 3)
    throw new RangeError(`startEtcd: nodes must be 1 or 3, got ${String(nodes)}`);
  const timeout = options.timeout ?? 20_000;

  const external = (process.env.ETCD_ENDPOINTS ?? '')
    .split(',')
    .map((endpoint) => endpoint.trim())
    .filter((endpoint) => endpoint !== '');
  if (external.length > 0) return externalCluster(external, findExecutable(options.etcdBin ?? 'etcd'));

  const named = options.etcdBin ?? nonEmpty(process.env.ETCD_BIN);
  const etcdBin = findExecutable(named ?? 'etcd');
  if (etcdBin !== undefined) {
    return startLocalCluster({
      etcdBin,
      etcdctlBin: findEtcdctl(etcdBin),
      nodes,
      fastTimings: options.fastTimings ?? true,
      extraArgs: options.extraArgs ?? [],
      logDir: options.logDir,
      timeout,
    });
  }
  // A binary the caller named explicitly but that is missing is a mistake to report, not to paper over
  // with a container.
  if (named !== undefined)
    throw new Error(`startEtcd: etcd binary ${named} not found or not executable; ${INSTALL_HINT}`);

  const attempt = await tryContainerCluster(nodes, timeout);
  if ('cluster' in attempt) return attempt.cluster;
  throw new Error(`startEtcd: no etcd binary on PATH and ${attempt.unavailable}; ${INSTALL_HINT}`);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
