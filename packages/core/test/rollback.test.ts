import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordError, createClient, ErrorCodes, Session, type WatchBatch, watch } from '@coordkit/core';
import { startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { aborted, sharedClient } from './helpers.js';

describe('F21: cluster restored from older data', () => {
  it('voids the session and makes watches fail or re-list when the revision goes backwards', async () => {
    await using cluster = await startEtcd({ nodes: 1 });
    const memberData = join(cluster.dataDir!, 'n0', 'data');
    const backup = `${memberData}-backup`;
    const client = createClient({ endpoints: [...cluster.endpoints] });
    try {
      const session = await Session.create(client, { ttl: 10 });
      await client.put('/f21/k').value('old');
      // Take a copy of the data as it is now (the "older snapshot").
      await cluster.kill(0);
      await cp(memberData, backup, { recursive: true });
      await cluster.restart(0);
      const strict = watch(client, { prefix: '/f21/' }, { fromRevision: 1n });
      const relisting = watch(client, { prefix: '/f21/' }, { fromRevision: 1n, resync: true });
      const strictSeen: WatchBatch[] = [];
      let strictError: unknown;
      const strictLoop = (async () => {
        try {
          for await (const batch of strict) strictSeen.push(batch);
        } catch (err) {
          strictError = err;
        }
      })();
      const relistSeen: WatchBatch[] = [];
      const relistLoop = (async () => {
        for await (const batch of relisting) relistSeen.push(batch);
      })().catch(() => undefined);
      for (let i = 0; i < 20; i++) await client.put(`/f21/new-${i}`).value(String(i));
      await waitFor(() => strictSeen.length >= 21 && relistSeen.length >= 21, {
        message: 'history delivered',
      });
      expect(session.isAlive()).toBe(true);

      // Roll the member back to the copy and restart it: its revision is now far below what we saw.
      await cluster.kill(0);
      await rm(memberData, { recursive: true, force: true });
      await cp(backup, memberData, { recursive: true });
      await cluster.restart(0);

      const reason = await aborted(session.signal);
      expect(CoordError.is(reason, ErrorCodes.REVISION_REGRESSED)).toBe(true);
      await strictLoop;
      expect(CoordError.is(strictError, ErrorCodes.REVISION_REGRESSED)).toBe(true);
      // The re-listing watch yields the restored state as one resync batch: only the old key.
      await waitFor(() => relistSeen.some((b) => b.resync), { message: 'resync batch' });
      const resync = relistSeen.find((b) => b.resync)!;
      expect(resync.events.map((e) => `${e.key}=${e.value?.toString()}`)).toEqual(['/f21/k=old']);
      relisting.close();
      await relistLoop;
    } finally {
      client.close();
    }
  });

  it('a watch replaying history below revisions already seen sends no confirming read', async () => {
    using writer = sharedClient();
    using client = sharedClient();
    const prefix = uniquePrefix('f21-replay');
    const first = await writer.put(`${prefix}k-0`).value('0').exec();
    for (let i = 1; i < 200; i++) await writer.put(`${prefix}k-${i}`).value(String(i));
    // A live watch of the latest write: the client has now seen the newest revision.
    const live = watch(client, { prefix: `${prefix}last` });
    await live.created();
    await writer.put(`${prefix}last`).value('x');
    for await (const _ of live) break;
    let reads = 0;
    const range = client.kv.range.bind(client.kv);
    client.kv.range = ((...args: Parameters<typeof range>) => {
      reads++;
      return range(...args);
    }) as typeof range;
    // Every batch of this replay is older than what was seen: lag, not a rollback.
    const replay = watch(client, { prefix: `${prefix}k-` }, { fromRevision: BigInt(first.header.revision) });
    let delivered = 0;
    for await (const batch of replay) {
      delivered += batch.events.length;
      if (delivered === 200) break;
    }
    expect(delivered).toBe(200);
    expect(reads).toBe(0);
  });
});
