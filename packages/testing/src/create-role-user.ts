import type { EtcdCluster } from './etcd-cluster.js';
import { mustSucceed } from './internal/cluster-security.js';

/** Options of {@link createRoleUser}. */
export interface RoleUserOptions {
  /** The user to create. */
  readonly user: string;
  /** Its password. */
  readonly password: string;
  /** The role to create and grant to the user (one role per user keeps tests readable). */
  readonly role: string;
  /** Key prefixes the role may read and write (each granted with `--prefix=true`). */
  readonly readWritePrefixes: readonly string[];
  /** Key prefixes the role may only read. Default none. */
  readonly readPrefixes?: readonly string[];
}

/**
 * Creates a least-privilege etcd user through `cluster.etcdctl()` (so as root on an auth cluster): adds
 * `role`, grants it `readwrite` on each of `readWritePrefixes` and `read` on each of `readPrefixes`, adds
 * `user` with `password`, and grants it the role.
 *
 * Not atomic: on failure it throws an Error naming the etcdctl step (never the password) and leaves what was
 * already created, which the throwaway cluster discards on `stop()`.
 */
export async function createRoleUser(cluster: EtcdCluster, options: RoleUserOptions): Promise<void> {
  const { user, password, role } = options;
  if (user === '' || role === '' || password === '')
    throw new RangeError('createRoleUser: user, password and role must be non-empty');
  if (options.readWritePrefixes.length === 0 && (options.readPrefixes ?? []).length === 0)
    throw new RangeError('createRoleUser: grant at least one prefix (readWritePrefixes or readPrefixes)');
  const etcdctl = (args: readonly string[]) => cluster.etcdctl(args);
  await mustSucceed(etcdctl, ['role', 'add', role]);
  const grants = [
    ...options.readWritePrefixes.map((prefix) => ['readwrite', prefix] as const),
    ...(options.readPrefixes ?? []).map((prefix) => ['read', prefix] as const),
  ];
  for (const [permission, prefix] of grants) {
    // `--` ends the flags, so a prefix that starts with '-' is taken as the key it is.
    await mustSucceed(etcdctl, ['role', 'grant-permission', '--prefix=true', '--', role, permission, prefix]);
  }
  // The password goes in its own flag rather than `user:password`, so a ':' in it survives.
  await mustSucceed(etcdctl, ['user', 'add', user, '--interactive=false', `--new-user-password=${password}`]);
  await mustSucceed(etcdctl, ['user', 'grant-role', user, role]);
}
