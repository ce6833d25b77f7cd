import { accessSync, constants } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';

/** Returns the absolute path of an executable: `name` itself when it contains a slash, else found on PATH. */
export function findExecutable(name: string): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const directory of (process.env.PATH ?? '').split(delimiter)) {
    if (directory === '') continue;
    const candidate = join(directory, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds `etcdctl`: `ETCDCTL_BIN`, else the one next to the etcd binary in use (so both come from the same
 * release), else PATH.
 */
export function findEtcdctl(etcdBin: string | undefined): string | undefined {
  const fromEnv = process.env.ETCDCTL_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return findExecutable(fromEnv);
  if (etcdBin !== undefined) {
    const sibling = join(dirname(etcdBin), 'etcdctl');
    if (isExecutable(sibling)) return sibling;
  }
  return findExecutable('etcdctl');
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
