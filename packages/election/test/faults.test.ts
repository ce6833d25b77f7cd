import { CoordError, ErrorCodes } from '@coordkit/core';
import { Election } from '@coordkit/election';
import { faultProxy, sharedEndpoints, startEtcd, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { assertMonotonic, contender, describeHistory, keysUnder, recordObserver } from './helpers.js';
import { currentRevision } from './history.js';

describe('Election under faults', () => {
  it('an observer behind resets never goes back in time, misses nothing and repeats nothing (F3, F11)', async () => {
    const name = `${uniquePrefix('elect-reset')}election`;
    const [endpoint] = sharedEndpoints();
    await using proxy = await faultProxy(endpoint!);
    await using watcher = await contender({}, { endpoints: [proxy.endpoint] });
    await using a = await contender();
    await using b = await contender();
    const observer = recordObserver(watcher.session, name);
    await waitFor(() => observer.history.length === 1, { message: 'first observation' });

    const first = await new Election(a.session, name).campaign('a');
    proxy.reset();
    const waiting = new Election(b.session, name).campaign('b');
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, { message: 'b queued' });
    await first.proclaim('a2');
    proxy.reset();
    await first.resign();
    const second = await waiting;
    proxy.reset();
    await second.proclaim('b2');
    await second.proclaim('b3');
    proxy.reset();
    await second.resign();
    await waitFor(() => observer.history.length >= 7 && observer.history.at(-1) === undefined, {
      timeout: 15_000,
      message: 'every change observed',
    });
    await observer.stop();
    expect(describeHistory(observer.history)).toEqual([
      '-',
      `a@${first.fencingToken}`,
      `a2@${first.fencingToken}`,
      `b@${second.fencingToken}`,
      `b2@${second.fencingToken}`,
      `b3@${second.fencingToken}`,
      '-',
    ]);
    assertMonotonic(observer.history);
    // The leadership itself survived the resets (shorter than its TTL): no spurious loss.
    expect(watcher.session.isAlive()).toBe(true);
  });

  it('an observer and a leader survive the kill of the member they talk to in a 3-node cluster (F5, F6)', async () => {
    await using cluster = await startEtcd({ nodes: 3 });
    const name = `${uniquePrefix('elect-member-kill')}election`;
    // Each client talks to one member at first: the observer to member 0, candidates to member 1 and 2.
    const reorder = (first: number) => [
      cluster.endpoints[first]!,
      ...cluster.endpoints.filter((_, i) => i !== first),
    ];
    await using watcher = await contender({ ttl: 5 }, { endpoints: reorder(0), requestTimeout: 2000 });
    await using a = await contender({ ttl: 5 }, { endpoints: reorder(1), requestTimeout: 2000 });
    await using b = await contender({ ttl: 5 }, { endpoints: reorder(2), requestTimeout: 2000 });
    const observer = recordObserver(watcher.session, name);
    await waitFor(() => observer.history.length === 1, { message: 'first observation' });

    const first = await new Election(a.session, name).campaign('a');
    const waiting = new Election(b.session, name).campaign('b');
    await waitFor(async () => (await keysUnder(a.client, `${name}/`)).length === 2, { message: 'b queued' });
    await cluster.kill(0);
    await first.proclaim('a2');
    await cluster.restart(0);
    await cluster.kill(1);
    await first.resign();
    const second = await waiting;
    await second.proclaim('b2');
    await cluster.restart(1);
    await second.resign();
    await waitFor(() => observer.history.length >= 5 && observer.history.at(-1) === undefined, {
      timeout: 20_000,
      message: 'every change observed',
    });
    await observer.stop();
    expect(describeHistory(observer.history)).toEqual([
      '-',
      `a@${first.fencingToken}`,
      `a2@${first.fencingToken}`,
      `b@${second.fencingToken}`,
      `b2@${second.fencingToken}`,
      '-',
    ]);
    assertMonotonic(observer.history);
    expect(first.signal.reason).toMatchObject({ code: ErrorCodes.NOT_LEADER });
  });

  it('an observer cut off across a compaction re-reads and re-derives the leader, never an older one (F9)', async () => {
    // Its own etcd: compacting the shared one would cut the history other tests replay.
    await using cluster = await startEtcd({ nodes: 1 });
    const name = `${uniquePrefix('elect-compact')}election`;
    await using proxy = await faultProxy(cluster.endpoints[0]!);
    await using watcher = await contender({}, { endpoints: [proxy.endpoint] });
    await using a = await contender({}, { endpoints: cluster.endpoints });
    await using b = await contender({}, { endpoints: cluster.endpoints });
    const observer = recordObserver(watcher.session, name);
    await waitFor(() => observer.history.length === 1, { message: 'first observation' });
    const first = await new Election(a.session, name).campaign('a');
    await waitFor(() => observer.history.length === 2, { message: 'a observed' });

    proxy.blackhole();
    await first.proclaim('a2');
    await first.resign();
    const second = await new Election(b.session, name).campaign('b');
    const revision = await currentRevision(a.client);
    const compacted = await cluster.etcdctl(['compact', String(revision)]);
    expect(compacted.code, compacted.stderr).toBe(0);
    // The observer's watch must resume from a compacted revision: it resyncs instead of failing.
    proxy.reset();
    proxy.heal();
    await waitFor(() => observer.history.at(-1)?.value === 'b', { timeout: 15_000, message: 'b observed' });
    await second.resign();
    await waitFor(() => observer.history.at(-1) === undefined, { message: 'no leader observed' });
    await observer.stop();
    // a2 happened while cut off and was compacted away: the observer jumps from a to b, never back.
    expect(describeHistory(observer.history)).toEqual([
      '-',
      `a@${first.fencingToken}`,
      `b@${second.fencingToken}`,
      '-',
    ]);
    assertMonotonic(observer.history);
  });

  it('resign while etcd is unreachable rejects with UNAVAILABLE, keeps its state, and a retry works', async () => {
    const name = `${uniquePrefix('elect-resign-cut')}election`;
    const [endpoint] = sharedEndpoints();
    await using proxy = await faultProxy(endpoint!);
    await using a = await contender({ ttl: 10 }, { endpoints: [proxy.endpoint], requestTimeout: 500 });
    await using b = await contender();
    const leadership = await new Election(a.session, name).campaign('a');
    const waiting = new Election(b.session, name).campaign('b');
    await waitFor(async () => (await keysUnder(b.client, `${name}/`)).length === 2, { message: 'b queued' });

    proxy.blackhole();
    const failed = await leadership.resign({ timeout: 300 }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(CoordError.is(failed, ErrorCodes.UNAVAILABLE)).toBe(true);
    expect(leadership.signal.aborted).toBe(true);
    expect(leadership.isLeader()).toBe(false);
    // Blackholed requests were held, not dropped: the key may come back only once the proxy heals.
    proxy.heal();
    await leadership.resign();
    await using next = await waiting;
    expect(next.value).toBe('b');
    expect((await keysUnder(b.client, `${name}/`)).map((kv) => kv.value)).toEqual(['b']);
    expect(a.session.isAlive()).toBe(true);
  });
});
