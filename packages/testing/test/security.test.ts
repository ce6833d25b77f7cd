import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { createRoleUser, startEtcd, uniquePrefix } from '@coordkit/testing';
import { describe, expect, test } from 'vitest';

interface HttpsReply {
  readonly status: number;
  readonly body: string;
}

/** GETs an https URL with the given TLS options, on a fresh connection. */
function httpsGet(url: string, tls: { ca?: Buffer; cert?: Buffer; key?: Buffer }): Promise<HttpsReply> {
  return new Promise<HttpsReply>((resolve, reject) => {
    const req = request(url, { agent: false, ...tls }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

// ETCD_ENDPOINTS makes startEtcd hand out that external etcd, which cannot be given TLS or auth.
describe.skipIf(Boolean(process.env.ETCD_ENDPOINTS))('startEtcd with tls and auth', () => {
  test('tls: true serves https with a generated CA, and etcdctl gets the CA flag', async () => {
    await using cluster = await startEtcd({ tls: true });
    expect(cluster.clientUrls[0]).toBe(`https://${cluster.endpoints[0]}`);
    expect(cluster.tls?.ca).toMatch(/ca\.pem$/);
    expect(cluster.tls?.cert).toBeUndefined();
    expect(cluster.tls?.key).toBeUndefined();
    expect(cluster.tls!.ca.startsWith(cluster.dataDir!)).toBe(true);
    expect(cluster.rootUser).toBeUndefined();
    const ca = readFileSync(cluster.tls!.ca);

    const health = await httpsGet(`${cluster.clientUrls[0]}/health`, { ca });
    expect(JSON.parse(health.body)).toMatchObject({ health: 'true' });
    // Without the CA, Node refuses the self-made certificate: the server really presents one signed by it.
    await expect(httpsGet(`${cluster.clientUrls[0]}/health`, {})).rejects.toMatchObject({
      code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
    // localhost is in the certificate too (DNS SAN), not only 127.0.0.1.
    const port = cluster.endpoints[0]!.split(':')[1];
    expect((await httpsGet(`https://localhost:${port}/health`, { ca })).status).toBe(200);

    const key = `${uniquePrefix('tls')}k`;
    expect(await cluster.etcdctl(['put', key, 'over-tls'])).toMatchObject({ code: 0 });
    expect(await cluster.etcdctl(['get', key, '--print-value-only'])).toMatchObject({
      code: 0,
      stdout: 'over-tls\n',
    });
    // Plain HTTP on the TLS port is refused.
    const plain = await cluster.etcdctl(
      ['get', key, `--endpoints=http://${cluster.endpoints[0]}`, '--dial-timeout=1s', '--command-timeout=1s'],
      {
        timeout: 10_000,
      },
    );
    expect(plain.code).not.toBe(0);
    expect(await cluster.leaderIndex()).toBe(0);

    await cluster.restart(0);
    expect(await cluster.etcdctl(['get', key, '--print-value-only'])).toMatchObject({ stdout: 'over-tls\n' });
    const dataDir = cluster.dataDir!;
    await cluster.stop();
    expect(existsSync(dataDir)).toBe(false);
  });

  test("tls: 'mtls' refuses a client without a certificate and serves one with the generated pair", async () => {
    await using cluster = await startEtcd({ tls: 'mtls' });
    const tls = cluster.tls!;
    expect(tls.cert).toMatch(/client\.pem$/);
    expect(tls.key).toMatch(/client-key\.pem$/);
    const ca = readFileSync(tls.ca);
    const cert = readFileSync(tls.cert!);
    const key = readFileSync(tls.key!);
    const url = `${cluster.clientUrls[0]}/health`;

    expect(JSON.parse((await httpsGet(url, { ca, cert, key })).body)).toMatchObject({ health: 'true' });
    // The handshake itself fails: etcd demands a certificate its trusted CA signed.
    await expect(httpsGet(url, { ca })).rejects.toThrow();

    const name = `${uniquePrefix('mtls')}k`;
    expect(await cluster.etcdctl(['put', name, 'v'])).toMatchObject({ code: 0 });
    // etcdctl without --cert/--key (given empty, so the cluster's defaults are not added) is refused.
    const anonymous = await cluster.etcdctl(['get', name, '--cert=', '--key=', '--dial-timeout=2s'], {
      timeout: 10_000,
    });
    expect(anonymous.code).not.toBe(0);
    expect(await cluster.leaderIndex()).toBe(0);
  });

  test('auth enables root, refuses anonymous and wrong-password access, and createRoleUser limits a user', async () => {
    const rootPassword = 'root:Pa55-with-colon';
    await using cluster = await startEtcd({ auth: { rootPassword } });
    expect(cluster.rootUser).toEqual({ username: 'root', password: rootPassword });
    expect(cluster.tls).toBeUndefined();
    const prefix = uniquePrefix('auth');

    // etcdctl runs as root automatically.
    expect(await cluster.etcdctl(['put', `${prefix}app/a`, '1'])).toMatchObject({ code: 0 });
    // Listing users needs the root role once auth is on.
    expect(await cluster.etcdctl(['user', 'list'])).toMatchObject({ code: 0, stdout: 'root\n' });

    // Given an explicit empty --user, etcdctl sends no credentials: etcd refuses the anonymous request.
    const anonymous = await cluster.etcdctl(['get', `${prefix}app/a`, '--user=']);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/user name is empty|permission denied/);
    const wrong = await cluster.etcdctl(['get', `${prefix}app/a`, '--user=root:wrong']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/authentication failed/);

    await createRoleUser(cluster, {
      user: 'alice',
      password: 'alice-pw',
      role: 'app-rw',
      readWritePrefixes: [`${prefix}app/`],
      readPrefixes: [`${prefix}shared/`],
    });
    await cluster.etcdctl(['put', `${prefix}shared/s`, 'shared']);
    const asAlice = (args: string[]) => cluster.etcdctl([...args, '--user=alice:alice-pw']);
    expect(await asAlice(['put', `${prefix}app/b`, '2'])).toMatchObject({ code: 0 });
    expect(await asAlice(['get', `${prefix}shared/s`, '--print-value-only'])).toMatchObject({
      code: 0,
      stdout: 'shared\n',
    });
    const readOnly = await asAlice(['put', `${prefix}shared/s`, 'changed']);
    expect(readOnly.stderr).toMatch(/permission denied/);
    const outside = await asAlice(['put', `${prefix}other`, 'x']);
    expect(outside.stderr).toMatch(/permission denied/);
    // Only the permitted write landed.
    const all = await cluster.etcdctl(['get', '--prefix', prefix, '--keys-only']);
    expect(all.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [`${prefix}app/a`, `${prefix}app/b`, `${prefix}shared/s`].sort(),
    );
    const roles = await cluster.etcdctl(['user', 'get', 'alice']);
    expect(roles.stdout).toMatch(/Roles: app-rw/);
  });

  test('tls and auth together: etcdctl carries both the CA and the root user', async () => {
    await using cluster = await startEtcd({ tls: true, auth: { rootPassword: 'secret' } });
    const key = `${uniquePrefix('tls-auth')}k`;
    expect(await cluster.etcdctl(['put', key, 'both'])).toMatchObject({ code: 0 });
    expect((await cluster.etcdctl(['get', key, '--user='])).code).not.toBe(0);
    expect(await cluster.leaderIndex()).toBe(0);
  });

  test('bad options and unsupported sources are refused up front', async () => {
    await expect(startEtcd({ auth: { rootPassword: '' } })).rejects.toThrow(/rootPassword/);
    await expect(startEtcd({ tls: 'yes' as unknown as boolean })).rejects.toThrow(/tls must be/);
    const previous = process.env.ETCD_ENDPOINTS;
    process.env.ETCD_ENDPOINTS = '127.0.0.1:1';
    try {
      await expect(startEtcd({ tls: true })).rejects.toThrow(/tls and auth need startEtcd to run etcd/);
    } finally {
      if (previous === undefined) delete process.env.ETCD_ENDPOINTS;
      else process.env.ETCD_ENDPOINTS = previous;
    }
  });
});
