import type { EtcdCluster, EtcdctlOptions, EtcdctlResult } from '../etcd-cluster.js';
import { findEtcdctl } from './binaries.js';
import { findLeaderIndex, runEtcdctl } from './cluster-queries.js';

/**
 * A handle on an etcd that this process did not start (`ETCD_ENDPOINTS`): queries work, fault controls throw,
 * and `stop()` leaves it running because it is not ours to stop.
 */
export function externalCluster(endpoints: readonly string[], etcdBin: string | undefined): EtcdCluster {
  const clientUrls = endpoints.map((endpoint) =>
    /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`,
  );
  const memberIds: (string | undefined)[] = [];
  const unavailable = (what: string): never => {
    throw new Error(
      `${what} is unavailable against an external etcd (ETCD_ENDPOINTS=${endpoints.join(',')}): ` +
        'unset ETCD_ENDPOINTS to let startEtcd run its own etcd processes',
    );
  };
  const member = (i: number) => {
    const url = clientUrls[i];
    if (url === undefined)
      throw new RangeError(`no etcd member ${i}: this cluster has members 0..${endpoints.length - 1}`);
    return url;
  };
  return {
    kind: 'external',
    endpoints: [...endpoints],
    clientUrls,
    size: endpoints.length,
    dataDir: undefined,
    tls: undefined,
    rootUser: undefined,
    metricsUrl: (i = 0) => `${member(i)}/metrics`,
    pid: (i) => {
      member(i);
      return undefined;
    },
    kill: async () => unavailable('kill()'),
    pause: () => unavailable('pause()'),
    resume: () => unavailable('resume()'),
    restart: async () => unavailable('restart()'),
    stop: async () => {},
    leaderIndex: () => findLeaderIndex(clientUrls, memberIds),
    etcdctl: (args: readonly string[], options: EtcdctlOptions = {}): Promise<EtcdctlResult> => {
      const bin = findEtcdctl(etcdBin);
      if (bin === undefined)
        throw new Error('etcdctl was not found in ETCDCTL_BIN or on PATH; install etcd-client');
      return runEtcdctl(
        bin,
        options.member === undefined ? clientUrls : [member(options.member)],
        args,
        options.timeout,
      );
    },
    [Symbol.asyncDispose]: async () => {},
  };
}
