import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { CasCounter, update } from '@coordkit/cas-counter';
import { CoordError, ErrorCodes, readPrefix } from '@coordkit/core';
import { sharedEndpoints, startEtcd, uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { countIn, countRequests, keyHistory, loseReply, rawValue, testClient } from './helpers.js';

/** A fresh counter name under its own test prefix. */
function counterName(label: string): string {
  return `${uniquePrefix(label)}counter`;
}

/** The counts stored by each write to `key` since `fromRevision`, oldest first. */
async function countsWritten(client: Parameters<typeof keyHistory>[0], key: string, fromRevision = 1n) {
  return (await keyHistory(client, key, fromRevision)).map((write) => countIn(write.value ?? null));
}

describe('CasCounter resolving a lost reply through the op id in the value (F12)', () => {
  it('fences an add that never reached etcd, retries it once, and the request delivered late is refused', async () => {
    using client = testClient();
    using other = testClient();
    const name = counterName('fenced');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    expect(await counter.add(2n)).toBe(2n);
    const before = await rawValue(client, key);
    const lost = loseReply(client, { key, mode: 'held' });
    const counts = countRequests(client);
    expect(await counter.add(5n)).toBe(7n);
    expect(lost.lost()).toBe(1);
    // The held attempt, the fence (applied), the retry.
    expect(counts.txn).toBe(3);
    // The fence put the old bytes back, op id and all, so the mod revision moved on...
    const history = await keyHistory(other, key);
    expect(history.map((write) => write.value)).toEqual([before, before, expect.stringMatching(/^7 /)]);
    // ...and the lost request, should the network deliver it now, can no longer apply.
    expect((await lost.deliverLate()).succeeded).toBe(false);
    expect(countIn(await rawValue(other, key))).toBe(7n);
  });

  it('finds an add that applied in the current value, and sends nothing more', async () => {
    using client = testClient();
    const name = counterName('applied');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    await counter.add(2n);
    const lost = loseReply(client, { key, mode: 'applied' });
    const counts = countRequests(client);
    expect(await counter.add(5n)).toBe(7n);
    expect(lost.lost()).toBe(1);
    expect(counts.txn).toBe(2); // the add, the fence (refused: the key moved on, to this add's value)
    expect(await countsWritten(client, key)).toEqual([2n, 7n]);
    // The instance knows where the key is: the next add is one transaction again.
    expect(await counter.increment()).toBe(8n);
    expect(counts.txn).toBe(3);
  });

  it('finds an add that applied and was overwritten by another writer in the key history', async () => {
    using client = testClient();
    using otherClient = testClient();
    const name = counterName('overwritten');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    await using other = new CasCounter(otherClient, name);
    await counter.add(2n);
    loseReply(client, { key, mode: 'applied', meanwhile: async () => void (await other.add(10n)) });
    // The value right after this add was 7; the other writer's add came after it.
    expect(await counter.add(5n)).toBe(7n);
    expect(await countsWritten(client, key)).toEqual([2n, 7n, 17n]);
    expect(await counter.get()).toBe(17n);
  });

  it('finds in the key history that an add did not apply when another writer changed the key first', async () => {
    using client = testClient();
    using otherClient = testClient();
    const name = counterName('not-applied');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    await using other = new CasCounter(otherClient, name);
    await counter.add(2n);
    const lost = loseReply(client, { key, mode: 'held', meanwhile: async () => void (await other.add(10n)) });
    // Fence refused (the key moved on), the current value is the other writer's, and so is the first
    // change after this add's base revision: not applied, so it is retried on top of 12.
    expect(await counter.add(5n)).toBe(17n);
    expect((await lost.deliverLate()).succeeded).toBe(false);
    expect(await countsWritten(client, key)).toEqual([2n, 12n, 17n]);
  });

  it('finds a lost create in the history from the revision the key was seen missing at', async () => {
    using client = testClient();
    using otherClient = testClient();
    const name = counterName('create');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    await using other = new CasCounter(otherClient, name);
    expect(await counter.get()).toBe(0n);
    loseReply(client, { key, mode: 'applied', meanwhile: async () => void (await other.add(10n)) });
    expect(await counter.add(5n)).toBe(5n);
    expect(await countsWritten(client, key)).toEqual([5n, 15n]);
  });

  it('fences a lost create by putting "0", which the create can no longer apply over', async () => {
    using client = testClient();
    const name = counterName('create-fenced');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    const lost = loseReply(client, { key, mode: 'held' });
    expect(await counter.add(5n)).toBe(5n);
    expect((await keyHistory(client, key)).map((write) => write.value)).toEqual([
      '0',
      expect.stringMatching(/^5 /),
    ]);
    expect((await lost.deliverLate()).succeeded).toBe(false);
    expect(await counter.get()).toBe(5n);
  });

  it('reports a compareAndSet that applied and was then overwritten as applied, never as failed', async () => {
    using client = testClient();
    using otherClient = testClient();
    const name = counterName('cas');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    await using other = new CasCounter(otherClient, name);
    await counter.add(2n);
    loseReply(client, { key, mode: 'applied', meanwhile: async () => void (await other.add(1n)) });
    expect(await counter.compareAndSet(2n, 100n)).toEqual({ ok: true, value: 100n });
    expect(await countsWritten(client, key)).toEqual([2n, 100n, 101n]);
  });

  it('rejects with UNKNOWN_OUTCOME, and never re-sends, when the history needed was compacted', async () => {
    await using cluster = await startEtcd({ nodes: 1 });
    using client = testClient(cluster.endpoints);
    using otherClient = testClient(cluster.endpoints);
    const name = counterName('compacted');
    const key = `${name}/value`;
    await using counter = new CasCounter(client, name);
    await using other = new CasCounter(otherClient, name);
    await counter.add(2n);
    loseReply(client, {
      key,
      mode: 'applied',
      async meanwhile() {
        await other.add(10n);
        // Compacting up to the other writer's add erases the change right after this add's base.
        const revision = (await otherClient.kv.range({ key: Buffer.from(key) })).header.revision;
        await otherClient.kv.compact({ revision, physical: true });
      },
    });
    const err = await counter.add(5n).catch((e: unknown) => e);
    expect(CoordError.is(err, ErrorCodes.UNKNOWN_OUTCOME)).toBe(true);
    expect((err as CoordError).compactRevision).toBeGreaterThan(0n);
    // It did apply, once: 2 + 5 + 10. A retry would have made it 22.
    expect(await other.get()).toBe(17n);
  });

  it('leaves a lost reply to the caller as UNKNOWN_OUTCOME when update() is given no opIdOf', async () => {
    using client = testClient();
    const key = `${uniquePrefix('update')}key`;
    loseReply(client, { key, mode: 'applied' });
    const err = await update(client, key, () => 'v1').catch((e: unknown) => e);
    expect(CoordError.is(err, ErrorCodes.UNKNOWN_OUTCOME)).toBe(true);
    expect(await rawValue(client, key)).toBe('v1');
  });
});

describe('CasCounter reading values it did not write', () => {
  it('reads a plain decimal put by etcdctl, adds to it, and compares against it', async () => {
    using client = testClient();
    const name = counterName('etcdctl');
    const key = `${name}/value`;
    const etcdctl = (...args: string[]) =>
      promisify(execFile)('etcdctl', ['--endpoints', sharedEndpoints().join(','), ...args], {
        env: { ...process.env, ETCDCTL_API: '3' },
      });
    await etcdctl('put', '--', key, '41');
    await using counter = new CasCounter(client, name);
    expect(await counter.get()).toBe(41n);
    expect(await counter.increment()).toBe(42n);
    expect((await etcdctl('get', '--print-value-only', key)).stdout).toMatch(/^42 \S+\n$/);
    await etcdctl('put', '--', key, '-7');
    expect(await counter.compareAndSet(-7n, 3n)).toEqual({ ok: true, value: 3n });
    await etcdctl('put', `${name}/shard/0`, '10');
    await etcdctl('put', `${name}/shard/1`, '5');
    await using sharded = new CasCounter(client, name, { shards: 2 });
    expect(await sharded.get()).toBe(15n);
    await sharded.add(1n);
    expect(await sharded.get()).toBe(16n);
    expect((await readPrefix(client, `${name}/shard/`, 'test')).kvs.length).toBe(2);
  });
});
