import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordError, createClient, ErrorCodes, Session, type WatchBatch, watch } from '@coordkit/core';
import { startEtcd, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { aborted } from './helpers.js';

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
});
