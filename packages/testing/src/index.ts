/**
 * Test helpers for coordkit: throwaway real etcd clusters with member faults, a TCP fault proxy, and
 * small helpers to keep tests isolated and free of fixed sleeps.
 * @packageDocumentation
 */
export { createRoleUser, type RoleUserOptions } from './create-role-user.js';
export type {
  ClusterTls,
  EtcdCluster,
  EtcdClusterKind,
  EtcdctlOptions,
  EtcdctlResult,
  EtcdUser,
  RestartOptions,
} from './etcd-cluster.js';
export { type FaultProxy, faultProxy, type ProxyStats } from './fault-proxy.js';
export { freePort } from './free-port.js';
export { SHARED_ENDPOINTS_ENV, sharedEndpoints } from './shared-endpoints.js';
export { type StartEtcdOptions, startEtcd } from './start-etcd.js';
export { uniquePrefix } from './unique-prefix.js';
export { type WaitForOptions, waitFor } from './wait-for.js';
