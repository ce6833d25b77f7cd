import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterTls, EtcdctlResult } from '../etcd-cluster.js';
import { createCertificates } from './certificates.js';
import type { TlsMaterial } from './http-json.js';

/** Which TLS a local cluster serves its clients with: none, server TLS, or mutual TLS. */
export type TlsMode = false | true | 'mtls';

/** Everything a local cluster needs to serve TLS and to reach itself over it. */
export interface TlsSetup {
  /** The public paths handed to tests as `cluster.tls`. */
  readonly files: ClusterTls;
  /** The same PEMs loaded, for the cluster's own health and status probes. */
  readonly material: TlsMaterial;
  /** etcd flags every member gets (the client URLs' scheme is set separately). */
  readonly serverArgs: readonly string[];
  /** `etcdctl` flags (`[name, value]`) that make it verify the server and present the client pair. */
  readonly etcdctlFlags: readonly (readonly [string, string])[];
}

/**
 * Generates a throwaway PKI under `<root>/tls` and returns what members, probes and etcdctl need. Peers stay
 * plain HTTP on loopback: only the client side is under test, and peer TLS would slow every start.
 */
export async function prepareTls(mode: true | 'mtls', root: string): Promise<TlsSetup> {
  const mutual = mode === 'mtls';
  const pki = await createCertificates(join(root, 'tls'), mutual);
  const files: ClusterTls = {
    ca: pki.ca,
    ...(pki.clientCert === undefined ? {} : { cert: pki.clientCert }),
    ...(pki.clientKey === undefined ? {} : { key: pki.clientKey }),
  };
  const [ca, cert, key] = await Promise.all([
    readFile(pki.ca),
    pki.clientCert === undefined ? undefined : readFile(pki.clientCert),
    pki.clientKey === undefined ? undefined : readFile(pki.clientKey),
  ]);
  return {
    files,
    material: { ca, ...(cert === undefined ? {} : { cert }), ...(key === undefined ? {} : { key }) },
    serverArgs: [
      ...['--cert-file', pki.serverCert, '--key-file', pki.serverKey],
      // --client-cert-auth alone makes etcd ask for a certificate; --trusted-ca-file says which CA must sign it.
      ...(mutual ? ['--client-cert-auth', '--trusted-ca-file', pki.ca] : []),
    ],
    etcdctlFlags: [
      ['--cacert', pki.ca],
      ...(files.cert === undefined ? [] : [['--cert', files.cert] as const]),
      ...(files.key === undefined ? [] : [['--key', files.key] as const]),
    ],
  };
}

/**
 * Creates the `root` user with `password`, grants it the built-in `root` role (etcd 3.4 refuses
 * `auth enable` otherwise) and enables auth. `etcdctl` runs the given args with the TLS flags already applied.
 */
export async function enableAuth(
  etcdctl: (args: readonly string[]) => Promise<EtcdctlResult>,
  password: string,
): Promise<void> {
  // The password goes in its own flag, not `root:<pw>`, so a password containing ':' survives intact.
  await mustSucceed(etcdctl, [
    'user',
    'add',
    'root',
    '--interactive=false',
    `--new-user-password=${password}`,
  ]);
  await mustSucceed(etcdctl, ['user', 'grant-role', 'root', 'root']);
  await mustSucceed(etcdctl, ['auth', 'enable']);
}

/** Runs `etcdctl args` and throws an Error with what it printed unless it exits 0. */
export async function mustSucceed(
  etcdctl: (args: readonly string[]) => Promise<EtcdctlResult>,
  args: readonly string[],
): Promise<EtcdctlResult> {
  const result = await etcdctl(args);
  if (result.code !== 0) {
    // Never echo the arguments: they may carry a password.
    throw new Error(
      `etcdctl ${args.slice(0, 2).join(' ')} failed (exit ${String(result.code)}): ${result.stderr.trim()}`,
    );
  }
  return result;
}
