import {
  CoordError,
  createClient,
  ErrorCodes,
  idempotent,
  monotonicNow,
  validateName,
  writeOnce,
} from '@coordkit/core';
import { faultProxy, sharedEndpoints, uniquePrefix, waitFor } from '@coordkit/testing';
import { describe, expect, it } from 'vitest';
import { sharedClient } from './helpers.js';

describe('requests', () => {
  it('F12: a write whose reply is delayed past its deadline is reported UNKNOWN_OUTCOME and applied once', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint], requestTimeout: 300 });
    using reader = sharedClient();
    const key = `${uniquePrefix('f12')}k`;
    try {
      await client.get('warm-up').string();
      proxy.delay(600);
      const error = await writeOnce('put k', () =>
        client.kv.put({ key: Buffer.from(key), value: Buffer.from('1') }),
      ).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(CoordError.is(error, ErrorCodes.UNKNOWN_OUTCOME)).toBe(true);
      expect((error as CoordError).message).toMatch(/may or may not/);
      proxy.heal();
      // The write did land (its reply was lost), exactly once: version 1, not re-sent behind our back.
      await waitFor(async () => (await reader.get(key).exec()).kvs.length === 1, { timeout: 3000 });
      const kv = (await reader.get(key).exec()).kvs[0]!;
      expect(kv.version).toBe('1');
    } finally {
      client.close();
    }
  });

  it('recovers within a second after a blackhole is healed', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint], requestTimeout: 300 });
    try {
      await client.get('warm-up').string();
      proxy.blackhole();
      // While blackholed, reads fail (retries are bounded by the caller's signal, whose reason wins).
      await expect(
        idempotent('get', () => client.kv.range({ key: Buffer.from('x') }), AbortSignal.timeout(1200)),
      ).rejects.toThrow();
      proxy.heal();
      const healedAt = monotonicNow();
      await waitFor(
        async () => {
          try {
            await client.kv.range({ key: Buffer.from('x') });
            return true;
          } catch {
            return false;
          }
        },
        { timeout: 5000, interval: 20 },
      );
      expect(monotonicNow() - healedAt).toBeLessThan(1000);
    } finally {
      client.close();
    }
  });

  it('retries idempotent reads through a reset connection', async () => {
    await using proxy = await faultProxy(sharedEndpoints()[0]!);
    const client = createClient({ endpoints: [proxy.endpoint] });
    try {
      await client.get('warm-up').string();
      proxy.reset();
      const response = await idempotent('get', () => client.kv.range({ key: Buffer.from('nothing-here') }));
      expect(response.kvs).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('validates names with INVALID_ARGUMENT naming the argument', () => {
    expect(() => validateName('', 'lock')).toThrow(/invalid lock name/);
    expect(() => validateName('a/', 'lock')).toThrow(/must not end with/);
    expect(() => validateName('x'.repeat(600), 'queue')).toThrow(/at most 512/);
    expect(() => validateName('bad\nname', 'election')).toThrow(/control characters/);
    expect(validateName('jobs/nightly', 'lock')).toBe('jobs/nightly');
    try {
      validateName(42, 'lock');
    } catch (err) {
      expect(CoordError.is(err, ErrorCodes.INVALID_ARGUMENT)).toBe(true);
    }
  });
});
