import { CasCounter } from '@coordkit/cas-counter';
import { CoordError, ErrorCodes, readPrefix } from '@coordkit/core';
import { uniquePrefix } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { countRequests, rawValue, readMarkers, testClient } from './helpers.js';

/** A fresh counter name under its own test prefix. */
function counterName(label: string): string {
  return `${uniquePrefix(label)}counter`;
}

describe('CasCounter on one key', () => {
  it('counts from 0n, adds negative deltas, and stores decimal strings etcdctl can read', async () => {
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
    expect(await rawValue(client, `${name}/value`)).toBe('999999999999999999999999999991');
    await using other = new CasCounter(client, name);
    expect(await other.get()).toBe(10n ** 30n - 9n);
  });

  it('sends exactly one transaction per uncontended increment, and no read', async () => {
    using client = testClient();
    const name = counterName('one-rpc');
    await using counter = new CasCounter(client, name);
    await counter.increment(); // grants the marker lease
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

  it('puts one leased marker per update, recording the value written, and revokes them on close', async () => {
    using client = testClient();
    const name = counterName('markers');
    const counter = new CasCounter(client, name);
    for (let i = 0; i < 5; i++) await counter.increment();
    const markers = await readMarkers(client, name);
    expect(markers.applied.length).toBe(5);
    expect(markers.appliedValues.sort()).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(new Set(markers.applied.map((kv) => kv.lease)).size).toBe(1);
    expect(markers.applied[0]?.lease).toBeDefined();
    await counter.close();
    await counter.close();
    expect((await readMarkers(client, name)).all).toEqual([]);
    expect(await rawValue(client, `${name}/value`)).toBe('5');
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
    expect(await rawValue(client, `${name}/value`)).toBe('-3');
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
    expect(await rawValue(client, `${name}/value`)).toBe('8');
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
  it('spreads adds over shard keys and sums them in get and in each add', async () => {
    using client = testClient();
    const name = counterName('sharded');
    await using counter = new CasCounter(client, name, { shards: 4 });
    await using other = new CasCounter(client, name, { shards: 4 });
    const returned: bigint[] = [];
    for (let i = 0; i < 40; i++) returned.push(await (i % 2 ? counter : other).add(2n));
    await counter.add(-5n);
    expect(await counter.get()).toBe(75n);
    expect(await other.get()).toBe(75n);
    // Each add saw the sum at its own revision, and they were sequential: 2, 4, ... 80.
    expect(returned).toEqual(Array.from({ length: 40 }, (_, i) => BigInt(2 * (i + 1))));
    const { kvs } = await readPrefix(client, `${name}/shard/`, 'test');
    expect(kvs.length).toBeGreaterThan(1);
    expect(kvs.every((kv) => /\/shard\/[0-3]$/.test(kv.key))).toBe(true);
    expect(await rawValue(client, `${name}/value`)).toBeNull();
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
    invalid(() => new CasCounter(client, `${prefix}c`, { markerTtl: 0 }), /markerTtl/);
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
