import { existsSync } from 'node:fs';
import { type EtcdCluster, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { get, processExists, put } from './etcd-http.js';

// One cluster for the file; each test leaves every member running again, and the last one stops it.
// ETCD_ENDPOINTS makes startEtcd hand out that external etcd, which has no fault controls.
describe.skipIf(Boolean(process.env.ETCD_ENDPOINTS))('startEtcd with three members', () => {
  let cluster: EtcdCluster;
  const prefix = uniquePrefix('three');

  beforeAll(async () => {
    cluster = await startEtcd({ nodes: 3 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  /** Writes through whichever member answers first, waiting out an election if one is under way. */
  const putSomewhere = (key: string, value: string, members: readonly number[]) =>
    waitFor(
      async () => {
        for (const i of members) {
          try {
            return await put(cluster.endpoints[i]!, key, value, { timeout: 1_000 });
          } catch {
            // That member has no leader yet; try the next one.
          }
        }
        return undefined;
      },
      { message: `a write of ${key} through members ${members.join(',')}` },
    );

  test('a killed member leaves the other two serving, and after restart it serves the earlier data', async () => {
    expect(cluster.size).toBe(3);
    expect(new Set(cluster.endpoints).size).toBe(3);
    await put(cluster.endpoints[0]!, `${prefix}before`, 'written before the kill');

    const victim = 2;
    const oldPid = cluster.pid(victim)!;
    await cluster.kill(victim);
    expect(processExists(oldPid)).toBe(false);

    await putSomewhere(`${prefix}during`, 'written while down', [0, 1]);
    expect((await get(cluster.endpoints[1]!, `${prefix}during`))?.toString()).toBe('written while down');

    await cluster.restart(victim);
    expect(cluster.pid(victim)).not.toBe(oldPid);
    // Serializable reads are answered from the member's own store, so this proves THAT member has the data.
    for (const [key, value] of [
      [`${prefix}before`, 'written before the kill'],
      [`${prefix}during`, 'written while down'],
    ] as const) {
      await waitFor(
        async () => {
          const read = await cluster.etcdctl(['get', key, '--print-value-only', '--consistency=s'], {
            member: victim,
          });
          return read.code === 0 && read.stdout === `${value}\n`;
        },
        { message: `member ${victim} to serve ${key}` },
      );
    }
  });

  test('a paused member stops answering while the others serve, and answers again once resumed', async () => {
    const paused = 1;
    await put(cluster.endpoints[0]!, `${prefix}paused`, 'v');
    cluster.pause(paused);
    try {
      await expect(
        get(cluster.endpoints[paused]!, `${prefix}paused`, { timeout: 500 }),
      ).rejects.toMatchObject({
        code: 'TIMEOUT',
      });
      const serving = await waitFor(
        async () => {
          try {
            return (await get(cluster.endpoints[0]!, `${prefix}paused`, { timeout: 1_000 }))?.toString();
          } catch {
            return undefined; // an election is under way if the paused member was leader
          }
        },
        { message: 'member 0 to serve while member 1 is paused' },
      );
      expect(serving).toBe('v');
    } finally {
      cluster.resume(paused);
    }
    const answer = await waitFor(
      async () => {
        try {
          return (await get(cluster.endpoints[paused]!, `${prefix}paused`, { timeout: 1_000 }))?.toString();
        } catch {
          return undefined;
        }
      },
      { message: 'the resumed member to answer' },
    );
    expect(answer).toBe('v');
  });

  test('leaderIndex() names the leader, and killing it makes another member leader', async () => {
    const { index: leader } = await waitFor(async () => {
      const index = await cluster.leaderIndex();
      return index === undefined ? undefined : { index };
    });
    // Cross-check with etcd's own view: that member reports itself as leader.
    const status = await cluster.etcdctl(['endpoint', 'status', '-w', 'json'], { member: leader });
    // Raft ids are uint64: compare their digits, not JSON numbers rounded to doubles.
    const memberId = /"member_id":(\d+)/.exec(status.stdout)?.[1];
    expect(memberId).toBeDefined();
    expect(/"leader":(\d+)/.exec(status.stdout)?.[1]).toBe(memberId);

    await cluster.kill(leader);
    const { index: next } = await waitFor(
      async () => {
        const index = await cluster.leaderIndex();
        return index === undefined || index === leader ? undefined : { index };
      },
      { message: 'a new leader after killing the old one' },
    );
    expect(next).not.toBe(leader);
    await putSomewhere(`${prefix}after-leader-kill`, 'ok', [next]);
    await cluster.restart(leader);
  });

  test('restart({ waitHealthy: false }) brings back a member of a cluster that lost quorum', async () => {
    await cluster.kill(1);
    await cluster.kill(2);
    await waitFor(
      async () => {
        const reply = await fetch(`${cluster.clientUrls[0]}/health`).then(
          (res) => res.json(),
          () => undefined,
        );
        return (reply as { health?: string } | undefined)?.health === 'false';
      },
      { message: 'member 0 to report no quorum' },
    );
    // /health needs quorum, which this member alone cannot restore: wait only until it listens.
    await cluster.restart(1, { waitHealthy: false });
    await putSomewhere(`${prefix}quorum-back`, 'ok', [0, 1]);
    await cluster.restart(2);
    expect(await cluster.leaderIndex()).toBeTypeOf('number');
  });

  test('stop() also ends a paused member and removes every data directory', async () => {
    const pids = [0, 1, 2].map((i) => cluster.pid(i)!);
    const dataDir = cluster.dataDir!;
    cluster.pause(0);
    await cluster.stop();
    for (const pid of pids) expect(processExists(pid)).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });
});
