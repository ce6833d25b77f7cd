import { CasCounter } from '@coordkit/cas-counter';
import { CoordError, createClient, ErrorCodes } from '@coordkit/core';
import { faultProxy, sharedEndpoints, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import {
  countIn,
  countRequests,
  incrementsIn,
  keyHistory,
  rawValue,
  testClient,
  withoutFences,
} from './helpers.js';

describe('CasCounter when a reply is lost (F12)', () => {
  it('reports an add and a CAS whose replies came after the deadline as applied, applying each once', async () => {
    const name = `${uniquePrefix('lost-reply')}counter`;
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    using client = testClient([proxy.endpoint], { requestTimeout: 200 });
    const counts = countRequests(client);
    await using counter = new CasCounter(client, name);
    expect(await counter.increment()).toBe(1n);

    proxy.delay(400);
    const add = counter.add(5n);
    // The add and at least one attempt to resolve it went unanswered within the deadline.
    await waitFor(() => counts.failedTxn >= 2, { timeout: 10_000, message: 'the add reply to be lost' });
    proxy.heal();
    expect(await add).toBe(6n);

    proxy.delay(400);
    const failedBefore = counts.failedTxn;
    const cas = counter.compareAndSet(6n, 10n);
    await waitFor(() => counts.failedTxn >= failedBefore + 2, {
      timeout: 10_000,
      message: 'the CAS reply to be lost',
    });
    proxy.heal();
    expect(await cas).toEqual({ ok: true, value: 10n });

    using direct = testClient();
    expect(countIn(await rawValue(direct, `${name}/value`))).toBe(10n);
    // Each write applied once, none re-sent: 1, then 6, then 10 (besides any fence, which puts the
    // bytes already there back: the first increment's reply can be late too on a busy machine).
    const history = withoutFences(await keyHistory(direct, `${name}/value`));
    expect(history.map((write) => countIn(write.value ?? null))).toEqual([1n, 6n, 10n]);
  });
});

describe('CasCounter under lost replies and a killed leader in a 3-node cluster (F12, F18)', () => {
  it('ends with acknowledged <= value <= acknowledged + unknown, every increment applied at most once', async () => {
    const name = `${uniquePrefix('chaos')}counter`;
    await using cluster = await startEtcd({ nodes: 3 });
    const proxies = await Promise.all(cluster.endpoints.map((endpoint) => faultProxy(endpoint)));
    const tally = { acked: 0, unknown: 0, failed: [] as string[] };
    const requestCounts: ReturnType<typeof countRequests>[] = [];
    const lostReplies = () => requestCounts.reduce((sum, counts) => sum + counts.failedTxn, 0);
    let stop = false;
    const workers = Array.from({ length: 4 }, async () => {
      const client = createClient({ endpoints: proxies.map((p) => p.endpoint), requestTimeout: 200 });
      requestCounts.push(countRequests(client));
      const counter = new CasCounter(client, name);
      while (!stop) {
        try {
          await counter.increment();
          tally.acked++;
        } catch (err) {
          if (CoordError.is(err, ErrorCodes.UNKNOWN_OUTCOME)) tally.unknown++;
          else tally.failed.push(CoordError.is(err) ? err.code : String(err));
        }
      }
      return { client, counter };
    });
    const progress = async (more: number, message: string) => {
      const target = tally.acked + more;
      await waitFor(() => tally.acked >= target, { timeout: 30_000, message });
    };
    let opened: Awaited<(typeof workers)[number]>[] = [];
    try {
      await progress(50, 'the first increments');
      // Replies now come after the 200 ms deadline: keep it so until a number of them were lost.
      const lostBefore = lostReplies();
      for (const proxy of proxies) proxy.delay(400);
      await waitFor(() => lostReplies() >= lostBefore + 12, {
        timeout: 20_000,
        message: 'replies to be lost',
      });
      for (const proxy of proxies) proxy.heal();
      await progress(50, 'increments after the delay healed');
      const leader = (await cluster.leaderIndex()) ?? 0;
      await cluster.kill(leader);
      await progress(50, 'increments after the leader was killed');
      await cluster.restart(leader);
      await progress(50, 'increments after the member came back');
    } finally {
      stop = true;
      opened = await Promise.all(workers);
    }
    try {
      using direct = testClient(cluster.endpoints);
      const final = countIn(await rawValue(direct, `${name}/value`));
      const history = incrementsIn(await keyHistory(direct, `${name}/value`));
      console.info(
        `acked ${tally.acked}, unknown ${tally.unknown}, failed ${tally.failed.length} (${[...new Set(tally.failed)]}), ` +
          `lost replies ${lostReplies()}, fences ${history.fences}, final ${final}`,
      );
      expect(lostReplies()).toBeGreaterThan(0);
      expect(final >= BigInt(tally.acked)).toBe(true);
      expect(final <= BigInt(tally.acked + tally.unknown)).toBe(true);
      // The key's history is one increment after another, each under its own op id (or a fence putting
      // the same bytes back), and there are exactly as many as the final value.
      expect(BigInt(history.increments)).toBe(final);
    } finally {
      for (const { counter, client } of opened) {
        await counter.close();
        client.close();
      }
      for (const proxy of proxies) await proxy.close();
    }
  });
});
