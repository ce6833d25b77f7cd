import { CasCounter, parseCounterValue } from '@coordkit/cas-counter';
import { CoordError, ErrorCodes, readPrefix } from '@coordkit/core';
import { uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { countIn, countRequests, incrementsIn, keyHistory, rawValue, testClient } from './helpers.js';

/** A fresh counter name under its own test prefix. */
function counterName(label: string): string {
  return `${uniquePrefix(label)}counter`;
}

describe('CasCounter on one key', () => {
  it('counts from 0n, adds negative deltas, and stores "<count> <op id>" that etcdctl shows as is', async () => {
    using client = testClient();
    const name = counterName('basic');
    await using counter = new CasCounter(client, name);
    expect(await counter.get()).toBe(0n);
    expect(await rawValue(client, `${name}/value`)).toBeNull();
    expect(await counter.increment()).toBe(1n);
    expect(await counter.add(41n)).toBe(42n);
    expect(await counter.decrement()).toBe(41n);
    expect(await counter.add(-50n)).toBe(-9n);
    expect(await counter.add(10n ** 30n)).toBe(10n ** 30n - 9n);
    expect(await rawValue(client, `${name}/value`)).toMatch(
      /^999999999999999999999999999991 [A-Za-z0-9_-]{12}\.[0-9a-z]+$/,
    );
    await using other = new CasCounter(client, name);
    expect(await other.get()).toBe(10n ** 30n - 9n);
  });

  it('sends exactly one transaction per uncontended increment, and no read', async () => {
    using client = testClient();
    const name = counterName('one-rpc');
    await using counter = new CasCounter(client, name);
    await counter.increment(); // the first update of an instance guesses the key absent
    const counts = countRequests(client);
    for (let i = 0; i < 50; i++) await counter.increment();
    expect(counts).toEqual({ txn: 50, range: 0, failedTxn: 0 });
    expect(await counter.get()).toBe(51n);
  });

  it('retries a stale update from the value its refused transaction returned, losing nothing', async () => {
    using client = testClient();
    const name = counterName('stale');
    await using a = new CasCounter(client, name);
    await using b = new CasCounter(client, name);
    expect(await a.add(5n)).toBe(5n);
    expect(await b.add(7n)).toBe(12n); // b first guesses "absent", is refused, then applies
    const counts = countRequests(client);
    expect(await a.add(1n)).toBe(13n); // a's known revision is stale: refused once, then applied
    expect(counts.txn).toBe(2);
    expect(counts.range).toBe(0);
  });

  it('writes the value key only, with no lease and a fresh op id per write; close() stops later calls', async () => {
    using client = testClient();
    const name = counterName('layout');
    const counter = new CasCounter(client, name);
    for (let i = 0; i < 5; i++) await counter.increment();
    const { kvs } = await readPrefix(client, name, 'test');
    expect(kvs.map((kv) => [kv.key, kv.lease])).toEqual([[`${name}/value`, undefined]]);
    expect(countIn(kvs[0]!.value.toString())).toBe(5n);
    // Five puts, each one increment under an op id of its own.
    expect(incrementsIn(await keyHistory(client, `${name}/value`))).toEqual({ increments: 5, fences: 0 });
    await counter.close();
    await counter.close();
    expect(countIn(await rawValue(client, `${name}/value`))).toBe(5n);
    await expect(counter.increment()).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.CLOSED));
  });

  it('compares and sets the value, treating a missing key as 0n', async () => {
    using client = testClient();
    const name = counterName('cas');
    await using counter = new CasCounter(client, name);
    expect(await counter.compareAndSet(1n, 5n)).toEqual({ ok: false, current: 0n });
    expect(await rawValue(client, `${name}/value`)).toBeNull();
    expect(await counter.compareAndSet(0n, 5n)).toEqual({ ok: true, value: 5n });
    expect(await counter.compareAndSet(0n, 6n)).toEqual({ ok: false, current: 5n });
    expect(await counter.compareAndSet(5n, -3n)).toEqual({ ok: true, value: -3n });
    expect(await rawValue(client, `${name}/value`)).toMatch(/^-3 \S+$/);
    // Another client moved the value on: a CAS from a stale instance sees the fresh value.
    await using other = new CasCounter(client, name);
    expect(await other.add(10n)).toBe(7n);
    expect(await counter.compareAndSet(-3n, 100n)).toEqual({ ok: false, current: 7n });
    expect(await counter.compareAndSet(7n, 0n)).toEqual({ ok: true, value: 0n });
    // An instance that never saw the key compares "0" by value, not by absence.
    await using fresh = new CasCounter(client, name);
    expect(await fresh.compareAndSet(0n, 1n)).toEqual({ ok: true, value: 1n });
    expect(await counter.get()).toBe(1n);
  });

  it('compares by value even when the stored string is not canonical', async () => {
    using client = testClient();
    const name = counterName('cas-raw');
    await client.put(`${name}/value`).value('007');
    await using counter = new CasCounter(client, name);
    expect(await counter.compareAndSet(7n, 8n)).toEqual({ ok: true, value: 8n });
    expect(await rawValue(client, `${name}/value`)).toMatch(/^8 \S+$/);
  });

  it('fails with CONFLICT once maxRetries refused attempts are spent, writing nothing', async () => {
    using client = testClient();
    const name = counterName('conflict');
    await using stale = new CasCounter(client, name, { maxRetries: 0 });
    await using other = new CasCounter(client, name);
    await stale.add(1n);
    await other.add(1n);
    await expect(stale.add(100n)).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.CONFLICT));
    expect(await other.get()).toBe(2n);
  });

  it('rejects a decimal-less value with DECODE_FAILED instead of overwriting it', async () => {
    using client = testClient();
    const name = counterName('garbage');
    await client.put(`${name}/value`).value('not a number');
    await using counter = new CasCounter(client, name);
    await expect(counter.get()).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.DECODE_FAILED));
    await expect(counter.increment()).rejects.toSatisfy((err) =>
      CoordError.is(err, ErrorCodes.DECODE_FAILED),
    );
    expect(await rawValue(client, `${name}/value`)).toBe('not a number');
  });

  it('keeps every increment of 8 contending clients in one process', async () => {
    const name = counterName('contended');
    const clients = Array.from({ length: 8 }, () => testClient());
    const counters = clients.map((client) => new CasCounter(client, name));
    try {
      const results = await Promise.all(
        counters.map(async (counter) => {
          const seen: bigint[] = [];
          for (let i = 0; i < 50; i++) seen.push(await counter.increment());
          return seen;
        }),
      );
      // Each increment returned the value right after it: all 400 distinct, exactly 1..400.
      const all = results.flat().sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
      expect(all).toEqual(Array.from({ length: 400 }, (_, i) => BigInt(i + 1)));
      expect(await counters[0]!.get()).toBe(400n);
    } finally {
      for (const counter of counters) await counter.close();
      for (const client of clients) client.close();
    }
  });
});

describe('CasCounter with shards', () => {
  it('keeps each instance on one shard, returning its count, and sums every shard in get', async () => {
    using client = testClient();
    const name = counterName('sharded');
    await using a = new CasCounter(client, name, { shards: 4 });
    await using b = new CasCounter(client, name, { shards: 4 });
    const counts = countRequests(client);
    const fromA: bigint[] = [];
    for (let i = 0; i < 10; i++) fromA.push(await a.add(2n));
    // Alone, an instance stays on its shard: one transaction per add, each returning that shard's count.
    expect(fromA).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(2 * (i + 1))));
    expect(counts.txn).toBe(10);
    const fromB: bigint[] = [];
    for (let i = 0; i < 5; i++) fromB.push(await b.add(3n));
    // b ends on another shard: a shard it finds in use is left for one no one wrote.
    expect(fromB).toEqual([3n, 6n, 9n, 12n, 15n]);
    await a.add(-5n);
    expect(await a.get()).toBe(30n);
    expect(await b.get()).toBe(30n);
    const { kvs } = await readPrefix(client, `${name}/shard/`, 'test');
    expect(kvs.map((kv) => countIn(kv.value.toString())).sort()).toEqual([15n, 15n]);
    expect(kvs.every((kv) => /\/shard\/[0-3]$/.test(kv.key))).toBe(true);
    expect(await rawValue(client, `${name}/value`)).toBeNull();
  });

  it('counts every add of 8 contending instances on 8 shards exactly', async () => {
    const name = counterName('sharded-contended');
    const clients = Array.from({ length: 8 }, () => testClient());
    const counters = clients.map((client) => new CasCounter(client, name, { shards: 8 }));
    try {
      await Promise.all(
        counters.map(async (counter) => {
          for (let i = 0; i < 25; i++) await counter.increment();
        }),
      );
      expect(await counters[0]!.get()).toBe(200n);
    } finally {
      for (const counter of counters) await counter.close();
      for (const client of clients) client.close();
    }
  });

  it('refuses compareAndSet with INVALID_ARGUMENT, writing nothing', async () => {
    using client = testClient();
    const name = counterName('sharded-cas');
    await using counter = new CasCounter(client, name, { shards: 8 });
    const err = await counter.compareAndSet(0n, 1n).catch((e: unknown) => e);
    expect(CoordError.is(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    expect((err as Error).message).toMatch(/compareAndSet.*sharded/);
    expect((await readPrefix(client, name, 'test')).kvs).toEqual([]);
  });
});

describe('parseCounterValue', () => {
  it('reads "<count> <op id>" and a plain decimal, and refuses anything else', () => {
    expect(parseCounterValue('42 Qm9xY2tpdF9q.4zk')).toEqual({ count: 42n, opId: 'Qm9xY2tpdF9q.4zk' });
    expect(parseCounterValue(Buffer.from('-7'))).toEqual({ count: -7n, opId: undefined });
    for (const bad of ['', '42 ', ' 42', '4 2 x', '0x10', 'forty-two', '42\n']) {
      expect(parseCounterValue(bad)).toBeUndefined();
    }
  });
});

describe('CasCounter input validation', () => {
  it('rejects bad names, shard counts, options and deltas before writing anything', async () => {
    using client = testClient();
    const prefix = uniquePrefix('invalid');
    const invalid = (fn: () => unknown, argument: RegExp) => {
      let thrown: unknown;
      try {
        fn();
      } catch (err) {
        thrown = err;
      }
      expect(CoordError.is(thrown, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
      expect((thrown as Error).message).toMatch(argument);
    };
    invalid(() => new CasCounter(client, ''), /counter name/);
    invalid(() => new CasCounter(client, `${prefix}c/`), /counter name/);
    invalid(() => new CasCounter(client, `${prefix}c`, { shards: 0 }), /shards/);
    invalid(() => new CasCounter(client, `${prefix}c`, { shards: 257 }), /shards/);
    invalid(() => new CasCounter(client, `${prefix}c`, { shards: 1.5 }), /shards/);
    invalid(() => new CasCounter(client, `${prefix}c`, { maxRetries: -1 }), /maxRetries/);
    invalid(() => new CasCounter(client, `${prefix}c`, { timeout: Number.NaN }), /timeout/);
    // Options of the op-marker design are still accepted (and ignored), so old callers keep working.
    expect(new CasCounter(client, `${prefix}c`, { markerTtl: 30 }).shards).toBe(1);
    await using counter = new CasCounter(client, `${prefix}c`);
    const asAny = counter as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    for (const call of [
      () => asAny.add!(1),
      () => asAny.add!('1'),
      () => asAny.add!(undefined),
      () => asAny.compareAndSet!(0, 1n),
      () => asAny.compareAndSet!(0n, 1),
    ]) {
      await expect(call()).rejects.toSatisfy((err) => CoordError.is(err, ErrorCodes.INVALID_ARGUMENT));
    }
    expect((await readPrefix(client, prefix, 'test')).kvs).toEqual([]);
  });
});
