import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sharedEndpoints, startEtcd, uniquePrefix } from '@coordkit/testing';
import { describe, expect, test } from 'vitest';
import { call, get, processExists, put } from './etcd-http.js';

// ETCD_ENDPOINTS makes startEtcd hand out that external etcd instead of starting processes.
describe.skipIf(Boolean(process.env.ETCD_ENDPOINTS))('startEtcd with one member', () => {
  test('starts a healthy etcd that stores data, and stop() removes its process and data', async () => {
    const cluster = await startEtcd();
    const pid = cluster.pid(0);
    const dataDir = cluster.dataDir;
    try {
      expect(cluster.kind).toBe('process');
      expect(cluster.size).toBe(1);
      expect(cluster.endpoints[0]).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(cluster.clientUrls[0]).toBe(`http://${cluster.endpoints[0]}`);
      expect(pid).toBeTypeOf('number');
      expect(processExists(pid!)).toBe(true);
      expect(dataDir).toMatch(/coordkit-/);
      expect(existsSync(dataDir!)).toBe(true);

      const health = await fetch(`${cluster.clientUrls[0]}/health`).then((res) => res.json());
      expect(health).toMatchObject({ health: 'true' });
      const metrics = await fetch(cluster.metricsUrl()).then((res) => res.text());
      expect(metrics).toMatch(/^etcd_server_has_leader 1$/m);

      const key = `${uniquePrefix('single')}greeting`;
      await put(cluster.endpoints[0]!, key, 'hello');
      expect((await get(cluster.endpoints[0]!, key))?.toString()).toBe('hello');
      const read = await cluster.etcdctl(['get', key, '--print-value-only']);
      expect(read).toMatchObject({ code: 0, stdout: 'hello\n' });
      expect(await cluster.leaderIndex()).toBe(0);
    } finally {
      await cluster.stop();
    }
    expect(processExists(pid!)).toBe(false);
    expect(existsSync(dataDir!)).toBe(false);
    await cluster.stop(); // idempotent
    expect(() => cluster.pause(0)).toThrow(/stopped/);
  });

  test('kill() then restart() brings the member back on the same port with the data from its data dir', async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'coordkit-logs-'));
    try {
      await using cluster = await startEtcd({ logDir });
      const endpoint = cluster.endpoints[0]!;
      const key = `${uniquePrefix('restart')}k`;
      await put(endpoint, key, 'kept');
      const firstPid = cluster.pid(0)!;

      await cluster.kill(0);
      expect(cluster.pid(0)).toBeUndefined();
      expect(processExists(firstPid)).toBe(false);
      await expect(get(endpoint, key, { timeout: 1_000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });

      await cluster.restart(0);
      expect(cluster.pid(0)).not.toBe(firstPid);
      // A single member has no peer to catch up from: the value can only come from its own data directory.
      expect((await get(endpoint, key))?.toString()).toBe('kept');
      await cluster.stop();
      expect(readdirSync(logDir).some((name) => name.endsWith('-n0.log'))).toBe(true);
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
  });

  test('with ETCD_ENDPOINTS set it returns a handle on that etcd whose fault controls throw', async () => {
    const previous = process.env.ETCD_ENDPOINTS;
    process.env.ETCD_ENDPOINTS = sharedEndpoints().join(',');
    try {
      const cluster = await startEtcd({ nodes: 3 });
      expect(cluster.kind).toBe('external');
      expect(cluster.endpoints).toEqual(sharedEndpoints());
      expect(cluster.pid(0)).toBeUndefined();
      await expect(cluster.kill(0)).rejects.toThrow(/unavailable against an external etcd/);
      expect(() => cluster.pause(0)).toThrow(/unavailable against an external etcd/);
      await expect(cluster.restart(0)).rejects.toThrow(/unavailable against an external etcd/);
      expect(await cluster.leaderIndex()).toBe(0);
      await cluster.stop();
      // Not ours to stop: the shared etcd still answers.
      const reply = await call(sharedEndpoints()[0]!, '/v3/maintenance/status', {});
      expect(reply.status).toBe(200);
    } finally {
      if (previous === undefined) delete process.env.ETCD_ENDPOINTS;
      else process.env.ETCD_ENDPOINTS = previous;
    }
  });

  test('a named etcd binary that does not exist is reported with install instructions', async () => {
    await expect(startEtcd({ etcdBin: '/nonexistent/etcd' })).rejects.toThrow(
      /\/nonexistent\/etcd not found.*apt-get install -y etcd-server etcd-client.*ETCD_BIN.*ETCD_ENDPOINTS/,
    );
  });

  // Without a Docker engine the testcontainers fallback must step aside quickly and say how to get etcd.
  test.skipIf(existsSync('/var/run/docker.sock') || process.env.DOCKER_HOST !== undefined)(
    'without etcd on PATH or a container engine it throws how to install etcd',
    async () => {
      const saved = { PATH: process.env.PATH, ETCD_BIN: process.env.ETCD_BIN };
      const emptyDir = mkdtempSync(join(tmpdir(), 'coordkit-nopath-'));
      process.env.PATH = emptyDir;
      delete process.env.ETCD_BIN;
      try {
        await expect(startEtcd()).rejects.toThrow(
          /no etcd binary on PATH.*apt-get install -y etcd-server etcd-client/,
        );
      } finally {
        process.env.PATH = saved.PATH;
        if (saved.ETCD_BIN !== undefined) process.env.ETCD_BIN = saved.ETCD_BIN;
        rmSync(emptyDir, { recursive: true, force: true });
      }
    },
  );

  test('clusters started at the same time get distinct ports and each serves its own data', async () => {
    const clusters = await Promise.all([startEtcd(), startEtcd()]);
    try {
      expect(new Set(clusters.flatMap((cluster) => cluster.endpoints)).size).toBe(2);
      const key = `${uniquePrefix('parallel')}owner`;
      await Promise.all(clusters.map((cluster, i) => put(cluster.endpoints[0]!, key, `cluster-${i}`)));
      for (const [i, cluster] of clusters.entries()) {
        expect((await get(cluster.endpoints[0]!, key))?.toString()).toBe(`cluster-${i}`);
      }
    } finally {
      await Promise.all(clusters.map((cluster) => cluster.stop()));
    }
  });
});
