import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findExecutable } from './binaries.js';

/** The PEM files of a throwaway PKI: one CA, the server's pair, and the client's pair when mTLS is on. */
export interface CertificateFiles {
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string | undefined;
  readonly clientKey: string | undefined;
}

const OPENSSL_HINT =
  'openssl is needed to generate test certificates: install it (Debian/Ubuntu: `apt-get install -y openssl`)';

// The server certificate names every way a test reaches a member on loopback: grpc-js and Go check the IP
// SAN for `127.0.0.1:port` endpoints and the DNS SAN for `localhost:port`.
const SERVER_EXTENSIONS = [
  'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=serverAuth,clientAuth',
  'subjectAltName=IP:127.0.0.1,DNS:localhost',
].join('\n');

const CLIENT_EXTENSIONS = [
  'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature,keyEncipherment',
  'extendedKeyUsage=clientAuth',
].join('\n');

/**
 * Generates, with `openssl`, a throwaway CA (EC P-256, valid one day) and a server certificate it signed,
 * plus a client certificate (CN `coordkit-test-client`) when `client` is true, as PEM files under
 * `directory`. Keys are unencrypted: they live as long as the test cluster and its tmpfs directory.
 */
export async function createCertificates(directory: string, client: boolean): Promise<CertificateFiles> {
  const openssl = findExecutable('openssl');
  if (openssl === undefined) throw new Error(`startEtcd({ tls }): ${OPENSSL_HINT}`);
  await mkdir(directory, { recursive: true });
  const file = (name: string) => join(directory, name);
  const run = (args: readonly string[]) => runOpenssl(openssl, args);
  const newKey = (path: string) =>
    run(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', path]);

  await newKey(file('ca-key.pem'));
  await run([
    ...['req', '-x509', '-new', '-key', file('ca-key.pem'), '-days', '1'],
    ...['-subj', '/CN=coordkit-test-ca', '-out', file('ca.pem')],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
  ]);
  const issue = async (name: string, subject: string, extensions: string) => {
    await newKey(file(`${name}-key.pem`));
    await run([
      'req',
      '-new',
      '-key',
      file(`${name}-key.pem`),
      '-subj',
      subject,
      '-out',
      file(`${name}.csr`),
    ]);
    await writeFile(file(`${name}.ext`), `${extensions}\n`);
    await run([
      ...['x509', '-req', '-in', file(`${name}.csr`), '-CA', file('ca.pem'), '-CAkey', file('ca-key.pem')],
      ...['-CAcreateserial', '-days', '1', '-extfile', file(`${name}.ext`), '-out', file(`${name}.pem`)],
    ]);
  };
  await issue('server', '/CN=localhost', SERVER_EXTENSIONS);
  if (client) await issue('client', '/CN=coordkit-test-client', CLIENT_EXTENSIONS);
  return {
    ca: file('ca.pem'),
    serverCert: file('server.pem'),
    serverKey: file('server-key.pem'),
    clientCert: client ? file('client.pem') : undefined,
    clientKey: client ? file('client-key.pem') : undefined,
  };
}

function runOpenssl(bin: string, args: readonly string[]): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    execFile(bin, args, { timeout: 20_000, encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error === null) return resolve();
      reject(new Error(`openssl ${args[0]} failed: ${stderr.trim() || error.message}`, { cause: error }));
    });
  });
}
